"""Train the offline demo Gemma 4 (`nbhelpers/demo-gemma4`) and write it as a hub snapshot.

The committed model in `nbhelpers/demos/data/demo-gemma4` is what

    python -m tools.train_demo_gemma4 --out nbhelpers/demos/data/demo-gemma4

wrote (seed 0; its time is in its card). The model is a `Gemma4ForConditionalGeneration` with Gemma 4's patch and
pooling sizes (16-pixel patches, 3 x 3 pooled into one soft token), so a budget of `max_soft_tokens` reads a
picture at the resolution it does on the real model, with a small vision tower and language model
(`nbhelpers.demos.gemma4.DEMO_VISION`, `DEMO_TEXT`) and the demo family's tokenizer with Gemma 4's markers.

Three phases, from scratch:
- the vision tower alone, on 96 x 96 crops of one shape (a temporary head on the mean of its soft tokens names the
  colour and shape), as real VLMs start from a pretrained tower;
- the whole model on pictures of one small shape anywhere on a large canvas (`nbhelpers.demos.scenes`; radius 0.6 %
  to 6 % of the side), at budgets of 70, 140 and 280 soft tokens in turn (4 pictures a step at 280, 16 below: the
  tower's cost grows with the square of its patches), answering "describe the picture." ("a red
  circle."), with two temporary heads on the tower's soft tokens (each token names the shape whose centre it holds;
  their mean names the shape) so that the tower keeps seeing while the language model learns to read it;
- clips and pictures taking turns: one shape that changes colour once (`draw_clip`), "describe the video." -> "a
  red circle turning blue.".

Probes that did not work, for the record: the whole model from scratch on pictures of one to three shapes named
top to bottom, at budgets 70 and 140, stayed at chance (loss 0.47 per answer token, colour and shape unread) after
700 steps (13 minutes); with one shape, colour was read after 250 steps and shape not after 600. The tower's
crop phase (3000 steps, 2.3 minutes, 97 % of crops right) is what made shapes readable. A run trained at budget 70
only (1500 steps) then read colour worse at 280 than at 70 (75 % against 78-100 %): a budget it never saw. Its
clips showed a shape crossing the frame; after 600 steps it named the direction of 32 % of them (chance: 25 %),
so clips now show a change of colour, which the model can read from two frames.

Pictures are prepared as GenAI prepares them for Gemma 4 (transformers' `Gemma4ImageProcessorPil`; the prompt's
`<|image|>` becomes `<|image>`, one `<|image|>` per soft token, `<image|>`), and clips as GenAI prepares a video for
Gemma 4 (read in its `visual_language/gemma4/classes.cpp`; transformers' own video processor needs torchvision):
the kept frames are `floor(i * frames / kept)`, each resized like a picture at the video processor's budget of 70
soft tokens, and the prompt's `<|video|>` becomes, for each frame, its time "MM:SS", `<|image>`, one `<|video|>`
per soft token, `<image|>`, frames joined by spaces. `tests/test_demo_gemma4_trained.py` checks that GenAI then
writes what PyTorch writes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.demos import model_card
from nbhelpers.demos.gemma4 import DEMO_TEXT, DEMO_VISION, build_tokenizer, make_model, processor_config
from nbhelpers.demos.scenes import MAX_SHAPES, draw_clip, draw_scene, parse_clip_caption, parse_scene_caption
from nbhelpers.demos.shapes import COLOURS, SHAPES
from tools.training import lr_at, optimizer_step, pad_examples

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import PreTrainedTokenizerFast

VISION_STEPS = 3000  # the vision tower alone, on crops
STEPS = 1200  # the whole model on pictures
VIDEO_STEPS = 400  # then clips and pictures, taking turns
TRAIN_BUDGETS = (70, 140, 280)  # soft tokens, in turn; a step at 280 takes BATCH_280 pictures (its tower's cost)
BATCH_280 = 4
SHAPE_FRACTIONS = (0.006, 0.06)  # the training pictures' shape radius, as a share of the picture's side
GRADE_BUDGETS = (70, 140, 280)
GRADE_FRACTIONS = (0.008, 0.012, 0.02)  # the held-out pictures' shape sizes
QUESTION = "describe the picture."
EVAL_PICTURES = 60
VIDEO_QUESTION = "describe the video."
VIDEO_BUDGET = 70  # soft tokens per frame: Gemma 4's video processor default
CLIP_FRAMES = 6
CLIP_FPS = 2.0


def prompt(tokenizer: PreTrainedTokenizerFast, soft_tokens: int, question: str = QUESTION) -> str:
    """The prompt GenAI builds for a picture and `question`: the chat template, the picture expanded."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": "<|image|>" + question}], tokenize=False,
                                         add_generation_prompt=True)
    return text.replace("<|image|>", "<|image>" + "<|image|>" * soft_tokens + "<image|>")


def pictures(images: Sequence[Image.Image], budget: int) -> dict[str, Any]:
    """Gemma 4's pixel values, patch positions and soft-token counts for `images` at `budget`."""
    from transformers import Gemma4ImageProcessorPil

    return Gemma4ImageProcessorPil(max_soft_tokens=budget)(list(images), return_tensors="pt")


def cell_targets(scene_centres: list[list[tuple[float, float, int]]], positions: torch.Tensor,
                 sizes: list[tuple[int, int]]) -> torch.Tensor:
    """For each picture's soft tokens (raster order, valid ones only), the class of the shape whose centre lies in
    the token's 48-pixel cell: 0 for none, else 1 + colour x len(SHAPES) + shape."""
    import torch

    targets = []
    for centres, pos, (width, height) in zip(scene_centres, positions, sizes, strict=True):
        valid = pos[(pos >= 0).all(-1)]
        cols, rows = (int(valid[:, 0].max()) + 1) // 3, (int(valid[:, 1].max()) + 1) // 3
        cells = torch.zeros(rows * cols, dtype=torch.long)
        for cx, cy, cls in centres:
            col, row = min(int(cx / width * cols), cols - 1), min(int(cy / height * rows), rows - 1)
            cells[row * cols + col] = cls
        targets.append(cells)
    return torch.cat(targets)


def batch(tokenizer: PreTrainedTokenizerFast, rng: random.Random, size: int, budget: int) -> dict[str, Any]:
    """A batch of `size` fresh pictures at `budget`: model inputs with labels, the soft tokens' cell targets, each
    picture's shapes in order (its slots, 0 where there is none) and its soft-token count."""
    import torch

    colours = list(COLOURS)
    rows, images, centres = [], [], []
    for _ in range(size):
        image, scene, where = draw_scene(rng, pixels=rng.choice((150_000, 400_000, 900_000)), count=1,
                                         side_fraction=rng.uniform(*SHAPE_FRACTIONS), with_centres=True)
        images.append(image)
        centres.append([(x, y, 1 + colours.index(s.colour) * len(SHAPES) + SHAPES.index(s.shape))
                        for (x, y), s in zip(where, scene.shapes, strict=True)])
        rows.append(scene.caption)
    pixels = pictures(images, budget)
    examples = []
    for caption, n in zip(rows, pixels["num_soft_tokens_per_image"], strict=True):
        ids = tokenizer(prompt(tokenizer, int(n)), add_special_tokens=False)["input_ids"]
        answer = tokenizer(caption + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        examples.append((ids + answer, [-100] * len(ids) + answer))
    input_ids, labels, mask = pad_examples(examples, tokenizer.pad_token_id)
    targets = cell_targets(centres, pixels["image_position_ids"], [im.size for im in images])
    slots = torch.tensor([[c for _, _, c in where] + [0] * (MAX_SHAPES - len(where)) for where in centres])
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask, "pixel_values": pixels["pixel_values"],
            "image_position_ids": pixels["image_position_ids"], "cells": targets, "slots": slots,
            "counts": pixels["num_soft_tokens_per_image"].tolist()}


CROP = 96  # pixels: the vision tower's first lessons are 6 x 6 patches, one shape each


def crops(rng: random.Random, size: int) -> tuple[Any, Any, Any]:
    """`size` small pictures of one shape each (radius 5 to 14 pixels, anywhere), as the vision tower takes them:
    patches (pixels / 255, as Gemma 4's processor leaves them), patch positions, and each shape's class."""
    import torch
    from PIL import Image, ImageDraw
    from transformers.models.gemma4.image_processing_pil_gemma4 import convert_image_to_patches

    from nbhelpers.demos.scenes import paint
    from nbhelpers.demos.shapes import random_shape

    patches, classes = [], []
    for _ in range(size):
        shape = random_shape(rng)
        grey = rng.randint(210, 250)
        image = Image.new("RGB", (CROP, CROP), tuple(min(255, grey + rng.randint(-10, 5)) for _ in range(3)))
        r = rng.uniform(5, 14)
        cx, cy = rng.uniform(r, CROP - r), rng.uniform(r, CROP - r)
        fill = tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in COLOURS[shape.colour])
        paint(ImageDraw.Draw(image), shape.shape, cx, cy, r, fill)
        pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255
        patches.append(convert_image_to_patches(pixels, 16))
        classes.append(list(COLOURS).index(shape.colour) * len(SHAPES) + SHAPES.index(shape.shape))
    side = CROP // 16
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="xy"), -1).reshape(-1, 2)
    positions = torch.from_numpy(np.broadcast_to(grid, (size, *grid.shape)).copy())
    return torch.from_numpy(np.stack(patches)), positions, torch.tensor(classes)


def pretrain_vision(model: Any, steps: int, seed: int = 0, batch_size: int = 64, lr: float = 2e-3,
                    progress: Callable[[int, float, float], None] | None = None) -> None:
    """Teach the vision tower to see small shapes first, as LLaVA and Gemma start from a pretrained tower: a
    temporary linear head on the mean of a crop's soft tokens names its colour and shape. The head is discarded."""
    import torch
    import torch.nn.functional as F

    rng = random.Random(seed + 3)
    tower = model.model.vision_tower
    head = torch.nn.Linear(tower.config.hidden_size, len(COLOURS) * len(SHAPES))
    opt = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=lr, weight_decay=0.01)
    tower.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        patches, positions, classes = crops(rng, batch_size)
        tokens = tower(pixel_values=patches, pixel_position_ids=positions).last_hidden_state
        logits = head(tokens.view(batch_size, -1, tokens.shape[-1]).mean(1))
        loss = F.cross_entropy(logits, classes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step, loss.item(), (logits.argmax(-1) == classes).float().mean().item())


def train(model: Any, tokenizer: PreTrainedTokenizerFast, steps: int, seed: int = 0, batch_size: int = 16,
          lr: float = 2e-3, progress: Callable[[int, float, float], None] | None = None) -> float:
    """Train on fresh pictures (language-model loss plus the soft tokens' cell loss); return the last loss."""
    import torch
    import torch.nn.functional as F

    rng = random.Random(seed)
    classes = 1 + len(COLOURS) * len(SHAPES)
    head = torch.nn.Linear(model.config.vision_config.hidden_size, classes)
    slot_head = torch.nn.Linear(model.config.vision_config.hidden_size, MAX_SHAPES * classes)
    seen: dict[str, torch.Tensor] = {}
    hook = model.model.vision_tower.register_forward_hook(
        lambda _m, _i, out: seen.__setitem__("tokens", out.last_hidden_state))
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters(), *slot_head.parameters()], lr=lr,
                            weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    loss_value = float("nan")
    try:
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr_at(step, steps, lr)
            budget = TRAIN_BUDGETS[step % len(TRAIN_BUDGETS)]
            inputs = batch(tokenizer, rng, BATCH_280 if budget == 280 else batch_size, budget)
            cells, slots, counts = inputs.pop("cells"), inputs.pop("slots"), inputs.pop("counts")
            lm_loss = model(**inputs).loss
            cell_loss = F.cross_entropy(head(seen["tokens"]), cells)
            means = torch.stack([t.mean(0) for t in seen["tokens"].split(counts)])
            cell_loss = cell_loss + F.cross_entropy(slot_head(means).view(-1, classes), slots.view(-1))
            loss_value = optimizer_step(opt, lm_loss + cell_loss, model)
            if progress is not None:
                progress(step, lm_loss.item(), cell_loss.item())
    finally:
        hook.remove()
    model.eval()
    return loss_value


def answer(model: Any, tokenizer: PreTrainedTokenizerFast, image: Image.Image, budget: int,
           max_new_tokens: int = 40) -> str:
    """The model's greedy answer to QUESTION about `image` at `budget`, in PyTorch."""
    import torch

    pixels = pictures([image], budget)
    ids = tokenizer(prompt(tokenizer, int(pixels["num_soft_tokens_per_image"][0])), add_special_tokens=False,
                    return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(input_ids=ids, pixel_values=pixels["pixel_values"],
                             image_position_ids=pixels["image_position_ids"], max_new_tokens=max_new_tokens,
                             do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def graded_scenes(n: int, side_fraction: float, seed: int = 1234) -> list[Any]:
    """`n` held-out pictures (seed `seed`) of one shape, radius `side_fraction` of the side, with their scenes."""
    rng = random.Random(seed)
    return [draw_scene(rng, pixels=400_000, count=1, side_fraction=side_fraction) for _ in range(n)]


def grade(said: Sequence[str], scenes: Sequence[Any]) -> dict[str, float]:
    """Shares of answers naming the picture's shape exactly, and its colour."""
    read = [parse_scene_caption(text) or () for text in said]
    return {"exact": sum(r == s.shapes for r, (_, s) in zip(read, scenes, strict=True)) / len(scenes),
            "colour": sum(r[:1] != () and r[0].colour == s.shapes[0].colour
                          for r, (_, s) in zip(read, scenes, strict=True)) / len(scenes)}


def evaluate(model: Any, tokenizer: PreTrainedTokenizerFast, n: int = EVAL_PICTURES) -> dict[str, dict[str, float]]:
    """Shares of held-out pictures captioned exactly and of colours right, by shape size and budget (PyTorch)."""
    report: dict[str, dict[str, float]] = {}
    for fraction in GRADE_FRACTIONS:
        scenes = graded_scenes(n, fraction)
        for budget in GRADE_BUDGETS:
            report[f"{fraction:g} @ {budget}"] = grade([answer(model, tokenizer, p, budget) for p, _ in scenes], scenes)
    return report


def timestamp(index: int, fps: float) -> str:
    """A frame's time as Gemma 4's processor writes it before the frame: MM:SS."""
    seconds = int(index / fps)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def sampled(total: int, count: int) -> list[int]:
    """The frames Gemma 4's video processor keeps of `total` when asked for `count`: floor(i * total / count)."""
    kept = min(count, total)
    return [int(i * total / kept) for i in range(kept)]


def video_prompt(tokenizer: PreTrainedTokenizerFast, soft_tokens: int, indices: Sequence[int],
                 question: str = VIDEO_QUESTION, fps: float = CLIP_FPS) -> str:
    """The prompt GenAI builds for a clip: each kept frame as "MM:SS <|image>", its soft tokens, "<image|>"."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": "<|video|>" + question}], tokenize=False,
                                         add_generation_prompt=True)
    frames = " ".join(f"{timestamp(i, fps)} <|image>" + "<|video|>" * soft_tokens + "<image|>" for i in indices)
    return text.replace("<|video|>", frames, 1)


def clip_pixels(clips: Sequence[Any], indices: Sequence[int]) -> dict[str, Any]:
    """pixel_values_videos and video_position_ids (clips x frames x patches x ...) of the kept frames, and the soft
    tokens per frame, at VIDEO_BUDGET."""
    from PIL import Image

    frames = [Image.fromarray(clip[i]) for clip in clips for i in indices]
    out = pictures(frames, VIDEO_BUDGET)
    shape = (len(clips), len(indices))
    return {"pixel_values_videos": out["pixel_values"].reshape(*shape, *out["pixel_values"].shape[1:]),
            "video_position_ids": out["image_position_ids"].reshape(*shape, *out["image_position_ids"].shape[1:]),
            "soft_tokens": int(out["num_soft_tokens_per_image"][0])}


def clip_batch(tokenizer: PreTrainedTokenizerFast, rng: random.Random, size: int) -> dict[str, Any]:
    """A batch of `size` fresh clips, each seen through the same random number of frames (2 to CLIP_FRAMES)."""
    drawn = [draw_clip(rng, CLIP_FRAMES) for _ in range(size)]
    indices = sampled(CLIP_FRAMES, rng.randint(2, CLIP_FRAMES))
    pixels = clip_pixels([frames for frames, _ in drawn], indices)
    ids = tokenizer(video_prompt(tokenizer, pixels.pop("soft_tokens"), indices), add_special_tokens=False)["input_ids"]
    examples = []
    for _, clip in drawn:
        answer = tokenizer(clip.caption + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        examples.append((ids + answer, [-100] * len(ids) + answer))
    input_ids, labels, mask = pad_examples(examples, tokenizer.pad_token_id)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask, **pixels}


def train_video(model: Any, tokenizer: PreTrainedTokenizerFast, steps: int, seed: int = 0, batch_size: int = 6,
                lr: float = 1e-3, progress: Callable[[int, float, float], None] | None = None) -> None:
    """Fine-tune on clips, taking turns with pictures (budgets 70 and 140) so that pictures are not forgotten."""
    import torch

    rng = random.Random(seed + 7)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    clip_loss = picture_loss = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        if step % 2 == 0:
            clip_loss = optimizer_step(opt, model(**clip_batch(tokenizer, rng, batch_size)).loss, model)
        else:
            budget = TRAIN_BUDGETS[(step // 2) % len(TRAIN_BUDGETS)]
            inputs = batch(tokenizer, rng, BATCH_280 if budget == 280 else 16, budget)
            for key in ("cells", "slots", "counts"):
                inputs.pop(key)
            picture_loss = optimizer_step(opt, model(**inputs).loss, model)
        if progress is not None:
            progress(step, clip_loss, picture_loss)
    model.eval()


def describe_clip(model: Any, tokenizer: PreTrainedTokenizerFast, frames: Any, indices: Sequence[int]) -> str:
    """The model's greedy description of a clip seen through the frames `indices`, in PyTorch."""
    import torch

    pixels = clip_pixels([frames], indices)
    ids = tokenizer(video_prompt(tokenizer, pixels.pop("soft_tokens"), indices), add_special_tokens=False,
                    return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(input_ids=ids, **pixels, max_new_tokens=24, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def evaluate_clips(model: Any, tokenizer: PreTrainedTokenizerFast, n: int = EVAL_PICTURES,
                   seed: int = 4321) -> dict[str, dict[str, float]]:
    """Share of held-out clips whose new colour, and whose whole caption, the model gets right, by frames kept."""
    rng = random.Random(seed)
    clips = [draw_clip(rng, CLIP_FRAMES) for _ in range(n)]
    report = {}
    for count in (CLIP_FRAMES, 3, 2, 1):
        said = [parse_clip_caption(describe_clip(model, tokenizer, frames, sampled(CLIP_FRAMES, count)))
                for frames, _ in clips]
        truth = [clip for _, clip in clips]
        report[f"{count} frames"] = {
            "new colour": sum(s is not None and s[1] == c.new_colour
                             for s, c in zip(said, truth, strict=True)) / n,
            "exact": sum(s == (c.shape, c.new_colour) for s, c in zip(said, truth, strict=True)) / n}
    return report


CARD = """
A {params:.2f} M-parameter Gemma 4 (`Gemma4ForConditionalGeneration`) with Gemma 4's picture handling: 16-pixel
patches pooled 3 x 3 into soft tokens, a picture read at its own aspect ratio within a budget of `max_soft_tokens`
(280 by default, as `google/gemma-4-E2B-it`). A vision tower of {vision_layers} layers of width {vision_width}, a
language model of {text_layers} layers of width {text_width}, the demo family's tokenizer with Gemma 4's markers.
Trained from scratch by `tools.train_demo_gemma4`, seed {seed}, {minutes:.0f} minutes on two CPU cores: {vision_steps}
steps of the vision tower alone on small crops of one shape, {steps} steps of the whole model on pictures of one
small coloured shape ({colours}; {shapes}) at budgets of {budgets} soft tokens in turn, then {video_steps} steps
taking turns between pictures and clips: {frames} frames at {fps:g} frames per second of one shape changing colour
once, seen through 2 to {frames} of them (Gemma 4's video processor: {video_budget} soft tokens per frame at most,
each frame after its time as MM:SS).

It answers "describe the picture." ("a red circle.") and "describe the video." ("a red circle turning blue.").

Held-out pictures (PyTorch, greedy, {pictures} per row; shape radius as a share of the picture's side, at a budget;
caption right / colour right): {accuracy}.

Held-out clips ({pictures}; new colour right / whole caption right): {clips}.
"""


def card(report: dict[str, Any]) -> str:
    body = CARD.format(
        params=report["parameters_m"], vision_layers=DEMO_VISION["num_hidden_layers"],
        vision_width=DEMO_VISION["hidden_size"], text_layers=DEMO_TEXT["num_hidden_layers"],
        text_width=DEMO_TEXT["hidden_size"], seed=report["seed"], steps=report["steps"], minutes=report["minutes"],
        vision_steps=report["vision_steps"], video_steps=report["video_steps"], frames=CLIP_FRAMES, fps=CLIP_FPS,
        video_budget=VIDEO_BUDGET, colours=", ".join(COLOURS), shapes=", ".join(SHAPES),
        budgets=", ".join(map(str, TRAIN_BUDGETS)), pictures=report["eval_pictures"],
        accuracy="; ".join(f"{k}: {v['exact']:.0%} / {v['colour']:.0%}" for k, v in report["accuracy"].items()),
        clips="; ".join(f"{k}: {v['new colour']:.0%} / {v['exact']:.0%}" for k, v in report["clips"].items()))
    return model_card("nbhelpers/demo-gemma4", body, tags=("gemma4",), pipeline_tag="image-text-to-text")


def build(out: Path, seed: int = 0, log: Callable[[str], None] = print, eval_pictures: int = EVAL_PICTURES,
          vision_steps: int = VISION_STEPS, steps: int = STEPS, video_steps: int = VIDEO_STEPS) -> dict[str, Any]:
    """Build, train (vision tower, pictures, then clips and pictures) and save the demo Gemma 4 to `out` (written to
    a sibling folder, then renamed); return its training report."""
    from tools.training import publish

    start = time.perf_counter()
    tokenizer = build_tokenizer()
    model = make_model(tokenizer, DEMO_VISION, {**DEMO_TEXT, "max_position_embeddings": 4096}, seed)

    def every(phase: str, total: int, names: tuple[str, str]) -> Callable[[int, float, float], None]:
        def report(step: int, a: float, b: float) -> None:
            if (step + 1) % 50 == 0:
                log(f"{phase} step {step + 1}/{total} {names[0]} {a:.4f} {names[1]} {b:.4f} "
                    f"({time.perf_counter() - start:.0f} s)")
        return report

    pretrain_vision(model, vision_steps, seed=seed, progress=every("vision", vision_steps, ("loss", "accuracy")))
    train(model, tokenizer, steps, seed=seed, progress=every("pictures", steps, ("loss", "aux")))
    train_video(model, tokenizer, video_steps, seed=seed, progress=every("video", video_steps, ("clips", "pictures")))
    minutes = (time.perf_counter() - start) / 60
    accuracy = evaluate(model, tokenizer, n=eval_pictures)
    log(f"pictures {json.dumps(accuracy)} after {minutes:.1f} min")
    clips = evaluate_clips(model, tokenizer, n=eval_pictures)
    log(f"clips {json.dumps(clips)}")
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.generation_config.max_new_tokens = 40
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / "processor_config.json").write_text(json.dumps(processor_config(), indent=2) + "\n", encoding="utf-8")
    report = {"vision_steps": vision_steps, "steps": steps, "video_steps": video_steps, "seed": seed,
              "minutes": round(minutes, 1), "eval_pictures": eval_pictures,
              "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2), "accuracy": accuracy,
              "clips": clips}
    publish(partial, out, report, card(report))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Train the demo Gemma 4 and save it (the committed one: `--out nbhelpers/demos/data/demo-gemma4`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_gemma4", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-pictures", type=int, default=EVAL_PICTURES)
    parser.add_argument("--vision-steps", type=int, default=VISION_STEPS)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--video-steps", type=int, default=VIDEO_STEPS)
    args = parser.parse_args(argv)
    build(args.out, args.seed, eval_pictures=args.eval_pictures, vision_steps=args.vision_steps, steps=args.steps,
          video_steps=args.video_steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

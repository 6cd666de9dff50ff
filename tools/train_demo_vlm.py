"""Train the offline demo vision-language model (`nbhelpers/demo-vlm`) and write it as a hub snapshot.

The committed model in `nbhelpers/demos/data/demo-vlm` is what

    python -m tools.train_demo_vlm --out nbhelpers/demos/data/demo-vlm

wrote (seed 0, about 8 minutes on two cores). The recipe: a byte-level tokenizer trained on the demo's sentences,
the vision tower first (a colour and shape classifier, the way LLaVA starts from a pretrained CLIP), then the
whole model on freshly drawn conversations:

- a caption ("describe the image." -> "a red circle."),
- a question ("what colour is it?" -> "red.", "what shape is it?" -> "circle."), also as a follow-up in a second
  turn where the image is only in the first one,
- a caption of the image of a later turn and a question about it, and two images in one message
  ("a red circle and a blue square.").

What the lessons use at run time (pictures, sizes, the processor, the cost model) is `nbhelpers.demos.vlm`.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.demos.llm import ASSISTANT, EOS, USER
from nbhelpers.demos.vlm import (
    CAPTION_QUESTIONS,
    CHAT_TEMPLATE,
    CLIP_MEAN,
    CLIP_STD,
    COLOUR_QUESTION,
    COLOURS,
    IMAGE,
    IMAGE_SIZE,
    IMAGE_TOKENS,
    PATCH_SIZE,
    SHAPE_QUESTION,
    SHAPES,
    TWO_IMAGES_QUESTION,
    Shape,
    build_processor,
    draw,
    make_model,
    parse_caption,
    random_shape,
)
from tools.training import lr_at, model_card, optimizer_step, pad_examples, train_bpe

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast

STEPS = 2500  # steps of the whole model
VISION_STEPS = 1500  # steps of the vision tower alone, first
EVAL_PICTURES = 100  # pictures `evaluate` draws for the model card


def user(text: str, images: int = 0) -> dict[str, Any]:
    """Return a user message with `images` image parts before the text (the transformers convention)."""
    return {"role": "user", "content": [{"type": "image"} for _ in range(images)] + [{"type": "text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def conversation(rng: random.Random) -> tuple[list[dict[str, Any]], list[Shape]]:
    """Return one training conversation and the shapes of its images, in order.

    Kinds: a caption; a question; a caption then a follow-up question without an image; a caption, then a
    second image with its caption; two images captioned together; a four-turn chat (caption, follow-up, a new
    image's caption, a follow-up about the new image).
    """
    a, b = random_shape(rng), random_shape(rng)
    kind = rng.choices(("caption", "question", "follow-up", "second-image", "two-images", "long-chat"),
                       weights=(25, 10, 20, 15, 15, 15))[0]

    def ask(shape: Shape) -> tuple[str, str]:
        question = rng.choice((COLOUR_QUESTION, SHAPE_QUESTION))
        return question, f"{shape.colour}." if question == COLOUR_QUESTION else f"{shape.shape}."

    (question, answer), caption_q = ask(a), rng.choice(CAPTION_QUESTIONS)
    first = [user(caption_q, 1), assistant(a.caption)]
    if kind == "caption":
        return first, [a]
    if kind == "question":
        return [user(question, 1), assistant(answer)], [a]
    if kind == "follow-up":
        return [*first, user(question), assistant(answer)], [a]
    if kind == "second-image":
        return [*first, user(rng.choice(CAPTION_QUESTIONS), 1), assistant(b.caption)], [a, b]
    if kind == "long-chat":
        question_b, answer_b = ask(b)
        return [*first, user(question), assistant(answer), user(rng.choice(CAPTION_QUESTIONS), 1),
                assistant(b.caption), user(question_b), assistant(answer_b)], [a, b]
    return [user(TWO_IMAGES_QUESTION, 2), assistant(f"{a.words} and {b.words}.")], [a, b]


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Return a byte-level BPE tokenizer trained on the demo's sentences, with `<image>` as one special token."""
    words = [*CAPTION_QUESTIONS, COLOUR_QUESTION, SHAPE_QUESTION, TWO_IMAGES_QUESTION,
             *(f"{Shape(c, s).words} and {Shape(c, s).words}." for c in COLOURS for s in SHAPES)]
    return train_bpe(words * 4, 384, CHAT_TEMPLATE, special=[EOS, USER, ASSISTANT], extra_special=IMAGE)


def pixel_values(images: Sequence[Image.Image]) -> torch.Tensor:
    """Return CLIP-normalised pixels (N, 3, H, W) of square images at the vision size (what the processor makes)."""
    import torch

    array = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) for im in images]) / 255.0
    array = (array - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return torch.from_numpy(array.transpose(0, 3, 1, 2).copy())


def encode(tokenizer: PreTrainedTokenizerFast, messages: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """Return (input_ids, labels) of a conversation: image tags expanded, labels -100 except the answers."""
    image_id = tokenizer.convert_tokens_to_ids(IMAGE)
    ids: list[int] = []
    labels: list[int] = []
    for i, message in enumerate(messages):
        is_answer = message["role"] == "assistant"
        before = (tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=is_answer)
                  if i else "")
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False, add_generation_prompt=not is_answer)
        piece = tokenizer(upto[len(before):], add_special_tokens=False)["input_ids"]
        if is_answer:  # the answer and its EOS are learned; the newline after EOS is not
            ids += piece
            labels += piece[:-1] + [-100]
        else:
            expanded = [t for token in piece for t in ([token] * IMAGE_TOKENS if token == image_id else [token])]
            ids += expanded
            labels += [-100] * len(expanded)
    return ids, labels


def batch(tokenizer: PreTrainedTokenizerFast, rng: random.Random, size: int) -> dict[str, Any]:
    """Return a training batch of `size` fresh conversations: padded tokens, labels, mask and their pictures."""
    rows, images = [], []
    for _ in range(size):
        messages, shapes = conversation(rng)
        rows.append(encode(tokenizer, messages))
        images += [draw(s, rng) for s in shapes]
    input_ids, labels, mask = pad_examples(rows, tokenizer.pad_token_id)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask, "pixel_values": pixel_values(images)}


def pretrain_vision(model: LlavaForConditionalGeneration, steps: int, seed: int = 0, batch_size: int = 64,
                    lr: float = 2e-3, progress: Callable[[int, float], None] | None = None) -> float:
    """Teach the vision tower to see colour and shape first, as LLaVA starts from a pretrained CLIP.

    A temporary linear head on the mean of the patch features (the layer LLaVA reads) classifies colour and
    shape of freshly drawn pictures, with a cosine learning rate from `lr` to 0 and no warm-up (the schedule the
    committed tower was trained with, hence not `lr_at`). Returns the last loss; the head is discarded.
    """
    import torch
    import torch.nn.functional as F

    rng = random.Random(seed + 1)
    tower = model.model.vision_tower
    hidden = tower.config.hidden_size
    head = torch.nn.Linear(hidden, len(COLOURS) + len(SHAPES))
    opt = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=lr, weight_decay=0.01)
    colours, layer = list(COLOURS), model.config.vision_feature_layer
    tower.train()
    loss_value = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        shapes = [random_shape(rng) for _ in range(batch_size)]
        pictures = [draw(s, rng) for s in shapes]
        states = tower(pixel_values(pictures), output_hidden_states=True).hidden_states[layer]
        logits = head(states[:, 1:].mean(1))
        loss = (F.cross_entropy(logits[:, : len(colours)], torch.tensor([colours.index(s.colour) for s in shapes]))
                + F.cross_entropy(logits[:, len(colours):], torch.tensor([SHAPES.index(s.shape) for s in shapes])))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        if progress is not None:
            progress(step, loss_value)
    return loss_value


def train(model: LlavaForConditionalGeneration, tokenizer: PreTrainedTokenizerFast, steps: int, seed: int = 0,
          batch_size: int = 32, lr: float = 2e-3,
          progress: Callable[[int, float], None] | None = None) -> float:
    """Train on freshly drawn conversations (never the same picture twice); return the last loss."""
    import torch

    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    loss_value = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        loss_value = optimizer_step(opt, model(**batch(tokenizer, rng, batch_size)).loss, model)
        if progress is not None:
            progress(step, loss_value)
    model.eval()
    return loss_value


def answer(model: LlavaForConditionalGeneration, processor: LlavaProcessor, messages: list[dict[str, Any]],
           images: Sequence[Image.Image], max_new_tokens: int = 24) -> str:
    """Return the model's greedy answer to `messages` (transformers convention) with `images`, in PyTorch."""
    import torch

    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(images=list(images) or None, text=prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def evaluate(model: LlavaForConditionalGeneration, processor: LlavaProcessor, n: int = EVAL_PICTURES,
             seed: int = 1234) -> dict[str, float]:
    """Return accuracies on freshly drawn pictures: caption, follow-up question, second image, two images, and a
    four-turn chat (turns 3 and 4, about the picture of turn 3, both right)."""
    rng = random.Random(seed)
    hits = {"caption": 0, "follow-up": 0, "second image": 0, "two images": 0, "long chat": 0}
    for _ in range(n):
        a, b = random_shape(rng), random_shape(rng)
        ia, ib = draw(a, rng), draw(b, rng)
        first = [user(CAPTION_QUESTIONS[0], 1)]
        caption = answer(model, processor, first, [ia])
        hits["caption"] += parse_caption(caption) == a
        reply = answer(model, processor, [*first, assistant(caption), user(COLOUR_QUESTION)], [ia])
        hits["follow-up"] += reply.strip(".") == a.colour
        second = answer(model, processor, [*first, assistant(caption), user(CAPTION_QUESTIONS[0], 1)], [ia, ib])
        hits["second image"] += parse_caption(second) == b
        chat = [*first, assistant(caption), user(COLOUR_QUESTION), assistant(reply), user(CAPTION_QUESTIONS[0], 1)]
        third = answer(model, processor, chat, [ia, ib])
        fourth = answer(model, processor, [*chat, assistant(third), user(SHAPE_QUESTION)], [ia, ib])
        hits["long chat"] += parse_caption(third) == b and fourth.strip(".") == b.shape
        both = answer(model, processor, [user(TWO_IMAGES_QUESTION, 2)], [ia, ib])
        hits["two images"] += both == f"{a.words} and {b.words}."
    return {k: v / n for k, v in hits.items()}


CARD = """
A {params:.1f} M-parameter LLaVA (`LlavaForConditionalGeneration`: a CLIP vision tower that cuts a {image}x{image}
picture into {patch}x{patch} patches, {tokens} image tokens; a Llama text model) with a byte-level tokenizer, a chat
template and a CLIP image processor. Trained from scratch by `tools.train_demo_vlm`, seed {seed}, {minutes:.0f} minutes
on two CPU cores: {vision_steps} steps of the vision tower alone as a colour and shape classifier, then {steps} steps
of the whole model, on pictures of one coloured shape that `nbhelpers.demos.vlm` draws ({colours}; {shapes}).

It captions ("describe the image." -> "a red circle."), answers "what colour is it?" and "what shape is it?" (also
as a follow-up turn), captions the picture of a later turn and answers about it, and two pictures in one message.

Accuracy on {pictures} freshly drawn pictures (PyTorch, greedy): {accuracy}.
"""


def card(report: dict[str, Any]) -> str:
    """Return the model card (README.md) for a training report (a report without `eval_pictures` used the default)."""
    body = CARD.format(
        params=report["parameters_m"], image=IMAGE_SIZE, patch=PATCH_SIZE, tokens=IMAGE_TOKENS, seed=report["seed"],
        minutes=report["minutes"], vision_steps=report["vision_steps"], steps=report["steps"],
        colours=", ".join(COLOURS), shapes=", ".join(SHAPES), pictures=report.get("eval_pictures", EVAL_PICTURES),
        accuracy=", ".join(f"{k} {v:.0%}" for k, v in report["accuracy"].items()))
    return model_card("nbhelpers/demo-vlm", body, tags=("llava",), pipeline_tag="image-text-to-text")


def build(out: Path, steps: int = STEPS, vision_steps: int = VISION_STEPS, seed: int = 0,
          log: Callable[[str], None] = print, eval_pictures: int = EVAL_PICTURES) -> dict[str, float]:
    """Build, train (vision tower first, then the whole model) and save the demo VLM to `out`; return its accuracies."""
    start = time.perf_counter()
    processor = build_processor(build_tokenizer())
    model = make_model(processor.tokenizer, seed)

    def every(phase: str, total: int) -> Callable[[int, float], None]:
        def report(step: int, loss: float) -> None:
            if (step + 1) % 100 == 0:
                log(f"{phase} step {step + 1}/{total} loss {loss:.4f} ({time.perf_counter() - start:.0f} s)")
        return report

    pretrain_vision(model, vision_steps, seed=seed, progress=every("vision", vision_steps))
    train(model, processor.tokenizer, steps, seed=seed, progress=every("llava", steps))
    minutes = (time.perf_counter() - start) / 60
    accuracy = evaluate(model, processor, n=eval_pictures)
    log(f"accuracy {accuracy} after {minutes:.1f} min")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 32
    model.save_pretrained(out)
    processor.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    report = {"vision_steps": vision_steps, "steps": steps, "seed": seed, "minutes": round(minutes, 1),
              "parameters_m": round(params, 2), "eval_pictures": eval_pictures, "accuracy": accuracy}
    (out / "training_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "README.md").write_text(card(report), encoding="utf-8")
    return accuracy


def main(argv: Sequence[str] | None = None) -> int:
    """Train the demo VLM and save it (the committed one: `--out nbhelpers/demos/data/demo-vlm`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_vlm", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS, help="steps of the whole model")
    parser.add_argument("--vision-steps", type=int, default=VISION_STEPS, help="steps of the vision tower alone, first")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build(args.out, args.steps, args.vision_steps, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

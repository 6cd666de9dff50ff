"""Offline demo vision-language model: a tiny LLaVA that sees coloured shapes and talks about them.

The model is `LlavaForConditionalGeneration` (a CLIP vision tower, a two-layer projector and a Llama text
model) with a locally built byte-level tokenizer (`<image>` is one special token), a chat template and a
PIL CLIP image processor, wrapped in a `LlavaProcessor`: the classes and files of a LLaVA hub snapshot.
It is trained on pictures this module draws (one shape in one colour on a light background) to:

- caption an image ("describe the image." -> "a red circle."),
- answer a question about it ("what colour is it?" -> "red.", "what shape is it?" -> "circle."), also as a
  follow-up in a second turn where the image is only in the first one,
- caption the image of a later turn and answer about it, and two images in one message
  ("a red circle and a blue square.").

Training (the vision tower first, as a colour and shape classifier, the way LLaVA starts from a pretrained
CLIP; then the whole model) takes about 8 minutes on two cores, so it was done once with
`python -m nbhelpers.demo_vlm --out nbhelpers/data/demo-vlm` (seed 0) and the result (a few MB) is
committed; `nbhelpers.models` uses that folder as the model's snapshot.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.demo_llm import ASSISTANT, EOS, USER, train_bpe  # the demo LLM's chat markers and tokenizer recipe

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast

DATA = Path(__file__).parent / "data" / "demo-vlm"  # the committed model
IMAGE_SIZE = 64  # pixels, square: exactly the vision tower's input size
PATCH_SIZE = 16
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # CLS is dropped ("default" feature strategy)
IMAGE = "<image>"  # one token; the processor repeats it once per image token
# Mean and standard deviation of CLIP's image normalisation (as in every CLIP-based LLaVA).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35), "green": (35, 160, 55), "blue": (40, 75, 215),
    "yellow": (235, 205, 30), "purple": (135, 55, 175), "orange": (245, 135, 25),
}
SHAPES = ("circle", "square", "triangle", "cross")
CAPTION_QUESTIONS = ("describe the image.", "what do you see?", "what is in the picture?")
COLOUR_QUESTION = "what colour is it?"
SHAPE_QUESTION = "what shape is it?"
TWO_IMAGES_QUESTION = "describe the images."

# Content may be a string (GenAI passes strings) or a list of parts (the transformers convention).
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['content'] is string %}{% set text = m['content'] %}"
    "{% else %}{% set text = namespace(s='') %}"
    "{% for part in m['content'] %}"
    "{% if part['type'] == 'image' %}{% set text.s = text.s + '" + IMAGE + "\\n' %}"
    "{% else %}{% set text.s = text.s + part['text'] %}{% endif %}"
    "{% endfor %}{% set text = text.s %}{% endif %}"
    "{% if m['role'] == 'user' %}{{ '" + USER + "\\n' + text + '\\n' }}"
    "{% elif m['role'] == 'assistant' %}{{ '" + ASSISTANT + "\\n' + text + '" + EOS + "\\n' }}"
    "{% else %}{{ text + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '" + ASSISTANT + "\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Shape:
    """What one demo picture shows: a colour and a shape."""

    colour: str
    shape: str

    @property
    def words(self) -> str:
        """'a red circle', 'an orange square'."""
        return f"{'an' if self.colour[0] in 'aeiou' else 'a'} {self.colour} {self.shape}"

    @property
    def caption(self) -> str:
        return f"{self.words}."


def draw(shape: Shape, rng: random.Random, size: int = IMAGE_SIZE) -> Image.Image:
    """Return a `size` x `size` RGB picture of `shape`: random position, size, shade and a light background."""
    from PIL import Image, ImageDraw

    grey = rng.randint(200, 255)
    background = tuple(min(255, max(0, grey + rng.randint(-20, 20))) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    pen = ImageDraw.Draw(image)
    fill = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLOURS[shape.colour])
    r = rng.uniform(0.2, 0.38) * size
    cx, cy = rng.uniform(r + 1, size - r - 1), rng.uniform(r + 1, size - r - 1)
    if shape.shape == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape.shape == "square":
        s = r * 0.9
        pen.rectangle((cx - s, cy - s, cx + s, cy + s), fill=fill)
    elif shape.shape == "triangle":
        pen.polygon([(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)], fill=fill)
    elif shape.shape == "cross":
        w = r * 0.35
        pen.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        pen.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape.shape!r}; known: {', '.join(SHAPES)}")
    return image


def random_shape(rng: random.Random) -> Shape:
    """Return a random colour and shape."""
    return Shape(rng.choice(list(COLOURS)), rng.choice(SHAPES))


def parse_caption(text: str) -> Shape | None:
    """Return the colour and shape a caption names ("a red circle."), or None if it names no single one."""
    words = text.lower().replace(".", " ").split()
    colours = [w for w in words if w in COLOURS]
    shapes = [w for w in words if w in SHAPES]
    return Shape(colours[0], shapes[0]) if len(colours) == 1 and len(shapes) == 1 else None


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
    return train_bpe(words * 4, 384, CHAT_TEMPLATE, extra_special=IMAGE)


@dataclass(frozen=True)
class VlmShape:
    """The size of a LLaVA: picture and patch size, the CLIP vision tower's and the Llama text model's widths."""

    image_size: int
    patch_size: int
    vision_hidden: int
    vision_intermediate: int
    vision_layers: int
    vision_heads: int
    text_hidden: int
    text_intermediate: int
    text_layers: int
    text_heads: int
    text_kv_heads: int

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2


# The trained demo (~1.1 M parameters, 16 image tokens) and a random-weight model at a realistic cost for timing:
# a ViT-B/16 CLIP tower at 224 px (196 image tokens) and a 12-layer Llama of width 768 (~190 M parameters in all).
DEMO_SHAPE = VlmShape(IMAGE_SIZE, PATCH_SIZE, 128, 256, 2, 4, 128, 384, 3, 4, 2)
COST_SHAPE = VlmShape(224, 16, 768, 3072, 12, 12, 768, 3072, 12, 12, 4)


def build_processor(tokenizer: PreTrainedTokenizerFast | None = None, shape: VlmShape = DEMO_SHAPE) -> LlavaProcessor:
    """Return the demo's `LlavaProcessor`: the tokenizer and a PIL CLIP image processor (no torchvision needed)."""
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    side = shape.image_size
    images = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side},
                                   image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    return LlavaProcessor(image_processor=images, tokenizer=tokenizer or build_tokenizer(),
                          patch_size=shape.patch_size, vision_feature_select_strategy="default",
                          num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE, image_token=IMAGE)


def make_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0,
               shape: VlmShape = DEMO_SHAPE) -> LlavaForConditionalGeneration:
    """Return a freshly initialised LLaVA of `shape` (text widths are multiples of 128, for int4 groups)."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    eos = tokenizer.convert_tokens_to_ids(EOS)
    vision = CLIPVisionConfig(image_size=shape.image_size, patch_size=shape.patch_size,
                              hidden_size=shape.vision_hidden, intermediate_size=shape.vision_intermediate,
                              num_hidden_layers=shape.vision_layers, num_attention_heads=shape.vision_heads,
                              projection_dim=shape.vision_hidden)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=shape.text_hidden,
                       intermediate_size=shape.text_intermediate, num_hidden_layers=shape.text_layers,
                       num_attention_heads=shape.text_heads, num_key_value_heads=shape.text_kv_heads,
                       max_position_embeddings=2048, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
                       tie_word_embeddings=False)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tokenizer.convert_tokens_to_ids(IMAGE), image_seq_length=shape.image_tokens,
                         vision_feature_layer=-1, vision_feature_select_strategy="default",
                         projector_hidden_act="gelu", tie_word_embeddings=False)
    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(config)


def build_cost_model(out: Path, seed: int = 0) -> int:
    """Save a random-weight LLaVA of `COST_SHAPE` with the demo's tokenizer and chat template to `out`.

    Its answers are noise, but its time per image and per token is that of a real model of its size
    (~190 M parameters, 196 image tokens). Returns the parameter count.
    """
    import torch

    processor = build_processor(shape=COST_SHAPE)
    model = make_model(processor.tokenizer, seed, COST_SHAPE)
    n_params = sum(p.numel() for p in model.parameters())
    model.generation_config.do_sample = False
    model.to(dtype=torch.bfloat16).save_pretrained(out)
    processor.save_pretrained(out)
    (Path(out) / "README.md").write_text(COST_CARD.format(params=n_params / 1e6, shape=COST_SHAPE), encoding="utf-8")
    return n_params


FRONT_MATTER = """---
license: apache-2.0
library_name: transformers
pipeline_tag: image-text-to-text
tags: [nbhelpers-demo, offline, llava]
---
"""
COST_CARD = FRONT_MATTER + """# nbhelpers/demo-vlm-cost

A {params:.0f} M-parameter LLaVA with random weights (CLIP vision tower of width {shape.vision_hidden} and
{shape.vision_layers} layers at {shape.image_size} px in {shape.patch_size} px patches: {shape.image_tokens} image
tokens; a Llama text model of width {shape.text_hidden} and {shape.text_layers} layers), built by `nbhelpers.demo_vlm`.
Its text is noise; it exists so that timings reflect the cost of a real model of this size, not Python overhead.
"""


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


def _batch(tokenizer: PreTrainedTokenizerFast, rng: random.Random, size: int) -> dict[str, Any]:
    import torch

    rows, images = [], []
    for _ in range(size):
        messages, shapes = conversation(rng)
        rows.append(encode(tokenizer, messages))
        images += [draw(s, rng) for s in shapes]
    longest = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((size, longest), pad)
    labels = torch.full((size, longest), -100)
    mask = torch.zeros((size, longest), dtype=torch.long)
    for row, (ids, lab) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(lab)] = torch.tensor(lab)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask, "pixel_values": pixel_values(images)}


def pretrain_vision(model: LlavaForConditionalGeneration, steps: int, seed: int = 0, batch_size: int = 64,
                    lr: float = 2e-3, progress: Callable[[int, float], None] | None = None) -> float:
    """Teach the vision tower to see colour and shape first, as LLaVA starts from a pretrained CLIP.

    A temporary linear head on the mean of the patch features (the layer LLaVA reads) classifies colour and
    shape of freshly drawn pictures. Returns the last loss; the head is discarded.
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
    warm = max(1, steps // 20)
    model.train()
    loss_value = float("nan")
    for step in range(steps):
        scale = (step + 1) / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / (steps - warm)))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        loss = model(**_batch(tokenizer, rng, batch_size)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()
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


def evaluate(model: LlavaForConditionalGeneration, processor: LlavaProcessor, n: int = 100,
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


CARD = FRONT_MATTER + """# nbhelpers/demo-vlm

A {params:.1f} M-parameter LLaVA (`LlavaForConditionalGeneration`: a CLIP vision tower that cuts a {image}x{image}
picture into {patch}x{patch} patches, {tokens} image tokens; a Llama text model) with a byte-level tokenizer, a chat
template and a CLIP image processor. Trained from scratch by `nbhelpers.demo_vlm`, seed {seed}, {minutes:.0f} minutes
on two CPU cores: {vision_steps} steps of the vision tower alone as a colour and shape classifier, then {steps} steps
of the whole model, on pictures of one coloured shape that the module draws ({colours}; {shapes}).

It captions ("describe the image." -> "a red circle."), answers "what colour is it?" and "what shape is it?" (also
as a follow-up turn), captions the picture of a later turn and answers about it, and two pictures in one message.

Accuracy on {pictures} freshly drawn pictures (PyTorch, greedy): {accuracy}.
"""


def build(out: Path, steps: int = 2500, vision_steps: int = 1500, seed: int = 0,
          log: Callable[[str], None] = print, eval_pictures: int = 100) -> dict[str, float]:
    """Build, train (vision tower first, then the whole model) and save the demo VLM to `out`; return its accuracies."""
    start = time.perf_counter()
    processor = build_processor()
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


def card(report: dict[str, Any]) -> str:
    """Return the model card (README.md) for a training report."""
    return CARD.format(
        params=report["parameters_m"], image=IMAGE_SIZE, patch=PATCH_SIZE, tokens=IMAGE_TOKENS, seed=report["seed"],
        minutes=report["minutes"], vision_steps=report["vision_steps"], steps=report["steps"],
        colours=", ".join(COLOURS), shapes=", ".join(SHAPES), pictures=report.get("eval_pictures", 100),
        accuracy=", ".join(f"{k} {v:.0%}" for k, v in report["accuracy"].items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Train the demo VLM and save it (the committed one: `--out nbhelpers/data/demo-vlm`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nbhelpers.demo_vlm", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=2500, help="steps of the whole model")
    parser.add_argument("--vision-steps", type=int, default=1500, help="steps of the vision tower alone, first")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build(args.out, args.steps, args.vision_steps, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Offline demo vision-language model: a tiny LLaVA that sees coloured shapes and talks about them.

The model is `LlavaForConditionalGeneration` (a CLIP vision tower, a two-layer projector and a Llama text
model) with a byte-level tokenizer (`<image>` is one special token), a chat template and a PIL CLIP image
processor, wrapped in a `LlavaProcessor`: the classes and files of a LLaVA hub snapshot. It was trained on
pictures `draw` makes (one shape in one colour on a light background) to caption them, answer "what colour /
what shape is it?" (also as a follow-up turn), caption the picture of a later turn and two pictures at once.

This module is what lessons and tests use at run time: the pictures (`draw`, `random_shape`, `parse_caption`, from
`nbhelpers.demos.shapes`, which the demo text-to-image model draws too),
the committed model's folder (`DATA`, the snapshot `nbhelpers.models` serves) and the random-weight cost model
for timing (`build_cost_model`). The program that trained the committed model, about 8 minutes on two cores, is
`python -m tools.train_demo_vlm --out nbhelpers/demos/data/demo-vlm` (not installed; run from the project root).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nbhelpers.demos import model_card
from nbhelpers.demos.llm import ASSISTANT, EOS, USER  # the demo LLM's chat markers
from nbhelpers.demos.shapes import COLOURS, SHAPES, Shape, draw, parse_caption, random_shape  # noqa: F401 (the pictures)

if TYPE_CHECKING:
    from transformers import LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast

DATA = Path(__file__).parent / "data" / "demo-vlm"  # the committed model
IMAGE_SIZE = 64  # pixels, square: exactly the vision tower's input size
PATCH_SIZE = 16
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2  # CLS is dropped ("default" feature strategy)
IMAGE = "<image>"  # one token; the processor repeats it once per image token
# Mean and standard deviation of CLIP's image normalisation (as in every CLIP-based LLaVA).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

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


def load_tokenizer() -> PreTrainedTokenizerFast:
    """Return the committed demo's tokenizer (the one `tools.train_demo_vlm` builds, loaded instead of retrained)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(DATA)


def build_processor(tokenizer: PreTrainedTokenizerFast | None = None, shape: VlmShape = DEMO_SHAPE) -> LlavaProcessor:
    """Return a `LlavaProcessor` for `shape`: `tokenizer` (default: the committed demo's) and a PIL CLIP image
    processor (no torchvision needed)."""
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    side = shape.image_size
    images = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side},
                                   image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    return LlavaProcessor(image_processor=images, tokenizer=tokenizer or load_tokenizer(),
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


COST_CARD = """A {params:.0f} M-parameter LLaVA with random weights (CLIP vision tower of width {shape.vision_hidden}
and {shape.vision_layers} layers at {shape.image_size} px in {shape.patch_size} px patches: {shape.image_tokens}
image tokens; a Llama text model of width {shape.text_hidden} and {shape.text_layers} layers), built by
`nbhelpers.demos.vlm`. Its text is noise; it exists so that timings reflect the cost of a real model of this size,
not Python overhead.
"""


def build_cost_model(out: Path, seed: int = 0) -> int:
    """Save a random-weight LLaVA of `COST_SHAPE` with the committed demo's tokenizer and chat template to `out`.

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
    card = model_card("nbhelpers/demo-vlm-cost", COST_CARD.format(params=n_params / 1e6, shape=COST_SHAPE),
                      tags=("llava",), pipeline_tag="image-text-to-text")
    (Path(out) / "README.md").write_text(card, encoding="utf-8")
    return n_params

"""Offline demo text-to-image model: a tiny Stable Diffusion 1.5 that draws the coloured shape it is asked for.

The pipeline has SD 1.5's classes (`CLIPTextModel` with a locally built `CLIPTokenizer`, `UNet2DConditionModel`,
an `AutoencoderKL` of four blocks, so pictures are 8 pixels per latent as in SD 1.5) and an Euler scheduler on
SD 1.5's noise schedule. It was trained from scratch on the pictures `nbhelpers.demos.shapes.draw` makes, at
64 x 64 pixels, with captions such as "a red circle"; four colour-shape pairs (`HELD_OUT`) were left out of its
training. Two LoRA adapters trained on it (`ADAPTERS`: "outline" and "striped") change how it draws.

This module is what lessons and tests use at run time: the committed folders, the tokenizer and architecture
(`build_pipeline`), and the prompts. The program that trained it (85 minutes here, on two cores shared with other
work) is `python -m tools.train_demo_sd --out nbhelpers/demos/data/demo-sd --adapters
nbhelpers/demos/data/demo-sd-loras` (not installed; run from the project root).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nbhelpers.demos.shapes import COLOURS, SHAPES, STYLES, Shape

if TYPE_CHECKING:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

DATA = Path(__file__).parent / "data" / "demo-sd"  # the committed pipeline (a hub snapshot)
ADAPTERS = Path(__file__).parent / "data" / "demo-sd-loras"  # {style}.safetensors, diffusers' names
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 77  # CLIP's context length; the text encoder's position table has this many rows
IMAGE_SIZE = 64  # pixels; latents are IMAGE_SIZE / 8 (four VAE blocks, as in SD 1.5)
TEXT_HIDDEN = 64  # text-encoder width = the UNet's cross-attention width
# Left out of training: each colour and each shape is still seen, in other pairs.
HELD_OUT = (Shape("red", "triangle"), Shape("blue", "cross"), Shape("yellow", "square"), Shape("green", "circle"))
WORDS = ("a", "an", *COLOURS, *SHAPES, *STYLES)


def all_pairs() -> list[Shape]:
    """Every colour-shape pair, in a fixed order."""
    return [Shape(colour, shape) for colour in COLOURS for shape in SHAPES]


def trained_pairs() -> list[Shape]:
    """The pairs the demo was trained on (all but `HELD_OUT`)."""
    return [pair for pair in all_pairs() if pair not in HELD_OUT]


def build_clip_tokenizer(words: Sequence[str] = WORDS) -> CLIPTokenizer:
    """Return a CLIP tokenizer: every byte and word-final byte (`</w>`) is a token, as in CLIP's vocabulary, so any
    prompt tokenises; BPE merges learned on `words` make each of them one token; CLIP's start and end tokens last."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    bpe.train_from_iterator(words, trainers.BpeTrainer(vocab_size=4096, end_of_word_suffix="</w>", show_progress=False))
    learned = json.loads(bpe.to_str())["model"]["merges"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split()) for m in learned]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [BOS, EOS]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(dict.fromkeys(tokens))}, merges=merges,
                         model_max_length=MAX_LENGTH)


def build_pipeline(tokenizer: CLIPTokenizer | None = None, seed: int = 0) -> StableDiffusionPipeline:
    """Return the demo's architecture with fresh random weights (deterministic in `seed`)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tokenizer or build_clip_tokenizer()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=TEXT_HIDDEN, intermediate_size=4 * TEXT_HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=MAX_LENGTH, projection_dim=TEXT_HIDDEN,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))
    # One normalisation group: with few channels per group, GroupNorm normalises each channel on its own and wipes
    # out the picture's colours (a first training with 8 groups drew the right shapes in the wrong colours).
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 32, 64), norm_num_groups=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=IMAGE_SIZE,
    )
    unet = UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(64, 128),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN, attention_head_dim=8, norm_num_groups=16,
    )
    # SD 1.5's noise schedule; steps_offset=1 as in its published scheduler config.
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       num_train_timesteps=1000, steps_offset=1)
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)

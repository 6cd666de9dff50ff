"""Offline demo text-to-image model: a tiny Stable-Diffusion-1.5-architecture pipeline with random weights.

The pipeline has the model classes of SD 1.5 (`CLIPTextModel` with a locally built `CLIPTokenizer`,
`UNet2DConditionModel`, `AutoencoderKL`) and an Euler scheduler (SD 1.5 ships PNDM; GenAI and
diffusers run both) at a size that generates a
128 x 128 image in a fraction of a second on a CPU. It is saved with `save_pretrained`, exactly as a hub
snapshot of a diffusers model is laid out, so `optimum-cli export openvino --task text-to-image` and
`diffusers.StableDiffusionPipeline.from_pretrained` take it unchanged. Its weights are random: images are
structured noise, but every pixel is computed by the real pipeline, so comparisons between engines and
between adapters are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 77  # CLIP's context length; the text encoder's position table has this many rows
IMAGE_SIZE = 128  # pixels; latents are IMAGE_SIZE / 4 (three VAE blocks)
TEXT_HIDDEN = 64  # text-encoder width = the UNet's cross-attention width


def build_clip_tokenizer() -> CLIPTokenizer:
    """Return a CLIP tokenizer with a byte-level vocabulary (no merges) and CLIP's special tokens.

    Every byte has a token and a word-final token (`</w>`), as in CLIP's own vocabulary, so any
    prompt tokenises; the start and end tokens come last.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(alphabet + [c + "</w>" for c in alphabet] + [BOS, EOS])}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MAX_LENGTH)


def build_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """Return the tiny SD-1.5-architecture pipeline with random weights (deterministic in `seed`)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_clip_tokenizer()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=TEXT_HIDDEN, intermediate_size=4 * TEXT_HIDDEN, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=MAX_LENGTH, projection_dim=TEXT_HIDDEN,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 64), norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        sample_size=IMAGE_SIZE,
    )
    unet = UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 4, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN, attention_head_dim=8, norm_num_groups=8,
    )
    # SD 1.5's noise schedule; steps_offset=1 as in its published scheduler config.
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       num_train_timesteps=1000, steps_offset=1)
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


CARD = """---
license: apache-2.0
library_name: diffusers
tags: [nbhelpers-demo, offline, text-to-image]
---
# nbhelpers/demo-sd

A tiny Stable-Diffusion-1.5-architecture pipeline (CLIP text encoder, UNet2DConditionModel, AutoencoderKL,
Euler scheduler) with random weights, built on this machine by `nbhelpers.demos.sd` for offline lessons.
Images are structured noise: use it to check code paths, compare engines and measure overheads, not to
judge pictures. {image_size} x {image_size} pixels.
"""


def save_pipeline(out: Path, seed: int = 0) -> Path:
    """Build the demo pipeline and save it to `out` as a hub snapshot (`model_index.json` and one folder per part)."""
    pipe = build_pipeline(seed)
    pipe.save_pretrained(out)
    (Path(out) / "README.md").write_text(CARD.format(image_size=IMAGE_SIZE), encoding="utf-8")
    return Path(out)

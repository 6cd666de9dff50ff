"""A random-weight twin of `stable-diffusion-v1-5/stable-diffusion-v1-5` (the default text-to-image model of 09).

Real: the part classes (`CLIPTextModel`, `UNet2DConditionModel`, `AutoencoderKL`, `PNDMScheduler`, `CLIPTokenizer`),
the UNet's four down and up blocks with their types, two layers per block, eight attention heads (diffusers reads
SD 1.5's `attention_head_dim: 8` as the number of heads), 768-wide cross-attention and convolutional (not linear)
transformer projections, so every layer name a LoRA file targets is SD 1.5's; the VAE's four blocks, latent
channels and scaling factor (so 8 pixels per latent); the text encoder's width, heads, 77 positions, vocabulary,
quick-GELU and special ids (eos_token_id 2, which selects CLIP's legacy argmax pooling); the scheduler as published;
a CLIP tokenizer of the real size and layout (the 256 byte tokens in GPT-2's order, then the same with `</w>`, then
merges, then <|startoftext|> 49406 and <|endoftext|> 49407, also the padding token). Shrunk: the UNet's and VAE's
block widths (multiples of their 32 normalisation groups), one text-encoder layer instead of 12, and the sample
size (cost only: 128 x 128 pixels by default instead of 512 x 512; the tests draw one 512 x 512 step, dynamic and
reshaped, from a copy of the export whose UNet config has the real sample size); with 8 heads, the UNet's heads are 4
and 8 wide instead of 40, 80 and 160. Not real: the text encoder's final layer norm weight is 4, not 1
(`TEXT_SCALE`), so that the random UNet's image depends on the prompt. No safety checker or feature extractor, as 09
loads the model (`safety_checker=None`); the real snapshot has both (model_index.json names them), which the twin
leaves untested.

Sources: github.com/KiritoFD/dreambooth_ @410b402c stable-diffusion-v1-5/{unet,vae}/config.json and model_index.json
(the snapshot re-saved by diffusers); hub duplicates of runwayml/stable-diffusion-v1-5 for scheduler_config.json and
the tokenizer files (tokenizer_config.json as in github.com/Hny0305Lin/fork_pastel_mix, a fine-tune's copy);
runwayml fine-tunes for text_encoder/config.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.twins import repo_dir, synthetic_corpus

if TYPE_CHECKING:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

NAME = "stable-diffusion-v1-5/stable-diffusion-v1-5"

REAL_UNET: dict[str, Any] = {
    "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 768, "center_input_sample": False,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "out_channels": 4,
    "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "sample_size": 64,
    "use_linear_projection": False,
}
REAL_VAE: dict[str, Any] = {
    "act_fn": "silu", "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4, "in_channels": 3, "out_channels": 3, "latent_channels": 4,
    "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 512, "scaling_factor": 0.18215,
}
REAL_TEXT_ENCODER: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "max_position_embeddings": 77, "vocab_size": 49408, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05,
    "projection_dim": 768, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
}
# clip_sample is not a PNDM setting (the published file carries it anyway; diffusers ignores it).
REAL_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "clip_sample": False, "trained_betas": None,
}
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77
# The tokenizer folder as published: vocab.json and merges.txt (no tokenizer.json) and these two files.
_TOKEN = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": True}
REAL_TOKENIZER_CONFIG: dict[str, Any] = {
    "errors": "replace", "unk_token": {"content": EOS, **_TOKEN, "__type": "AddedToken"},
    "bos_token": {"content": BOS, **_TOKEN, "__type": "AddedToken"},
    "eos_token": {"content": EOS, **_TOKEN, "__type": "AddedToken"}, "pad_token": EOS, "add_prefix_space": False,
    "do_lower_case": True, "model_max_length": MAX_LENGTH, "name_or_path": "openai/clip-vit-large-patch14",
    "special_tokens_map_file": "./special_tokens_map.json", "tokenizer_class": "CLIPTokenizer",
}
REAL_SPECIAL_TOKENS_MAP: dict[str, Any] = {"bos_token": {"content": BOS, **_TOKEN},
                                           "eos_token": {"content": EOS, **_TOKEN}, "pad_token": EOS,
                                           "unk_token": {"content": EOS, **_TOKEN}}
# Shrunk: the cost, not the code path.
SHRUNK_UNET = {"block_out_channels": [32, 64, 64, 64], "sample_size": 16}
SHRUNK_VAE = {"block_out_channels": [32, 32, 64, 64], "sample_size": 128}
SHRUNK_TEXT_ENCODER = {"num_hidden_layers": 1}
IMAGE_SIZE = SHRUNK_UNET["sample_size"] * 8  # the pipelines' default image size: 8 pixels per latent
# The text encoder's final layer norm scales its output by this (1 at initialisation): at 1 the random UNet's image
# hardly depends on the prompt (two prompts differ by 2.7 levels of 255 on average, 4 steps), at 4 by 14.
TEXT_SCALE = 4.0


def clip_bpe(vocab_size: int = REAL_TEXT_ENCODER["vocab_size"]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return (vocab, merges) in CLIP's layout: the 256 byte tokens in GPT-2's order, the same with `</w>`, then one
    token per merge (trained on `synthetic_corpus` with CLIP's word-final `</w>`), then BOS and EOS, `vocab_size`
    tokens in all."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    alphabet = list(bytes_to_unicode().values())
    n_merges = vocab_size - 2 * len(alphabet) - 2
    trained = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    trained.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=n_merges + 4 * len(alphabet), end_of_word_suffix="</w>",
                                  show_progress=False)
    trained.train_from_iterator(synthetic_corpus(), trainer)
    spec = json.loads(trained.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in spec["merges"]][:n_merges]
    if len(merges) != n_merges:
        raise ValueError(f"the synthetic corpus gave {len(merges)} merges, not {n_merges}")
    vocab = {token: i for i, token in enumerate(alphabet + [c + "</w>" for c in alphabet])}
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab.update({BOS: len(vocab), EOS: len(vocab) + 1})
    if len(vocab) != vocab_size:
        raise ValueError(f"built {len(vocab)} tokens, not {vocab_size}")
    return vocab, merges


def build_tokenizer() -> CLIPTokenizer:
    """Return SD 1.5's tokenizer in kind, size and ids: a `CLIPTokenizer` of 49408 tokens, 77 long."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_bpe()
    return CLIPTokenizer(vocab=vocab, merges=merges, bos_token=BOS, eos_token=EOS, pad_token=EOS, unk_token=EOS,
                         model_max_length=MAX_LENGTH)


def build_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """Return the twin as a diffusers pipeline with random weights (deterministic in `seed`; the BPE trainer breaks
    ties between equally frequent pairs differently from run to run, so later merges vary between builds)."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_tokenizer()
    ids = tokenizer.convert_tokens_to_ids(["!", "a", "a</w>", BOS, EOS])
    assert ids == [0, 64, 320, 49406, 49407], ids  # CLIP's ids
    assert len(tokenizer) == REAL_TEXT_ENCODER["vocab_size"] and tokenizer.pad_token_id == 49407
    torch.manual_seed(seed)
    config = CLIPTextConfig(**{**REAL_TEXT_ENCODER, **SHRUNK_TEXT_ENCODER})
    config.architectures = ["CLIPTextModel"]
    text_encoder = CLIPTextModel(config).eval()
    with torch.no_grad():
        text_encoder.text_model.final_layer_norm.weight.mul_(TEXT_SCALE)
    unet = UNet2DConditionModel(**{**REAL_UNET, **SHRUNK_UNET})
    vae = AutoencoderKL(**{**REAL_VAE, **SHRUNK_VAE})
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler.from_config(REAL_SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)


def save_tokenizer_files(folder: Path, vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
    """Write the tokenizer folder as the hub has it: vocab.json, merges.txt, tokenizer_config.json and
    special_tokens_map.json, so transformers builds the tokenizer from these files as it does for the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        file.unlink()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(REAL_TOKENIZER_CONFIG, indent=2), encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(REAL_SPECIAL_TOKENS_MAP, indent=2), encoding="utf-8")


def build(root: Path, seed: int = 0) -> Path:
    """Save the twin as a hub snapshot in `root`/stable-diffusion-v1-5/stable-diffusion-v1-5; return the folder."""
    out = repo_dir(root, NAME)
    pipe = build_pipeline(seed)
    pipe.save_pretrained(out)
    model = json.loads(pipe.tokenizer.backend_tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    save_tokenizer_files(out / "tokenizer", model["vocab"], merges)
    return out

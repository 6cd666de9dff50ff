"""The tiny text-to-image demo: a real SD-1.5-layout snapshot that diffusers, optimum-cli and GenAI accept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nbhelpers import adapters
from nbhelpers.demos import sd as demo_sd
from nbhelpers.export import OV_T2I_FILES, export_text2image
from nbhelpers.models import model_source, snapshot_dir


def test_clip_tokenizer_has_clip_special_tokens_and_covers_any_text() -> None:
    tok = demo_sd.build_clip_tokenizer()
    ids = tok("A red cat, 3 ÷ 4!").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.convert_ids_to_tokens([tok.bos_token_id, tok.eos_token_id]) == [demo_sd.BOS, demo_sd.EOS]
    assert tok.unk_token_id not in ids[1:-1]
    decoded = tok.decode(ids, skip_special_tokens=True)  # CLIP lower-cases and spaces out punctuation
    assert decoded.replace(" ", "") == "aredcat,3÷4!"
    assert tok.model_max_length == demo_sd.MAX_LENGTH


@pytest.fixture(scope="module")
def demo_sd_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build and export the demo pipeline once for this module: (snapshot folder, OpenVINO folder)."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBHELPERS_CACHE", str(cache))
        source = Path(model_source("nbhelpers/demo-sd"))
        return source, export_text2image("nbhelpers/demo-sd")


@pytest.mark.slow
def test_demo_pipeline_is_saved_as_a_hub_snapshot_and_exported(demo_sd_export: tuple[Path, Path]) -> None:
    source, ov = demo_sd_export
    assert source.name == snapshot_dir("nbhelpers/demo-sd").name
    index = json.loads((source / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["scheduler"] == ["diffusers", "EulerDiscreteScheduler"]
    assert index["tokenizer"] == ["transformers", "CLIPTokenizer"]
    assert "random weights" in (source / "README.md").read_text()
    assert all((ov / f).is_file() for f in OV_T2I_FILES)


@pytest.mark.slow
def test_genai_generates_what_diffusers_generates(demo_sd_export: tuple[Path, Path]) -> None:
    import openvino_genai as ov_genai
    import torch
    from diffusers import StableDiffusionPipeline

    source, ov = demo_sd_export
    reference = StableDiffusionPipeline.from_pretrained(source)
    reference.set_progress_bar_config(disable=True)
    expected = reference("a red cat", num_inference_steps=3, generator=torch.Generator().manual_seed(1),
                         output_type="np").images[0]
    pipe = ov_genai.Text2ImagePipeline(ov, "CPU", INFERENCE_PRECISION_HINT="f32")
    image = pipe.generate("a red cat", num_inference_steps=3, generator=ov_genai.TorchGenerator(1)).data[0]
    assert image.shape == (demo_sd.IMAGE_SIZE, demo_sd.IMAGE_SIZE, 3)
    diff = np.abs(image.astype(int) - (expected * 255).round().astype(int))
    assert diff.max() <= 8, diff.max()


@pytest.mark.slow
def test_unused_lora_tensors_reports_names_genai_does_not_match(
    demo_sd_export: tuple[Path, Path], tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    _, ov = demo_sd_export
    a, b = torch.zeros(4, 32), torch.zeros(32, 4)
    layer = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    good, bad, broken = tmp_path / "good.safetensors", tmp_path / "bad.safetensors", tmp_path / "broken.safetensors"
    save_file({f"lora_unet.{layer}.lora_A.weight": a, f"lora_unet.{layer}.lora_B.weight": b}, good)
    save_file({f"unet.{layer}.lora_A.weight": a, f"unet.{layer}.lora_B.weight": b}, bad)  # diffusers' prefix
    broken.write_bytes(b"not a safetensors file")
    assert adapters.unused_lora_tensors(ov, good) == []
    assert adapters.unused_lora_tensors(ov, bad) == [f"lora_unet.unet.{layer}"]
    with pytest.raises(RuntimeError, match="could not load"):
        adapters.unused_lora_tensors(ov, broken)


def test_unrecognised_lora_keys_names_tensors_genai_would_skip() -> None:
    names = ["lora_unet_x.lora_down.weight", "lora_unet_x.lora_up.weight", "lora_unet_x.alpha",
             "lora_unet.y.lora_A.weight", "lora_unet.y.lora_B.weight", "lora_unet_x.dora_scale",
             "lora_unet_z.hada_w1_a", "lora_unet.y.lora_B.bias"]
    assert adapters.unrecognised_lora_keys(names) == names[5:]

"""The Gemma 4 cost model of notebook 06: its tokenizer, its processor files, and GenAI's picture tokens on a small
Gemma 4 of the same recipe (the rule notebook 06 teaches: soft tokens from the processor, plus two markers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nbhelpers import export, models
from nbhelpers.demos import gemma4

SMALL_TEXT = {**gemma4.TEXT, "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
              "num_attention_heads": 2, "num_key_value_heads": 1, "hidden_size_per_layer_input": 16,
              "layer_types": ["sliding_attention", "full_attention"]}
SMALL_VISION = {**gemma4.VISION, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 32}


def test_tokenizer_has_gemma4_markers_as_single_special_tokens() -> None:
    tok = gemma4.build_tokenizer()
    for name, marker in gemma4.MARKERS.items():
        assert getattr(tok, name) == marker
        assert tok.encode(f"a {marker} b", add_special_tokens=False).count(tok.convert_tokens_to_ids(marker)) == 1
    assert tok.eos_token == gemma4.TURN_END
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}
    rendered = tok.apply_chat_template([user, {"role": "assistant", "content": "ok"}], tokenize=False)
    assert rendered == "<|turn>user\n<|image|>hi<turn|>\n<|turn>model\nok<turn|>\n"


def test_processor_config_nests_image_and_video_settings_with_the_budget() -> None:
    config = gemma4.processor_config(140)
    assert config["image_processor"]["max_soft_tokens"] == 140
    assert config["image_processor"]["patch_size"] == 16 and config["image_processor"]["pooling_kernel_size"] == 3
    assert config["video_processor"]["max_soft_tokens"] == 70
    assert gemma4.processor_config()["image_processor"]["max_soft_tokens"] == 280
    with pytest.raises(ValueError, match="70, 140, 280, 560, 1120"):
        gemma4.processor_config(100)


def test_write_preprocessor_config_copies_a_combined_processor_config(tmp_path: Path) -> None:
    snapshot, out = tmp_path / "snapshot", tmp_path / "ov"
    snapshot.mkdir()
    out.mkdir()
    (snapshot / "processor_config.json").write_text(json.dumps(gemma4.processor_config(70)))
    (out / "preprocessor_config.json").write_text('{"feature_extractor_type": "Gemma4AudioFeatureExtractor"}')
    written = export.write_preprocessor_config(str(snapshot), out)
    assert written == out / "processor_config.json"
    assert json.loads(written.read_text())["image_processor"]["max_soft_tokens"] == 70
    assert "feature_extractor_type" in json.loads((out / "preprocessor_config.json").read_text())  # left alone


def test_the_role_names_the_real_default_the_trained_demo_and_the_cost_model() -> None:
    role = models.ROLES["vlm-dynamic"]
    assert (role.hub_id, role.demo) == ("google/gemma-4-E2B-it", "nbhelpers/demo-gemma4")
    assert models.model_choices("vlm-dynamic") == ["google/gemma-4-E2B-it", "nbhelpers/demo-gemma4"]
    assert models.timing_model("nbhelpers/demo-gemma4") == "nbhelpers/demo-gemma4-cost"


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Gemma 4 built by `build_cost_model` (smaller widths), exported as notebook 06 exports it."""
    import subprocess

    root = tmp_path_factory.mktemp("gemma4")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gemma4, "TEXT", SMALL_TEXT)
        mp.setattr(gemma4, "VISION", SMALL_VISION)
        gemma4.build_cost_model(root / "hf")
    out = root / "ov"
    subprocess.run(export.export_command(str(root / "hf"), out, "fp16", task="image-text-to-text"), check=True,
                   capture_output=True)
    export.write_preprocessor_config(str(root / "hf"), out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("budget", [70, 280])
def test_genai_picture_tokens_are_the_processors_soft_tokens_plus_two_markers(small_export: Path, budget: int) -> None:
    import openvino as ov
    import openvino_genai as ov_genai
    from PIL import Image
    from transformers import Gemma4ImageProcessorPil

    settings = json.loads((small_export / "processor_config.json").read_text())
    settings["image_processor"]["max_soft_tokens"] = budget
    (small_export / "processor_config.json").write_text(json.dumps(settings))
    pipe = ov_genai.VLMPipeline(small_export, "CPU", INFERENCE_PRECISION_HINT="f32")
    config = ov_genai.GenerationConfig(max_new_tokens=1)
    text_only = pipe.generate("describe.", generation_config=config).perf_metrics.get_num_input_tokens()
    rng = np.random.default_rng(0)
    for width, height in [(160, 120), (1024, 768), (2048, 512), (600, 1200)]:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        result = pipe.generate("describe.", images=[ov.Tensor(pixels[None])], generation_config=config)
        expected = int(Gemma4ImageProcessorPil(max_soft_tokens=budget)(Image.fromarray(pixels))[
            "num_soft_tokens_per_image"][0])
        assert result.perf_metrics.get_num_input_tokens() - text_only == expected + 2, (width, height)
        assert 0.75 * budget <= expected <= budget


def test_the_trained_demos_prompts_are_written_as_genai_builds_them() -> None:
    from tools import train_demo_gemma4 as tg

    tok = gemma4.build_tokenizer()
    assert tg.prompt(tok, 2) == ("<|turn>user\n<|image><|image|><|image|><image|>describe the picture.<turn|>\n"
                                 "<|turn>model\n")
    assert tg.video_prompt(tok, 1, [0, 3]) == ("<|turn>user\n00:00 <|image><|video|><image|> 00:01 <|image><|video|>"
                                               "<image|>describe the video.<turn|>\n<|turn>model\n")
    assert tg.timestamp(130, 2.0) == "01:05"
    assert tg.sampled(6, 3) == [0, 2, 4] and tg.sampled(6, 1) == [0] and tg.sampled(4, 8) == [0, 1, 2, 3]

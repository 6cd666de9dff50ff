from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from nbhelpers import export, models
from nbhelpers.demos import vlm as dv
from nbhelpers.errors import ModelNotReadyError
from tools import train_demo_vlm as tv


@pytest.fixture(scope="module")
def processor():  # type: ignore[no-untyped-def]
    """The processor with the tokenizer the training program builds (not the committed one it is compared with)."""
    return dv.build_processor(tv.build_tokenizer())


def test_draw_gives_the_named_colour_on_a_light_background() -> None:
    rng = random.Random(0)
    for colour in dv.COLOURS:
        for shape in dv.SHAPES:
            pixels = np.asarray(dv.draw(dv.Shape(colour, shape), rng), dtype=int)
            assert pixels.shape == (dv.IMAGE_SIZE, dv.IMAGE_SIZE, 3)
            distance = np.abs(pixels - np.array(dv.COLOURS[colour])).sum(-1)
            assert 0.05 < (distance < 80).mean() < 0.6  # the shape covers part of the picture
            assert pixels[0, 0].min() >= 180 or pixels[-1, -1].min() >= 180  # a corner shows the background
    with pytest.raises(ValueError, match="unknown shape"):
        dv.draw(dv.Shape("red", "hexagon"), rng)


def test_captions_and_parsing() -> None:
    assert dv.Shape("red", "circle").caption == "a red circle."
    assert dv.Shape("orange", "cross").caption == "an orange cross."
    assert dv.parse_caption("an orange cross.") == dv.Shape("orange", "cross")
    assert dv.parse_caption("a red circle and a blue square.") is None
    assert dv.parse_caption("red.") is None


def test_tokenizer_has_one_image_token_and_a_template_for_strings_and_parts(processor) -> None:  # type: ignore[no-untyped-def]
    tok = processor.tokenizer
    assert tok.encode(dv.IMAGE, add_special_tokens=False) == [tok.convert_tokens_to_ids(dv.IMAGE)]
    parts = [tv.user("describe the image.", 1), tv.assistant("a red circle.")]
    strings = [{"role": "user", "content": "<image>\ndescribe the image."},
               {"role": "assistant", "content": "a red circle."}]
    rendered = tok.apply_chat_template(parts, tokenize=False)
    assert rendered == tok.apply_chat_template(strings, tokenize=False)
    assert rendered == "<|user|>\n<image>\ndescribe the image.\n<|assistant|>\na red circle.<|endoftext|>\n"


def test_encode_matches_the_processor_and_learns_only_answers(processor) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    for _ in range(20):
        messages, shapes = tv.conversation(rng)
        ids, labels = tv.encode(processor.tokenizer, messages)
        images = [dv.draw(s, rng) for s in shapes]
        text = processor.apply_chat_template(messages, tokenize=False)
        batch = processor(images=images, text=text, return_tensors="pt")
        assert batch["input_ids"][0].tolist() == ids
        assert np.allclose(batch["pixel_values"].numpy(), tv.pixel_values(images).numpy(), atol=1e-5)
        answers = [m["content"][0]["text"] + tv.EOS for m in messages if m["role"] == "assistant"]
        assert processor.tokenizer.decode([t for t in labels if t != -100]) == "".join(answers)
        image_id = processor.tokenizer.convert_tokens_to_ids(dv.IMAGE)
        assert ids.count(image_id) == dv.IMAGE_TOKENS * len(images)


def test_write_preprocessor_config_from_nested_or_flat(tmp_path: Path, processor) -> None:  # type: ignore[no-untyped-def]
    snapshot, out = tmp_path / "snapshot", tmp_path / "ov"
    out.mkdir()
    processor.save_pretrained(snapshot)
    assert not (snapshot / "preprocessor_config.json").exists()  # transformers 5 nests it in processor_config.json
    written = json.loads(export.write_preprocessor_config(str(snapshot), out).read_text())
    assert written["crop_size"] == {"height": dv.IMAGE_SIZE, "width": dv.IMAGE_SIZE}
    assert written["size"]["shortest_edge"] == dv.IMAGE_SIZE
    assert written["image_mean"] == pytest.approx(dv.CLIP_MEAN) and written["image_std"] == pytest.approx(dv.CLIP_STD)
    # a SigLIP-style flat file with only height and width (llava-interleave) gets crop_size and shortest_edge
    (out / "preprocessor_config.json").unlink()
    (snapshot / "preprocessor_config.json").write_text(json.dumps(
        {"image_mean": [0.5] * 3, "image_std": [0.5] * 3, "size": {"height": 384, "width": 384}}))
    written = json.loads(export.write_preprocessor_config(str(snapshot), out).read_text())
    assert written["crop_size"] == {"height": 384, "width": 384} and written["size"]["shortest_edge"] == 384
    # an existing file is left alone
    (out / "preprocessor_config.json").write_text("{}")
    assert export.write_preprocessor_config(str(snapshot), out).read_text() == "{}"
    empty = tmp_path / "empty"
    empty.mkdir()
    (out / "preprocessor_config.json").unlink()
    with pytest.raises(ModelNotReadyError, match="no image processor"):
        export.write_preprocessor_config(str(empty), out)


def test_the_committed_demo_is_registered() -> None:
    assert models.model_choices("vlm") == ["llava-hf/llava-interleave-qwen-0.5b-hf", "nbhelpers/demo-vlm"]
    assert models.model_source("nbhelpers/demo-vlm") == str(dv.DATA)
    assert models.slug("nbhelpers/demo-vlm").startswith("nbhelpers--demo-vlm-")
    assert "trained once and committed" in models.why("nbhelpers/demo-vlm")
    report = json.loads((dv.DATA / "training_report.json").read_text())
    assert tv.card(report) == (dv.DATA / "README.md").read_text(), "the model card is the one `build` writes"


def test_evaluate_counts_right_answers_per_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    """evaluate's follow-up accuracy with a stand-in model that always answers "red.": the share of red pictures."""
    drawn: list[dv.Shape] = []

    def recording(rng: random.Random) -> dv.Shape:
        drawn.append(dv.random_shape(rng))
        return drawn[-1]

    monkeypatch.setattr(tv, "random_shape", recording)
    monkeypatch.setattr(tv, "answer", lambda *args, **kwargs: "red.")
    accuracy = tv.evaluate(model=None, processor=None, n=12)
    firsts = drawn[::2]  # each picture is the first of the two shapes drawn for it
    assert len(firsts) == 12 and 0 < sum(s.colour == "red" for s in firsts) < 12
    assert accuracy == {"caption": 0, "follow-up": sum(s.colour == "red" for s in firsts) / 12, "second image": 0,
                        "two images": 0, "long chat": 0}


def test_build_trains_and_saves_a_hub_snapshot(tmp_path: Path) -> None:
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    lines: list[str] = []
    accuracy = tv.build(tmp_path, steps=2, vision_steps=2, log=lines.append, eval_pictures=2)
    assert set(accuracy) == {"caption", "follow-up", "second image", "two images", "long chat"}
    assert f"accuracy {accuracy} after" in lines[-1]
    model = LlavaForConditionalGeneration.from_pretrained(tmp_path)
    assert model.generation_config.do_sample is False
    processor = AutoProcessor.from_pretrained(tmp_path)
    # the accuracy reported is the saved model's, counted on the 2 pictures asked for (a fresh evaluation of it)
    assert tv.evaluate(model, processor, n=2) == accuracy
    assert json.loads((tmp_path / "training_report.json").read_text())["accuracy"] == accuracy
    ask = [tv.user("describe the image.", 1)], [dv.draw(dv.Shape("red", "circle"), random.Random(0))]
    reply = tv.answer(model, processor, *ask, max_new_tokens=3)
    assert isinstance(reply, str) and len(processor.tokenizer(reply, add_special_tokens=False).input_ids) <= 3 + 1
    assert tv.answer(model, processor, *ask, max_new_tokens=3) == reply, "greedy: the same answer twice"
    assert json.loads((tmp_path / "training_report.json").read_text())["steps"] == 2


@pytest.mark.slow
def test_the_committed_demo_captions_fresh_pictures(processor) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(dv.DATA).eval()
    loaded = AutoProcessor.from_pretrained(dv.DATA)
    accuracy = tv.evaluate(model, loaded, n=20, seed=99)
    assert accuracy["caption"] >= 0.85 and accuracy["follow-up"] >= 0.85


@pytest.mark.slow
def test_export_vlm_writes_what_vlm_pipeline_needs_and_it_answers(tmp_cache: Path) -> None:
    import openvino as ov
    import openvino_genai as ov_genai

    folder = export.export_vlm("nbhelpers/demo-vlm", "fp16")
    assert all((folder / name).is_file() for name in export.OV_VLM_FILES)
    flat = json.loads((folder / "preprocessor_config.json").read_text())
    assert flat["crop_size"] == {"height": dv.IMAGE_SIZE, "width": dv.IMAGE_SIZE}
    rng = random.Random(3)
    shapes = [dv.random_shape(rng) for _ in range(20)]
    pictures = [ov.Tensor(np.asarray(dv.draw(shape, rng))[None]) for shape in shapes]
    for precision in ("f32", "bf16"):  # bf16 runs as f32 on CPUs without bf16 support
        pipe = ov_genai.VLMPipeline(folder, "CPU", INFERENCE_PRECISION_HINT=precision)
        results = [pipe.generate("describe the image.", images=[p], max_new_tokens=16) for p in pictures]
        right = sum(dv.parse_caption(r.texts[0]) == shape for r, shape in zip(results, shapes, strict=True))
        assert right >= 17, f"{precision}: {right} of 20 captions right"  # the model card: 97 %
        assert results[0].perf_metrics.get_num_input_tokens() == dv.IMAGE_TOKENS + 10  # 16 image tokens + chat text


def test_the_code_builds_the_committed_architecture(processor) -> None:  # type: ignore[no-untyped-def]
    from transformers import LlavaConfig

    committed = LlavaConfig.from_pretrained(dv.DATA)
    built = dv.make_model(processor.tokenizer).config
    for part in ("vision_config", "text_config"):
        for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                    "image_size", "patch_size", "num_key_value_heads"):
            assert getattr(getattr(built, part), key, None) == getattr(getattr(committed, part), key, None), key
    assert built.image_token_index == committed.image_token_index and built.image_seq_length == dv.IMAGE_TOKENS
    for key in ("vision_feature_layer", "vision_feature_select_strategy", "projector_hidden_act"):
        assert getattr(built, key) == getattr(committed, key), key


def test_cost_model_is_a_random_llava_of_its_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoProcessor, LlavaConfig

    tiny = dv.VlmShape(32, 16, 64, 128, 1, 2, 128, 256, 1, 2, 1)
    monkeypatch.setattr(dv, "COST_SHAPE", tiny)
    n = dv.build_cost_model(tmp_path)
    config = LlavaConfig.from_pretrained(tmp_path)
    assert config.vision_config.image_size == 32 and config.image_seq_length == tiny.image_tokens == 4
    assert config.text_config.num_hidden_layers == 1 and n > 0
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert loaded.image_processor.crop_size == {"height": 32, "width": 32}
    assert loaded.tokenizer.get_vocab() == dv.load_tokenizer().get_vocab()  # the committed demo's, not retrained
    assert "random weights" in (tmp_path / "README.md").read_text()


def test_the_committed_tokenizer_is_the_one_the_code_builds(processor) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    committed = AutoTokenizer.from_pretrained(dv.DATA)
    assert committed.get_vocab() == processor.tokenizer.get_vocab()
    assert committed.chat_template == dv.CHAT_TEMPLATE and committed.image_token == dv.IMAGE

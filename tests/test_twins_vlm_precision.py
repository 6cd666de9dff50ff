"""An fp32 export of notebook 06's real default (the random-weight twin of llava-interleave-qwen-0.5b-hf) against
PyTorch at f32 compute.

`tests/test_twins_speech_vision.py` measures the notebook's own fp16 export: it stores RoPE's frequencies in fp16
and its logits move by up to ~2 on the twin. Notebook 06 says an fp32 export matches PyTorch; this test measures
it: the same twin through the same optimum-cli command with `--weight-format fp32`, its vision embeddings and its
language model compiled at `INFERENCE_PRECISION_HINT: f32` against PyTorch's, and `VLMPipeline` at f32 against
PyTorch's greedy answers.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbhelpers.export import OV_VLM_FILES, export_command, write_preprocessor_config
from tests.twins import vlm as vlm_twin

pytestmark = pytest.mark.slow

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
IMAGE_TOKEN = 151646  # <image>


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The twin's hub snapshot and its fp32 export (notebook 06's command and preprocessor step, fp32 weights)."""
    root = tmp_path_factory.mktemp("vlm-fp32")
    source = vlm_twin.build(root / "hub")
    out = root / "vlm-fp32"
    done = subprocess.run(export_command(str(source), out, "fp32", task="image-text-to-text"),
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"optimum-cli export of the VLM twin (fp32) failed:\n{done.stderr[-4000:]}")
    write_preprocessor_config(str(source), out)
    return source, out


@pytest.mark.usefixtures("quiet")
def test_vlm_fp32_export_matches_pytorch_at_f32(twin: tuple[Path, Path]) -> None:
    import openvino as ov
    import openvino_genai as ov_genai
    import torch
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from nbhelpers.demos import vlm as demo_vlm

    source, folder = twin
    assert all((folder / name).is_file() for name in OV_VLM_FILES), sorted(p.name for p in folder.iterdir())
    core = ov.Core()
    language_model = core.read_model(folder / "openvino_language_model.xml")
    rope = [op for op in language_model.get_ordered_ops() if op.get_type_name() == "Constant"
            and "rotary_emb" in op.get_friendly_name() and op.get_element_type().is_real()]
    assert [c.get_element_type() for c in rope] == [ov.Type.f32]  # the fp16 export has f16 here
    torch_model = LlavaForConditionalGeneration.from_pretrained(source, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(source)
    vision = core.compile_model(folder / "openvino_vision_embeddings_model.xml", "CPU", F32)
    language = core.compile_model(vlm_twin.last_position_only(language_model), "CPU", F32)
    genai = ov_genai.VLMPipeline(folder, "CPU", **F32)
    # GenAI's prompt for one untagged image, rendered by its own template, so that PyTorch sees the same tokens.
    tokenizer = ov_genai.Tokenizer(folder)
    history = ov_genai.ChatHistory([{"role": "user", "content": "<image>\ndescribe the image."}])
    prompt = tokenizer.apply_chat_template(history, add_generation_prompt=True)
    image_tokens: list[Any] = []  # PyTorch's, caught on their way out of the projector
    torch_model.model.multi_modal_projector.register_forward_hook(lambda _m, _i, out: image_tokens.append(out))
    rng = random.Random(0)  # three pictures of notebook 06's kind, square at 384 px (no resize difference)
    pictures = [demo_vlm.draw(demo_vlm.random_shape(rng), rng, size=384) for _ in range(3)]
    vision_error = logit_error = 0.0
    gap, answers, same = float("inf"), [], 0
    for picture in pictures:
        inputs = processor(images=[picture], text=prompt, return_tensors="pt")
        n = inputs["input_ids"].shape[1]
        with torch.no_grad():
            out = torch_model.generate(**inputs, do_sample=False, max_new_tokens=8, output_logits=True,
                                       return_dict_in_generate=True)
            embeds = torch_model.get_input_embeddings()(inputs["input_ids"])
            embeds[inputs["input_ids"] == IMAGE_TOKEN] = image_tokens.pop().reshape(vlm_twin.IMAGE_TOKENS, -1)
        ids, expected = out.sequences[0, n:].tolist(), out.logits[0][0].numpy()  # the prompt's next-token logits
        gap = min(gap, *(float(step[0].topk(2).values.diff().abs()) for step in out.logits))  # greedy's margins
        want = embeds[inputs["input_ids"] == IMAGE_TOKEN].numpy()
        got = next(iter(vision(inputs["pixel_values"]).values()))[0]
        vision_error = max(vision_error, float(np.abs(got - want).max() / np.abs(want).max()))
        request = language.create_infer_request()
        request.reset_state()
        logits = request.infer({"inputs_embeds": embeds.numpy(), "attention_mask": np.ones((1, n), np.int64),
                                "position_ids": np.arange(n)[None], "beam_idx": np.zeros(1, np.int32)})["logits"]
        logit_error = max(logit_error, float(np.abs(logits[0, -1] - expected).max()))
        result = genai.generate(ov_genai.ChatHistory([{"role": "user", "content": "describe the image."}]),
                                images=[ov.Tensor(np.asarray(picture.convert("RGB"), dtype=np.uint8)[None])],
                                max_new_tokens=8, do_sample=False)
        assert result.perf_metrics.get_num_input_tokens() == n, "GenAI's prompt is the one given to PyTorch"
        same += result.texts[0] == tokenizer.decode(ids)
        answers.append(tuple(ids))
    assert len(set(answers)) == len(pictures), "the twin's answer depends on the picture"
    # Measured on 3 pictures (750-token prompts; image tokens up to ~150, next-token logits up to ~35):
    assert vision_error < 2e-5, vision_error  # 1.8e-6 relative: the vision tower and projector agree
    assert logit_error < 2e-3, logit_error  # 2.5e-4 (the fp16 export: 1.95)
    assert same == len(pictures), same  # 8 of 8 greedy tokens on each picture (the fp16 export: on 1 of 3)
    assert gap > 10 * logit_error, (gap, logit_error)  # 0.029 (115x): no greedy step was a near-tie

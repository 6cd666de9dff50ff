"""03's real EAGLE-3 pair, Qwen3-1.7B with AngelSlim/Qwen3-1.7B_eagle3, through random-weight twins
(tests/twins/eagle3.py): the head exports as 03 exports it, GenAI takes it as an EAGLE-3 head for a target of 10
layers (choosing the layers itself), greedy chain and tree drafting write the target's own tokens at f32, and the
drafts are offered, and accepted when the head is given the target's own features."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from nbhelpers.export import export_command
from tests.twins import eagle3, qwen3

pytestmark = pytest.mark.slow
PROMPTS = ["Tell me a story about a frog.", "What is the capital of Japan?", "Explain speculative decoding."]
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The target twin, a copy whose decoder layers add nothing (with tied embeddings it repeats its last token), a
    random head twin and the identity head of the repeating copy, all exported in fp16 as 03 exports them."""
    root = tmp_path_factory.mktemp("eagle3")
    target = eagle3.build_target(root / "twins")
    repeating = eagle3.build_target(root / "repeating", zero_layers_after=-1)
    head = ("--trust-remote-code",)
    sources = {"target": (target, ()), "repeating target": (repeating, ()),
               "random head": (eagle3.build_head(root / "twins"), head),
               "identity head": (eagle3.build_head(root / "repeating", target=repeating), head)}
    out = {}
    for label, (source, extra) in sources.items():
        out[label] = root / label.replace(" ", "-")
        subprocess.run(export_command(str(source), out[label], "fp16", *extra), check=True, capture_output=True)
    out["target source"] = target
    return out


def chat_ids(source: Path, text: str) -> Any:
    import openvino as ov
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, return_dict=True,
                                  return_tensors="np")["input_ids"]
    return ov.Tensor(ids)


def test_the_head_exports_as_an_eagle3_draft(exports: dict[str, Path]) -> None:
    """optimum-intel marks the IR as a head, adds the target-features input and the d2t output; it writes no layer
    list, so GenAI picks the layers for a target of 10 or more layers."""
    import openvino as ov

    model = ov.Core().read_model(exports["random head"] / "openvino_model.xml")
    assert model.get_rt_info(["eagle3_mode"]).astype(str) == "True"
    assert not model.has_rt_info(["hidden_layers_list"])
    assert "hidden_states" in {n for i in model.inputs for n in i.get_names()}
    assert {"logits", "d2t"} <= {n for o in model.outputs for n in o.get_names()}
    assert eagle3.TARGET_CONFIG["num_hidden_layers"] == 28 and eagle3.TARGET_SHRUNK["num_hidden_layers"] == 10


@pytest.mark.parametrize(("head", "target"), [("random head", "target"), ("identity head", "repeating target")])
def test_chain_and_tree_drafting_write_the_targets_tokens(exports: dict[str, Path], head: str, target: str) -> None:
    """At f32 with an f32 KV cache, chain drafting (3 tokens) and tree drafting (8 candidates, depth 4, branching 2;
    an f16 cache breaks it in 2026.4.1, see repro/genai_eagle3_tree_kv.py) give the target's greedy tokens; the
    random head's drafts are offered, the identity head's are all accepted by the target that repeats itself (so
    GenAI fed the head the target's features and mapped its draft ids through d2t)."""
    import openvino_genai as ov_genai

    alone = ov_genai.LLMPipeline(exports[target], "CPU", KV_CACHE_PRECISION="f32", **F32)
    spec = ov_genai.LLMPipeline(exports[target], "CPU", KV_CACHE_PRECISION="f32", **F32,
                                draft_model=ov_genai.draft_model(exports[head], "CPU", **F32))
    greedy = ov_genai.GenerationConfig(max_new_tokens=16, do_sample=False)
    configs = {"chain": ov_genai.GenerationConfig(max_new_tokens=16, do_sample=False, num_assistant_tokens=3),
               "tree": ov_genai.GenerationConfig(max_new_tokens=16, do_sample=False, num_assistant_tokens=8,
                                                 tree_depth=4, branching_factor=2)}
    counts = {label: [0, 0] for label in configs}
    for text in PROMPTS:
        ids = chat_ids(exports["target source"], text)
        expected = list(alone.generate(ids, greedy).tokens[0])
        for label, cfg in configs.items():
            result = spec.generate(ids, cfg)
            assert list(result.tokens[0]) == expected, (head, label, text)
            counts[label][0] += result.extended_perf_metrics.get_num_draft_tokens()
            counts[label][1] += result.extended_perf_metrics.get_num_accepted_tokens()
    assert all(offered > 0 for offered, _ in counts.values()), counts
    if head == "identity head":  # the chain's every draft; the tree's best path (its siblings are rejected)
        assert counts["chain"][1] == counts["chain"][0] and counts["tree"][1] > 0, counts
    assert qwen3.TOKEN_IDS["<|im_end|>"] in eagle3.draft_ids()

"""The demo target's EAGLE-3 head: its training-time test attends as drafting does, and the committed head, exported
as notebook 03 exports it, drafts tokens the target accepts while the output stays the target's at f32."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from nbhelpers.demos import committed_dir

HEAD = "nbhelpers/demo-llm-eagle3"


def test_each_unrolled_step_attends_to_earlier_bases_and_its_own_earlier_steps() -> None:
    """The mask of step k: step-1 entries of bases up to t, and base t's own entries of steps 2..k; nothing else."""
    import torch
    from optimum.exporters.openvino.model_patcher import LlamaEagle3ForCausalLM
    from transformers import AutoConfig

    from tools import train_demo_eagle3 as trainer

    head = LlamaEagle3ForCausalLM(trainer.head_config(AutoConfig.from_pretrained(committed_dir("nbhelpers/demo-llm"))))
    head.config._attn_implementation = "eager"
    seen = []
    original = torch.nn.functional.softmax

    def spy(x, *args, **kwargs):  # noqa: ANN001, ANN202 - eager attention's softmax sees the masked scores
        seen.append(x.detach())
        return original(x, *args, **kwargs)

    ids = torch.tensor([[1, 2, 3, 4, 5]])
    feats = torch.randn(1, 5, 3 * head.config.hidden_size)
    torch.nn.functional.softmax = spy
    try:
        out = trainer.unrolled_logits(head, ids, feats, torch.ones(1, 5), unroll=3)
    finally:
        torch.nn.functional.softmax = original
    assert [o.shape[1] for o in out] == [4, 4, 4]
    allowed = [(s[0, 0] > torch.finfo(s.dtype).min / 2) for s in seen]  # [queries, keys] of head 0
    n = 4
    assert allowed[0].equal(torch.ones(n, n).tril().bool())
    step3 = allowed[2]  # keys: step-1 entries (n), step-2 entries (n), step-3 entries (n)
    assert step3.shape == (n, 3 * n)
    assert step3[:, :n].equal(torch.ones(n, n).tril().bool())
    assert step3[:, n:2 * n].equal(torch.eye(n).bool()) and step3[:, 2 * n:].equal(torch.eye(n).bool())


def test_the_committed_head_is_a_hub_snapshot_with_card_and_report() -> None:
    folder = committed_dir(HEAD)
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLMEagle3"] and config["num_hidden_layers"] == 1
    assert config["draft_vocab_size"] == config["vocab_size"]
    report = json.loads((folder / "training_report.json").read_text())
    assert report["taps"] == [0, 1, 2] and report["genai_f32_heldout_chain"]["same_as_target"] == 1.0
    assert (folder / "README.md").read_text().startswith("---")


@pytest.mark.slow
def test_the_committed_head_drafts_what_the_target_accepts() -> None:
    """GenAI with the exported head and the layer list in its rt_info, at f32 on held-out prompts: the target's own
    tokens, and more than one token per target pass (the report's figure, measured the same way)."""
    import openvino as ov
    import openvino_genai as ov_genai

    from nbhelpers.demos.corpus import chat_corpus
    from nbhelpers.export import export_eagle3_head, export_llm

    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    target = export_llm("nbhelpers/demo-llm")
    exported = export_eagle3_head(HEAD)
    head = ov.Core().read_model(exported / "openvino_model.xml")
    head.set_rt_info([0, 1, 2], "hidden_layers_list")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / "head"
        shutil.copytree(exported, tmp)
        ov.save_model(head, tmp / "openvino_model.xml")
        alone = ov_genai.LLMPipeline(target, "CPU", **f32)
        eagle = ov_genai.LLMPipeline(target, "CPU", draft_model=ov_genai.draft_model(tmp, "CPU", **f32), **f32)
        chain = ov_genai.GenerationConfig(max_new_tokens=48, do_sample=False, num_assistant_tokens=3)
        generated = accepted = 0
        for prompt in [c.user for c in chat_corpus("heldout")[:6]]:
            want, got = alone.generate([prompt], max_new_tokens=48), eagle.generate([prompt], chain)
            assert got.texts == want.texts, prompt
            generated += got.perf_metrics.get_num_generated_tokens()
            accepted += got.extended_perf_metrics.get_num_accepted_tokens()
        del eagle
    assert generated / (generated - accepted) > 1.5, (generated, accepted)

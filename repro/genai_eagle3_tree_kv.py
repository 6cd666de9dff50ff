"""Reproduction: EAGLE-3 tree drafting with branching_factor > 1 changes greedy output when the target's KV cache is
f16 (OpenVINO GenAI 2026.4.1, CPU, f32 inference).

Greedy speculative decoding must write exactly what the target alone writes. With an EAGLE-3 head, chain drafting
and tree drafting with branching_factor 1 do; with branching_factor 2 and the KV cache in f16 (what an optimum-cli
fp16 export asks for in its rt_info) the output differs and is corrupted, while an f32 cache gives the target's text
(a u8 one too, on the demo). Upstream's diagnosis (OpenVINO PR #38079, openvino.genai PR #4469): after a tree step
the accepted path's KV entries are moved by a PaKVReorder model in place; a precision conversion the CPU plugin puts
in front of it makes the moves land in a temporary buffer. Exit 1 while an f16 cache changes the output (the bug is
there), 0 if not.

    python repro/genai_eagle3_tree_kv.py [TARGET_OV_DIR EAGLE3_HEAD_OV_DIR]

Without arguments it runs the demo target (padded) with the committed demo head (nbhelpers/demo-llm-eagle3),
exported as notebook 03 exports them. The head must accept drafts: a random one accepts none and shows nothing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import openvino as ov
import openvino_genai as ov_genai

PROMPTS = ["Can you tell a story about Zoe the sheep?", "Write a short story about Leo the owl.",
           "Tell me a story about Ivy the frog."]


def outputs(target: str, head: str, kv_cache_precision: str | None, tree: bool) -> list[str]:
    """Return the greedy answers to PROMPTS: the target alone if `head` is empty, else with the EAGLE-3 head."""
    props = {"INFERENCE_PRECISION_HINT": "f32"} | ({"KV_CACHE_PRECISION": kv_cache_precision}
                                                   if kv_cache_precision else {})
    if head:
        props["draft_model"] = ov_genai.draft_model(head, "CPU", INFERENCE_PRECISION_HINT="f32")
    pipe = ov_genai.LLMPipeline(target, "CPU", **props)
    extra = {"num_assistant_tokens": 8, "tree_depth": 4, "branching_factor": 2} if tree else {}
    config = ov_genai.GenerationConfig(max_new_tokens=64, do_sample=False, **extra)
    return [pipe.generate([p], config).texts[0] for p in PROMPTS]


def main(target: str, head: str) -> int:
    alone = outputs(target, "", None, tree=False)
    results = {kv: outputs(target, head, kv, tree=True) for kv in ("f16", "f32")}
    for kv, texts in results.items():
        same = sum(a == b for a, b in zip(alone, texts, strict=True))
        print(f"KV cache {kv}: tree drafting (branching 2) wrote the target's text on {same} of {len(PROMPTS)} prompts")
    broken = results["f16"] != alone and results["f32"] == alone
    print(f"openvino-genai {ov_genai.get_version()}: " + ("the bug is there (f16 cache changes the output)"
                                                         if broken else "the bug is gone"))
    return 1 if broken else 0


def demo_pair(tmp: Path) -> tuple[str, str]:
    """Export the padded demo target and the demo head; return them, the head with its layers in its rt_info."""
    from nbhelpers.export import export_eagle3_head, export_llm

    exported = export_eagle3_head("nbhelpers/demo-llm-eagle3")
    head = ov.Core().read_model(exported / "openvino_model.xml")
    head.set_rt_info([0, 1, 2], "hidden_layers_list")
    shutil.copytree(exported, tmp / "head")  # with the configs GenAI reads next to the model
    ov.save_model(head, tmp / "head" / "openvino_model.xml")
    return str(export_llm("nbhelpers/demo-llm-padded")), str(tmp / "head")


if __name__ == "__main__":
    if len(sys.argv) not in (1, 3):
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as folder:
        raise SystemExit(main(*(sys.argv[1:] or demo_pair(Path(folder)))))

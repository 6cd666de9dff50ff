"""Reproduction: a u4 KV cache crashes the process when GenAI grows the paged pool (OpenVINO GenAI 2026.4.1, CPU).

With `KEY_CACHE_PRECISION` or `VALUE_CACHE_PRECISION` "u4", an `LLMPipeline` made without a `scheduler_config`
(its default pool grows as needed and, with prefix caching on, keeps the blocks of earlier prompts) is given three
prompts of 300, 600 and 1200 tokens: the pool grows while it holds blocks, and the process dies in native code
("malloc(): invalid size (unsorted)", SIGABRT or SIGSEGV). With u8 it completes, and so does u4 with the pool sized
up front (`SchedulerConfig.num_kv_blocks`), which never grows. (A `SchedulerConfig()` of defaults, prefix caching
off, did not crash in this sequence.)

Why, as read in the openvino.genai repository (`kv_cache_manager.hpp`, `allocate_cache_if_needed`; unverified for
this build): to move the old blocks into the grown tensor, GenAI copies as many bytes as the old u4 tensor has
elements, twice its bytes, so a new tensor less than twice as large is written past its end.

Each case runs in a child process, so the crash is reported instead of taking this script down. Exit 1 while the
growing u4 pool crashes (the bug is there), 0 if every case completes.

    python repro/genai_kv_u4_pool_growth.py [LLM_OV_DIR]

Without an argument it exports the demo LLM (nbhelpers/demo-llm) as notebook 00 does.
"""

from __future__ import annotations

import signal
import subprocess
import sys

CASE = """
import json, sys
import numpy as np, openvino as ov, openvino_genai as ov_genai
folder, precision, blocks = sys.argv[1], sys.argv[2], int(sys.argv[3])
sized = {}
if blocks:  # a pool of this many blocks, allocated once; without it, LLMPipeline's default pool grows as needed
    sized["scheduler_config"] = ov_genai.SchedulerConfig()
    sized["scheduler_config"].num_kv_blocks = blocks
pipe = ov_genai.LLMPipeline(folder, "CPU", KEY_CACHE_PRECISION=precision, VALUE_CACHE_PRECISION=precision,
                            INFERENCE_PRECISION_HINT="f32", **sized)
vocab = json.load(open(f"{folder}/config.json"))["vocab_size"]
for tokens in (300, 600, 1200):
    ids = np.random.default_rng(tokens).integers(1, vocab, (1, tokens))
    pipe.generate(ov.Tensor(ids), ov_genai.GenerationConfig(max_new_tokens=4))
"""


def run_case(folder: str, precision: str, blocks: int) -> str:
    """Run the three prompts in a child process; return what happened, in words."""
    done = subprocess.run([sys.executable, "-c", CASE, folder, precision, str(blocks)], capture_output=True,
                          text=True, timeout=600)
    if done.returncode == 0:
        return "completed"
    last = done.stderr.strip().splitlines()[-1:] or ["no message"]
    if done.returncode < 0:
        return f"crashed ({signal.Signals(-done.returncode).name}: {last[0][-100:]})"
    return f"failed (exit {done.returncode}: {last[0][-120:]})"


def main(folder: str) -> int:
    cases = {"u8, growing pool": ("u8", 0), "u4, pool sized up front (64 blocks)": ("u4", 64),
             "u4, growing pool": ("u4", 0)}
    outcome = {label: run_case(folder, *args) for label, args in cases.items()}
    for label, said in outcome.items():
        print(f"{label}: {said}")
    if outcome["u8, growing pool"] != "completed" or outcome["u4, pool sized up front (64 blocks)"] != "completed":
        print("inconclusive: a case without a growing u4 pool fails too")
        return 2
    if outcome["u4, growing pool"] == "completed":
        print("not seen: a growing u4 pool works")
        return 0
    print("present: a u4 cache crashes when its pool grows; a pool sized up front does not grow and works")
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 2:
        model_dir = sys.argv[1]
    else:
        from nbhelpers.export import export_llm

        model_dir = str(export_llm("nbhelpers/demo-llm", "fp16"))
    raise SystemExit(main(model_dir))

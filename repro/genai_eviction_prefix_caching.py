"""Reproduction: cache eviction with prefix caching on fails in a chat (OpenVINO GenAI 2026.4.1, CPU).

An `LLMPipeline` with `use_cache_eviction` (a budget of 256 tokens) and `enable_prefix_caching` is given a chat of
three turns of about 500 tokens each, every turn a `ChatHistory` holding the turns and answers before it. With
prefix caching, each turn reuses the blocks cached for the turns before, some of which were evicted: the second turn
fails with a RuntimeError from GenAI's block manager ("Check 'is_all_free' failed" on the demo LLM, "Check
'm_ref_count > 0' failed" on notebook 11's demo) and the pipeline logs leaked blocks. With a pool sized up front
(notebook 11's demo) the chat answered but logged "BlockAllocator leaked blocks". With prefix caching off, the same
chat completes.

Each case runs in a child process. Exit 1 while the chat with both fails (the bug is there), 0 if it completes.

    python repro/genai_eviction_prefix_caching.py [LLM_OV_DIR]

Without an argument it exports the demo LLM (nbhelpers/demo-llm) as notebook 00 does.
"""

from __future__ import annotations

import subprocess
import sys

CASE = """
import sys
import openvino_genai as ov_genai
folder, prefix = sys.argv[1], sys.argv[2] == "on"
scheduler = ov_genai.SchedulerConfig()
scheduler.enable_prefix_caching = prefix
scheduler.use_cache_eviction = True
scheduler.cache_eviction_config = ov_genai.CacheEvictionConfig(32, 64, 256, ov_genai.AggregationMode.NORM_SUM)
pipe = ov_genai.LLMPipeline(folder, "CPU", scheduler_config=scheduler, INFERENCE_PRECISION_HINT="f32")
history = ov_genai.ChatHistory()
story = "Every morning Mia the cat ran to the big tree and sang a happy song by the river. "
for turn in range(3):
    history.append({"role": "user", "content": story * 25 + "What does Mia do?"})
    reply = pipe.generate(history, ov_genai.GenerationConfig(max_new_tokens=16)).texts[0]
    history.append({"role": "assistant", "content": reply})
    print(f"turn {turn + 1} answered", flush=True)
"""


def run_case(folder: str, prefix: str) -> str:
    """Run the chat in a child process with prefix caching `on` or `off`; return what happened, in words."""
    done = subprocess.run([sys.executable, "-c", CASE, folder, prefix], capture_output=True, text=True, timeout=600)
    turns = done.stdout.count("answered")
    if done.returncode == 0:
        return "completed"
    error = next((line for line in done.stderr.splitlines() if "Check" in line), "no message")
    return f"failed after {turns} turns (exit {done.returncode}: {error.split(' failed at ')[0].strip()[-140:]})"


def main(folder: str) -> int:
    outcome = {prefix: run_case(folder, prefix) for prefix in ("off", "on")}
    for prefix, said in outcome.items():
        print(f"eviction with prefix caching {prefix}: {said}")
    if outcome["off"] != "completed":
        print("inconclusive: the chat fails without prefix caching too")
        return 2
    if outcome["on"] == "completed":
        print("not seen: eviction with prefix caching completes the chat")
        return 0
    print("present: eviction with prefix caching fails in a chat; without prefix caching it completes")
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 2:
        model_dir = sys.argv[1]
    else:
        from nbhelpers.export import export_llm

        model_dir = str(export_llm("nbhelpers/demo-llm", "fp16"))
    raise SystemExit(main(model_dir))

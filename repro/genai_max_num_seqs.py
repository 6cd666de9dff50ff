"""Reproduction: `SchedulerConfig.max_num_seqs` caps the batch only with `dynamic_split_fuse` off (GenAI 2026.4.1).

`max_num_seqs` is documented as the largest number of sequences in one step. With `dynamic_split_fuse` on (the
default), 2026.4.1's scheduler runs every request whose tokens fit in `max_num_batched_tokens`, however many: this
script adds 8 short requests at once to a `ContinuousBatchingPipeline` with `max_num_seqs=2`, steps it, and counts
how many requests got a token in the same step, with split-fuse on and off. It exits 1 if more than 2 ran together
with split-fuse on (the problem is there), 0 if the cap holds in both.

    python repro/genai_max_num_seqs.py [LLM_DIR]

Without an argument it uses the project's demo LLM, exported through nbhelpers (run from the project root).
"""

from __future__ import annotations

import sys

import openvino_genai as ov_genai


def most_in_one_step(model_dir: str, split_fuse: bool) -> int:
    scheduler = ov_genai.SchedulerConfig()
    scheduler.num_kv_blocks, scheduler.max_num_seqs, scheduler.dynamic_split_fuse = 128, 2, split_fuse
    scheduler.max_num_batched_tokens = 256 if split_fuse else 2048
    pipe = ov_genai.ContinuousBatchingPipeline(model_dir, scheduler, "CPU")
    config = ov_genai.GenerationConfig(max_new_tokens=8, ignore_eos=True, apply_chat_template=False)
    handles = [pipe.add_request(i, f"Tell me a story about animal number {i}.", config) for i in range(8)]
    most = 0
    while pipe.has_non_finished_requests():
        pipe.step()
        most = max(most, sum(1 for h in handles if h.can_read() and h.read()))
    return most


def main(model_dir: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    on, off = most_in_one_step(model_dir, True), most_in_one_step(model_dir, False)
    print(f"max_num_seqs=2, 8 requests at once: at most {on} in one step with split-fuse on, {off} with it off")
    ignored = on > 2
    print("max_num_seqs with split-fuse on:", "ignored (the problem is there)" if ignored else "honoured")
    return 1 if ignored else 0


if __name__ == "__main__":
    if len(sys.argv) == 2:
        folder = sys.argv[1]
    else:
        from nbhelpers.export import export_llm

        folder = str(export_llm("nbhelpers/demo-llm", "fp16"))
    raise SystemExit(main(folder))

"""Reproduction: XATTENTION sparse prefill changes the answer even with a threshold that keeps every block
(OpenVINO GenAI 2026.4.1, CPU).

`SparseAttentionConfig(XATTENTION, xattention_threshold=t)` keeps, for each query block of a prefill chunk, the key
blocks whose estimated attention adds up to `t`; with t = 1 (or more) it should keep them all, so a prompt read in
chunks of 256 tokens (`SchedulerConfig.max_num_batched_tokens`) should give the dense pipeline's tokens. It does not:
the greedy tokens differ from those of the same chunked prefill without sparse attention. Controls: TRISHAPE that
retains every token gives the dense tokens, and XATTENTION with the whole prompt in one chunk (nothing to sparsify)
does too. All at f32 compute.

Exit 1 while XATTENTION at threshold 1 differs from dense (the bug is there), 0 if it equals it.

    python repro/genai_xattention_chunked.py [LLM_OV_DIR]

Without an argument it exports the demo LLM (nbhelpers/demo-llm) as notebook 00 does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import openvino as ov
import openvino_genai as ov_genai

PROMPT_TOKENS = 1024


def tokens(folder: str, chunk: int, sparse: ov_genai.SparseAttentionConfig | None) -> list[int]:
    """Greedy tokens after a random-token prompt read in chunks of `chunk` tokens."""
    scheduler = ov_genai.SchedulerConfig()
    scheduler.max_num_batched_tokens = chunk
    if sparse is not None:
        scheduler.use_sparse_attention = True
        scheduler.sparse_attention_config = sparse
    pipe = ov_genai.LLMPipeline(folder, "CPU", scheduler_config=scheduler, INFERENCE_PRECISION_HINT="f32")
    vocab = json.loads((Path(folder) / "config.json").read_text())["vocab_size"]
    ids = np.random.default_rng(0).integers(1, vocab, (1, PROMPT_TOKENS))
    return list(pipe.generate(ov.Tensor(ids), ov_genai.GenerationConfig(max_new_tokens=16)).tokens[0])


def main(folder: str) -> int:
    every_block = ov_genai.SparseAttentionConfig(ov_genai.SparseAttentionMode.XATTENTION,
                                                 num_last_dense_tokens_in_prefill=64, xattention_threshold=1.0)
    every_token = ov_genai.SparseAttentionConfig(ov_genai.SparseAttentionMode.TRISHAPE,
                                                 num_last_dense_tokens_in_prefill=64,
                                                 num_retained_start_tokens_in_cache=32,
                                                 num_retained_recent_tokens_in_cache=PROMPT_TOKENS)
    dense = tokens(folder, 256, None)
    cases = {"XATTENTION, threshold 1, chunks of 256": tokens(folder, 256, every_block),
             "TRISHAPE retaining every token, chunks of 256": tokens(folder, 256, every_token),
             "XATTENTION, threshold 1, one chunk": tokens(folder, PROMPT_TOKENS + 64, every_block)}
    print(f"dense, chunks of 256: {dense}")
    for label, found in cases.items():
        print(f"{label}: {found} ({'same' if found == dense else 'differs'})")
    controls = [found == dense for label, found in cases.items() if not label.startswith("XATTENTION, threshold 1, c")]
    if not all(controls):
        print("inconclusive: a control differs from dense too")
        return 2
    if cases["XATTENTION, threshold 1, chunks of 256"] == dense:
        print("not seen: XATTENTION with every block kept gives the dense tokens")
        return 0
    print("present: XATTENTION with a threshold that keeps every block changes the tokens of a chunked prefill")
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 2:
        model_dir = sys.argv[1]
    else:
        from nbhelpers.export import export_llm

        model_dir = str(export_llm("nbhelpers/demo-llm", "fp16"))
    raise SystemExit(main(model_dir))

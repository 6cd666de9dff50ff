"""Reproduction: two problems of speculative decoding in openvino-genai 2026.4.1 (CPU, continuous-batching backend).

1. With greedy decoding, `assistant_confidence_threshold` changes nothing unless `logprobs` is set: a threshold
   almost every draft token passes (0.001) and one almost none passes (0.999) offer and accept exactly as many draft
   tokens as `num_assistant_tokens=1`. GenAI's sampler pauses the draft when a token's recorded log-probability is
   exactly 0, and greedy sampling records 0 unless `logprobs` is asked for (sampler.cpp, read in the repository).
   With `logprobs=1` the two thresholds draft differently, as they do with sampling: the script shows both.
2. Speculative *sampling* (`do_sample=True` with a draft model) stops about half of the calls with the internal check
   `content_length <= prompt_ids.size() + m_generated_ids.size()`; greedy speculative decoding is unaffected.

Seen with the project's demo pair (a target padded to ~100 M parameters and its distilled draft, which share a
tokenizer) on an AMD EPYC CPU (AVX-512 BF16, no AMX). Needs two exported LLM folders that share a tokenizer; without
arguments it uses the demo pair, exported through nbhelpers (run from the project root after `make install`).
Prints what it saw and exits 1 if either problem is present, 0 if neither.

    python repro/genai_speculative.py [TARGET_DIR DRAFT_DIR]
"""

from __future__ import annotations

import sys

import openvino_genai as ov_genai

PROMPTS = ["Tell me a story about Otto the frog.", "Tell me a story about Mia the pig.",
           "Write a short story about Zoe the mouse.", "Can you tell a story about Ada the owl?"]


def draft_counts(pipe: ov_genai.LLMPipeline, **choice: float) -> tuple[int, int]:
    """Draft tokens offered and accepted over PROMPTS, greedy, with `choice` (num_assistant_tokens or a threshold,
    and logprobs)."""
    offered = accepted = 0
    for prompt in PROMPTS:
        result = pipe.generate([prompt], ov_genai.GenerationConfig(max_new_tokens=64, do_sample=False, **choice))
        offered += result.extended_perf_metrics.get_num_draft_tokens()
        accepted += result.extended_perf_metrics.get_num_accepted_tokens()
    return offered, accepted


def main(target: str, draft: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    pipe = ov_genai.LLMPipeline(target, "CPU", draft_model=ov_genai.draft_model(draft, "CPU"))
    counts = {"k=1": draft_counts(pipe, num_assistant_tokens=1),
              "p=0.001": draft_counts(pipe, assistant_confidence_threshold=0.001),
              "p=0.999": draft_counts(pipe, assistant_confidence_threshold=0.999),
              "p=0.001, logprobs=1": draft_counts(pipe, assistant_confidence_threshold=0.001, logprobs=1),
              "p=0.999, logprobs=1": draft_counts(pipe, assistant_confidence_threshold=0.999, logprobs=1)}
    for label, (offered, accepted) in counts.items():
        print(f"  {label:20} draft tokens offered {offered:4}, accepted {accepted:4}")
    ignored = counts["p=0.001"] == counts["p=0.999"] == counts["k=1"]
    with_logprobs = counts["p=0.001, logprobs=1"] != counts["p=0.999, logprobs=1"]
    print("1. greedy assistant_confidence_threshold without logprobs:",
          "drafts like k=1 (the problem is there)" if ignored else "works",
          "; with logprobs=1:", "works" if with_logprobs else "drafts alike for both thresholds")
    failures = []
    for seed in range(8):
        fresh = ov_genai.LLMPipeline(target, "CPU", draft_model=ov_genai.draft_model(draft, "CPU"))
        config = ov_genai.GenerationConfig(max_new_tokens=64, do_sample=True, temperature=1.0, rng_seed=seed,
                                           num_assistant_tokens=4)
        try:
            fresh.generate([PROMPTS[seed % len(PROMPTS)]], config)
        except RuntimeError as error:
            failures.append(str(error).splitlines()[0])
    print(f"2. speculative sampling: {len(failures)} of 8 calls failed", *sorted(set(failures))[:1], sep="\n   ")
    return 1 if ignored or failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3:
        folders = sys.argv[1:]
    else:
        from nbhelpers.export import llm_dir

        folders = [str(llm_dir("nbhelpers/demo-llm-padded")), str(llm_dir("nbhelpers/demo-llm-draft"))]
    raise SystemExit(main(*folders))

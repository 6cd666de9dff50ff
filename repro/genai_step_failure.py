"""Reproduction: one request whose JSON schema xgrammar cannot compile fails `step()` for every request in the
batch, and the pipeline stays failed until every request of that step is cancelled (GenAI 2026.4.1).

`ContinuousBatchingPipeline` compiles a request's grammar during the step that first samples it. A valid JSON
schema that no value satisfies (`{"enum": []}`) makes that step raise, for the good requests in it too; cancelling
only the bad request leaves every later step raising; cancelling all of them lets the next step succeed. This
script runs a good request next to such a bad one, cancels the bad one and steps three times, then cancels the
good one too and steps again. It exits 1 if a failed step still takes the whole batch down with it (the problem is
there), 0 if the good request finishes. The workaround in nbhelpers.serve: refuse what is not a JSON schema
before it reaches GenAI; when a step fails anyway, end every request of that step and cancel them all (a fresh
pipeline if the steps still fail).

    python repro/genai_step_failure.py [LLM_DIR]

Without an argument it uses the project's demo LLM, exported through nbhelpers (run from the project root).
"""

from __future__ import annotations

import sys

import openvino_genai as ov_genai


def main(model_dir: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    scheduler = ov_genai.SchedulerConfig()
    scheduler.num_kv_blocks = 64
    pipe = ov_genai.ContinuousBatchingPipeline(model_dir, scheduler, "CPU")
    good = ov_genai.GenerationConfig(max_new_tokens=8, apply_chat_template=False)
    bad = ov_genai.GenerationConfig(max_new_tokens=8, apply_chat_template=False)
    bad.structured_output_config = ov_genai.StructuredOutputConfig(json_schema='{"enum": []}')
    good_handle, bad_handle = pipe.add_request(0, "Hello", good), pipe.add_request(1, "Hello", bad)
    outcomes = []
    for step in range(4):
        if step == 1:
            bad_handle.cancel()
        try:
            pipe.step()
            outcomes.append("ok")
        except RuntimeError as error:
            outcomes.append(f"failed ({str(error).strip().splitlines()[-1][-60:]})")
    print("steps with a good and a bad request, the bad one cancelled after the first:", *outcomes, sep="\n  ")
    if outcomes[-1] == "ok" and good_handle.get_status() != ov_genai.GenerationStatus.IGNORED:
        print("not seen: the good request goes on once the bad one is cancelled")
        return 0
    good_handle.cancel()
    pipe.step()
    print("present: the steps fail until every request of the failed step is cancelled; after that the next step"
          f" succeeds ({'no' if not pipe.has_non_finished_requests() else 'some'} requests left)")
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 2:
        folder = sys.argv[1]
    else:
        from nbhelpers.export import export_llm

        folder = str(export_llm("nbhelpers/demo-llm", "fp16"))
    raise SystemExit(main(folder))

"""Serving rows of the benchmark: `ContinuousBatchingPipeline` with 1, 4 and 8 users arriving at once.

Each configuration (a number of users) runs in its own worker (`workers.run_interleaved`), like the decode rows. A
repetition sends every user a different prompt of the same length (the benchmark's prompt rotated, so no two share a
prefix; prefix caching is off), runs the pipeline's step loop until all users have their tokens, and reports the
aggregate rate (every user's new tokens over the wall time from the first request to the last token), the median
user's TPOT (mean time between its tokens) and TTFT. The notebook `08-serving` teaches the same loop.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USERS = (1, 4, 8)
KV_BLOCKS = 512  # the cache pool, allocated up front: room for 8 users of a few hundred tokens, no growth mid-run


@dataclass(frozen=True)
class ServingTiming:
    """One repetition: aggregate new tokens per second of all users, the median user's TPOT and TTFT (ms)."""

    tokens_per_s: float
    tpot_ms: float
    ttft_ms: float


class ServingEngine:
    """`ContinuousBatchingPipeline` on an exported model, serving `users` requests that arrive together."""

    engine = "openvino serving"

    def __init__(self, model_dir: Path, users: int, precision: str, device: str = "CPU") -> None:
        import openvino_genai as ov_genai

        from nbhelpers.bench.engines import ir_weight_bytes

        scheduler = ov_genai.SchedulerConfig()
        scheduler.num_kv_blocks = KV_BLOCKS
        scheduler.enable_prefix_caching = False
        self.pipe = ov_genai.ContinuousBatchingPipeline(str(model_dir), scheduler, device)
        self.users, self.precision = users, precision
        self.weight_bytes = ir_weight_bytes(model_dir)

    def generate(self, prompt: list[int], new_tokens: int) -> ServingTiming:
        import numpy as np
        import openvino as ov
        import openvino_genai as ov_genai

        config = ov_genai.GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, ignore_eos=True,
                                           do_sample=False)
        start = time.perf_counter()
        handles = [self.pipe.add_request(user, ov.Tensor(np.array([prompt[user:] + prompt[:user]], dtype=np.int64)),
                                         config) for user in range(self.users)]
        times: list[list[float]] = [[] for _ in handles]
        while self.pipe.has_non_finished_requests():
            self.pipe.step()  # one model call: prompt chunks of new users and one token for each generating user
            now = time.perf_counter() - start
            for user, handle in enumerate(handles):
                if handle.can_read():
                    for output in handle.read().values():
                        times[user] += [now] * len(output.generated_ids)
        tokens = sum(map(len, times))
        if tokens != new_tokens * self.users:
            raise RuntimeError(f"{tokens} tokens came out, {new_tokens * self.users} were asked for")
        tpot = [(t[-1] - t[0]) / (len(t) - 1) for t in times if len(t) > 1]
        return ServingTiming(tokens / max(t[-1] for t in times), statistics.median(tpot) * 1000 if tpot else 0.0,
                             statistics.median(t[0] for t in times) * 1000)


def serving_row(size: str, users: int, measured: Any) -> dict[str, Any]:
    """Return the result row of one number of users: medians of its runs, or how it failed."""
    row: dict[str, Any] = {"size": size, "users": users, "precision": measured.spec.kwargs["precision"],
                           "status": measured.status}
    if measured.status == "ok":
        runs = [ServingTiming(**answer[0]) for answer in measured.results]
        rates = [r.tokens_per_s for r in runs]
        row.update(tokens_per_s=statistics.median(rates), tokens_per_s_low=min(rates),
                   tokens_per_s_high=max(rates), tpot_ms=statistics.median(r.tpot_ms for r in runs),
                   ttft_ms=statistics.median(r.ttft_ms for r in runs))
    else:
        row.update(failed_during=measured.failed_during, stderr_tail=measured.stderr_tail)
    return row


def measure_serving(size: str, model_dir: Path, precision: str, config: Any, out_dir: Path,
                    users: tuple[int, ...] = USERS) -> list[dict[str, Any]]:
    """Measure `users` users at once on the model at `model_dir`, each number of users in its own worker, interleaved;
    return the rows, with each rate relative to one user's. Rows are appended to `out_dir/rows.jsonl` as known."""
    import numpy as np

    from nbhelpers.bench.report import append_row
    from nbhelpers.bench.workers import EngineSpec, run_interleaved

    rng = np.random.default_rng(2)
    runs = config.warmup + config.repeats
    prompts = [[int(t) for t in rng.integers(3, 900, config.short_prompt)] for _ in range(runs)]
    specs = [EngineSpec("openvino serving", f"{precision}, {n} users", "nbhelpers.bench.serving:ServingEngine",
                        {"model_dir": str(model_dir), "users": n, "precision": precision}) for n in users]
    rows: dict[int, dict[str, Any]] = {}

    def on_done(measured: Any) -> None:
        rows[id(measured)] = row = serving_row(size, measured.spec.kwargs["users"], measured)
        append_row(out_dir / "rows.jsonl", {"kind": "serving", **row})

    measured = run_interleaved(specs, lambda rep: [(prompts[rep], config.new_tokens)], config.warmup, config.repeats,
                               config.timeout, out_dir / "logs" / f"{size}-serving", on_done=on_done)
    records = [rows[id(m)] for m in measured]
    one = next((r["tokens_per_s"] for r in records if r["users"] == 1 and r["status"] == "ok"), None)
    for r in records:
        if r["status"] == "ok" and one:
            r["vs_one_user"] = r["tokens_per_s"] / one
    return records

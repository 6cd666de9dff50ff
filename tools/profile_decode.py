"""Where an OpenVINO LLM's decode step spends its time: the CPU plugin's own per-operation counters.

    python -m tools.profile_decode models/bench/1.5b/ov-int4-sym-cw [--steps 10] [--prompt 32] [--f32]

Compiles the IR's stateful model with `PERF_COUNT: YES`, reads a random prompt, then times `--steps` single-token
steps and sums the counters of those steps by operation type and kernel (`exec_type`, such as
`brgemm_avx512_bf16`). The benchmark's README section quotes its output for the model that leaves the caches.
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def profile(folder: Path, steps: int = 10, prompt: int = 32, f32: bool = False) -> dict[str, object]:
    """Return the step time (ms, median) and the share of the summed counters per (op type, kernel)."""
    import openvino as ov

    config = {"PERF_COUNT": "YES", **({"INFERENCE_PRECISION_HINT": "f32"} if f32 else {})}
    request = ov.Core().compile_model(folder / "openvino_model.xml", "CPU", config).create_infer_request()
    rng = np.random.default_rng(0)

    def step(ids: np.ndarray, past: int) -> None:
        n = ids.shape[1]
        request.infer({"input_ids": ids, "attention_mask": np.ones((1, past + n), np.int64),
                       "position_ids": np.arange(past, past + n)[None], "beam_idx": np.zeros(1, np.int32)})

    request.reset_state()
    step(rng.integers(3, 900, (1, prompt)), 0)
    totals: collections.Counter[tuple[str, str]] = collections.Counter()
    times = []
    for t in range(steps):
        start = time.perf_counter()
        step(rng.integers(3, 900, (1, 1)), prompt + t)
        times.append((time.perf_counter() - start) * 1000)
        for info in request.get_profiling_info():
            totals[(info.node_type, info.exec_type)] += info.real_time.total_seconds()
    whole = sum(totals.values())
    return {"step_ms": float(np.median(times)),
            "shares": {f"{op} ({kernel})": seconds / whole for (op, kernel), seconds in totals.most_common(8)}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an exported OpenVINO LLM (openvino_model.xml)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--f32", action="store_true", help="INFERENCE_PRECISION_HINT: f32")
    args = parser.parse_args(argv)
    result = profile(args.folder, args.steps, args.prompt, args.f32)
    print(f"{args.folder}: {result['step_ms']:.1f} ms per step (median of {args.steps})")
    for name, share in result["shares"].items():
        print(f"  {share:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Timing helpers: GenAI's own perf metrics as a row, honest repeated measurements, a small table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated measurements (min and max, plus the raw values)."""

    median: float
    low: float
    high: float
    values: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.median:.1f} [{self.low:.1f}-{self.high:.1f}]"


def spread(values: Sequence[float]) -> Spread:
    """Return the `Spread` of `values`. Raises ValueError if there are none."""
    if not values:
        raise ValueError("no measurements: run at least one repetition")
    return Spread(statistics.median(values), min(values), max(values), tuple(values))


def perf_row(perf_metrics: Any) -> dict[str, float]:
    """Return GenAI `PerfMetrics` as a dict: TTFT and TPOT (ms), throughput (tokens/s), load time (ms), token counts."""
    return {
        "ttft_ms": perf_metrics.get_ttft().mean,
        "tpot_ms": perf_metrics.get_tpot().mean,
        "throughput_tps": perf_metrics.get_throughput().mean,
        "load_ms": perf_metrics.get_load_time(),
        "input_tokens": perf_metrics.get_num_input_tokens(),
        "new_tokens": perf_metrics.get_num_generated_tokens(),
    }


def interleaved(
    variants: Mapping[str, Callable[[int], Any]], repeats: int = 5, warmup: int = 1
) -> dict[str, list[Any]]:
    """Call each variant `warmup + repeats` times, round-robin, so machine drift hits all alike.

    Each callable gets the repetition index (use it to vary the prompt) and returns a measurement
    (for example a `perf_row`), or None to have its wall time in ms recorded instead. Warm-up
    results are dropped. Returns {variant: [measurement per repetition]}.
    """
    results: dict[str, list[Any]] = {name: [] for name in variants}
    for rep in range(warmup + repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            value = fn(rep)
            elapsed_ms = (time.perf_counter() - start) * 1000
            if rep >= warmup:
                results[name].append(elapsed_ms if value is None else value)
    return results


def markdown_table(rows: Mapping[str, Mapping[str, Any]], digits: int = 1) -> str:
    """Return {row name: {column: value}} as a markdown table (floats rounded to `digits`)."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(c for row in rows.values() for c in row))

    def fmt(v: Any) -> str:
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for name, r in rows.items()]
    return "\n".join(lines)

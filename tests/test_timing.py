from __future__ import annotations

from types import SimpleNamespace

import pytest

from nbhelpers.timing import interleaved, markdown_table, perf_row, spread


def test_spread() -> None:
    s = spread([3.0, 1.0, 2.0])
    assert (s.median, s.low, s.high) == (2.0, 1.0, 3.0)
    assert str(s) == "2.0 [1.0-3.0]"
    with pytest.raises(ValueError, match="no measurements"):
        spread([])


def test_interleaved_round_robin_and_warmup() -> None:
    order: list[tuple[str, int]] = []
    results = interleaved({"a": lambda r: order.append(("a", r)) or r * 10, "b": lambda r: order.append(("b", r))},
                          repeats=2, warmup=1)
    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert results["a"] == [10, 20]
    assert len(results["b"]) == 2 and all(isinstance(v, float) and v >= 0 for v in results["b"])


def test_perf_row_reads_genai_metrics() -> None:
    mean = lambda v: SimpleNamespace(mean=v)  # noqa: E731
    fake = SimpleNamespace(get_ttft=lambda: mean(50.0), get_tpot=lambda: mean(10.0),
                           get_throughput=lambda: mean(100.0), get_load_time=lambda: 300.0,
                           get_num_input_tokens=lambda: 7, get_num_generated_tokens=lambda: 5)
    assert perf_row(fake) == {"ttft_ms": 50.0, "tpot_ms": 10.0, "throughput_tps": 100.0, "load_ms": 300.0,
                              "input_tokens": 7, "new_tokens": 5}


def test_markdown_table() -> None:
    table = markdown_table({"fp16": {"ttft_ms": 12.345, "tokens": 3}, "int8": {"ttft_ms": 8.0}})
    assert table.splitlines() == ["| | ttft_ms | tokens |", "|---|---|---|",
                                  "| fp16 | 12.3 | 3 |", "| int8 | 8.0 |  |"]
    assert markdown_table({}) == ""

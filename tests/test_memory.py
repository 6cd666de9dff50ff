from __future__ import annotations

import pytest

from nbhelpers.memory import rss_bytes, run_isolated


def test_rss_grows_when_memory_is_touched() -> None:
    before = rss_bytes()
    block = bytearray(64 * 1024 * 1024)
    assert rss_bytes() - before > 32 * 1024 * 1024
    del block


def test_run_isolated_returns_last_json_line() -> None:
    script = "import json, sys; print('noise'); print(json.dumps({'args': sys.argv[1:]}))"
    assert run_isolated(script, 1, "x") == {"args": ["1", "x"]}


def test_run_isolated_reports_failures() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_isolated("1/0")
    with pytest.raises(RuntimeError, match="exit 0"):
        run_isolated("print('no json')")

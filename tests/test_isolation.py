from __future__ import annotations

from pathlib import Path

import pytest

from nbhelpers import isolation
from nbhelpers.isolation import (
    ChildOutcome,
    compile_in_child,
    first_that_compiles,
    fp16_weight_model,
    run_isolated,
    run_python,
)


def test_a_child_killed_by_a_signal_is_reported_and_the_parent_goes_on() -> None:
    outcome = run_python("import os, signal; os.kill(os.getpid(), signal.SIGFPE)", None, "a crashing call")
    assert not outcome.ok and outcome.signal_name == "SIGFPE"
    assert outcome.describe() == "a crashing call: crashed (SIGFPE)"


def test_errors_timeouts_and_results_of_the_child() -> None:
    failed = run_python("raise SystemExit('the reason')", None, "x")
    assert not failed.ok and failed.returncode == 1 and failed.describe() == "x: failed (exit code 1): the reason"
    slow = run_python("import time; time.sleep(30)", None, "slow", timeout=1)
    assert not slow.ok and slow.returncode is None and "did not finish in time" in slow.describe()
    code = f"import json, sys; print({isolation.RESULT!r} + json.dumps({{'twice': 2 * json.loads(sys.argv[1])}}))"
    assert run_python(code, 21, "y").result == {"twice": 42}


def test_compile_in_child_reports_what_the_plugin_chose(tmp_path: Path) -> None:
    xml = fp16_weight_model(tmp_path)
    one = compile_in_child(xml, "CPU", {"NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32"})
    assert one.ok and one.result["NUM_STREAMS"] == "1" and one.result["INFERENCE_PRECISION_HINT"] == "f32", one
    assert one.describe().endswith("with NUM_STREAMS=1, INFERENCE_PRECISION_HINT=f32: works")
    bad = compile_in_child(xml, "CPU", {"NO_SUCH_PROPERTY": "1"})
    assert not bad.ok and bad.returncode == 1 and "NO_SUCH_PROPERTY" in bad.stderr_tail


def test_first_that_compiles_falls_back_to_the_workaround(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(xml: object, device: str, config: dict, timeout: float) -> ChildOutcome:
        crash = "INFERENCE_PRECISION_HINT" not in config
        return ChildOutcome(not crash, str(config), -8 if crash else 0)

    monkeypatch.setattr(isolation, "compile_in_child", fake)
    wanted, workaround = {"PERFORMANCE_HINT": "THROUGHPUT"}, {"PERFORMANCE_HINT": "THROUGHPUT",
                                                              "INFERENCE_PRECISION_HINT": "f32"}
    config, outcomes = first_that_compiles("m.xml", "CPU", [wanted, workaround])
    assert config == workaround and [o.signal_name for o in outcomes] == ["SIGFPE", None]
    assert first_that_compiles("m.xml", "CPU", [wanted]) == (None, [outcomes[0]])


def test_run_isolated_returns_last_json_line() -> None:
    script = "import json, sys; print('noise'); print(json.dumps({'args': sys.argv[1:]}))"
    assert run_isolated(script, 1, "x") == {"args": ["1", "x"]}


def test_run_isolated_reports_failures() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_isolated("1/0")
    with pytest.raises(RuntimeError, match="exit 0"):
        run_isolated("print('no json')")

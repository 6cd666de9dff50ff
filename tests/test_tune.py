"""`python -m nbhelpers tune`: its choices, its crash handling, its quality scoring and the whole quick run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tqdm import tqdm

from nbhelpers import __main__ as cli
from nbhelpers import tune
from nbhelpers.tune import DQ, KV, PRECISION, THREADS, TuneConfig, label


def perf(tps: float) -> dict[str, float]:
    return {"tpot_ms": 1000 / tps, "ttft_ms": 10.0}


def test_labels_follow_the_stages_and_default_removes_a_setting() -> None:
    config = tune._with(tune._with(("int8", ()), THREADS, "1"), PRECISION, "f32")
    assert label(config) == "int8, precision f32, threads 1"
    assert label(tune._with(config, PRECISION, "default")) == "int8, threads 1"
    assert label(("fp16", ())) == "fp16, defaults"


def test_a_knob_changes_only_for_a_gain_above_min_gain() -> None:
    incumbent, faster, slower = ("a", ()), ("a", ((DQ, "0"),)), ("a", ((DQ, "64"),))
    measured = {incumbent: [perf(100)], faster: [perf(102)], slower: [perf(90)]}
    assert tune._choose(measured, incumbent, min_gain=0.03) == incumbent  # 2 %: within the noise
    assert tune._choose(measured, incumbent, min_gain=0.01) == faster
    assert tune._choose({faster: [perf(102)]}, incumbent, 0.03) == faster  # the incumbent crashed
    rounds = {incumbent: [perf(100), perf(100), perf(100)], faster: [perf(120), perf(120), perf(95)],
              slower: [perf(110), perf(105), perf(104)]}
    assert tune._choose(rounds, incumbent, 0.03) == slower  # faster at the median, but slower in one round


def test_rows_are_paired_speed_ups_and_failures_say_why() -> None:
    base, other, broken = ("fp16", ()), ("fp16", ((PRECISION, "f32"),)), ("fp16", ((KV, "u8"),))
    measured = {base: [perf(100), perf(50)], other: [perf(150), perf(50)]}
    rows = tune._stage_rows("s", measured, {broken: "loading fp16, kv cache u8: crashed (SIGFPE)"}, base)
    assert [r["label"] for r in rows] == ["fp16, defaults", "fp16, precision f32", "fp16, kv cache u8"]
    assert rows[1]["speedup"].values == (1.5, 1.0) and rows[1]["decode_tps"].median == 100
    assert rows[2]["decode_tps"] is None and rows[2]["status"].endswith("crashed (SIGFPE)")


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])  # missing; exists but holds no model
def test_a_bad_model_dir_says_what_to_do(make, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make(tmp_path)
    assert cli.main(["tune", "--quick", "--model-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder}") and ("does not exist" in err or "is incomplete" in err), err
    assert "optimum-cli export openvino" in err or "export again" in err, err


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.slow
def test_quick_tune_prints_the_table_and_recommendation_and_writes_json(
        offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tune.json"
    assert cli.main(["tune", "--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for expected in ("| stage | configuration | decode tokens/s | TTFT ms | speed-up over defaults |",
                     "| fp16, defaults |", "| int8, defaults |", "Recommended on this machine", "ov_config: {",
                     "optimum-cli export openvino --model MODEL", "Quality cost on nbhelpers/demo-llm"):
        assert expected in printed, expected
    report = json.loads(out.read_text())
    ran = [r for r in report["rows"] if r["status"] == "ok"]
    assert ran and all(r["decode_tps"]["median"] > 0 and r["speedup"]["median"] > 0 for r in ran)
    assert {r["stage"] for r in report["rows"]} >= {"weights, precision", "kv cache", "threads"}
    rec = report["recommendation"]
    assert rec["weights"] in ("fp16", "int8") and rec["export_flags"][:2] == ["--weight-format", rec["weights"]]
    assert set(rec["ov_config"]) <= {PRECISION, DQ, KV, THREADS}
    assert report["quality"]["error"] is None
    assert all(math.isfinite(kl) and kl >= 0 for kl in report["quality"]["kl"].values())


@pytest.mark.slow
def test_a_configuration_that_kills_the_child_becomes_a_row_and_is_not_recommended(
        offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhelpers.export import export_llm

    monkeypatch.setenv(tune.FAKE_CRASH, f"{KV}=u8")  # the child dies with SIGFPE loading it, as on Intel AMX
    report = tune.tune(TuneConfig.quick(export_llm(tune.DEMO, "fp16")))
    crashed = [r for r in report["rows"] if "kv cache u8" in r["label"]]
    assert crashed and crashed[0]["status"].endswith("kv cache u8: crashed (SIGFPE)"), crashed
    assert any(r["stage"] == "kv cache" and r["status"] == "ok" for r in report["rows"])  # the others ran again
    assert any(r["stage"] == "threads" and r["status"] == "ok" for r in report["rows"])  # and the run went on
    assert report["recommendation"]["ov_config"].get(KV) != "u8"


@pytest.mark.slow
def test_run_stage_reports_a_python_error_and_measures_the_rest(offline: None, tmp_path: Path) -> None:
    from nbhelpers.export import export_llm

    good, bad = ("fp16", ()), ("fp16", ((PRECISION, "no-such-precision"),))
    cfg = TuneConfig.quick()
    with tqdm(total=0, disable=True) as bar:
        measured, failed = tune._run_stage([good, bad], {"fp16": export_llm(tune.DEMO, "fp16")}, cfg, 0, bar)
    assert list(measured) == [good] and len(measured[good]) == cfg.repeats
    assert failed[bad].startswith("loading fp16, precision no-such-precision: failed (exit code 1)"), failed


@pytest.mark.slow
def test_decode_log_probs_matches_one_pass_scoring_and_sees_the_kv_cache(offline: None) -> None:
    import openvino as ov
    import openvino_genai as ov_genai

    from nbhelpers.demos.corpus import chat_corpus
    from nbhelpers.export import export_llm
    from nbhelpers.quality import answer_log_probs, decode_log_probs, kl_divergence

    folder = export_llm(tune.DEMO, "fp16")
    core, tokenizer, chats = ov.Core(), ov_genai.Tokenizer(folder), chat_corpus("heldout", stories_per_pair=1)[:2]

    def request(config: dict[str, str]) -> ov.InferRequest:
        return core.compile_model(folder / "openvino_model.xml", "CPU", config).create_infer_request()

    stepped = decode_log_probs(request(tune.REFERENCE), tokenizer, chats)
    one_pass = answer_log_probs(request(tune.REFERENCE), tokenizer, chats)
    for (log_probs, answer), chat in zip(stepped, chats, strict=True):  # scored on the answer and its end, no more
        assert tokenizer.decode(answer.tolist(), skip_special_tokens=False).startswith(chat.assistant + "<|endoftext|>")
        assert log_probs.shape[0] == len(answer)
    noise = kl_divergence(one_pass, stepped)  # f32 throughout, only the order of additions differs: measured 9e-9
    assert noise < 1e-6
    u8 = {**tune.REFERENCE, KV: "u8"}
    assert kl_divergence(one_pass, answer_log_probs(request(u8), tokenizer, chats)) == 0  # one pass never reads it
    assert kl_divergence(stepped, decode_log_probs(request(u8), tokenizer, chats)) > 10 * noise  # measured 7e-6


def test_a_stage_that_overruns_its_timeout_is_stopped_and_reported(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    hang = tmp_path / "python-that-hangs"  # stands in for the interpreter: the child never reports anything
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    monkeypatch.setattr(tune.sys, "executable", str(hang))
    cfg = TuneConfig(timeout=0.3)
    with tqdm(total=0, disable=True) as bar:
        measured, failed = tune._run_stage([("fp16", ())], {"fp16": tmp_path}, cfg, 0, bar)
    assert measured == {} and failed == {("fp16", ()): "starting: did not finish in time (stopped)"}

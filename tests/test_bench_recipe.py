"""The benchmark's comparison of the project's advice with llama.cpp: the recipe from a tuner report, the speculative
rows of both engines (fake decoders in worker processes: no model, no llama.cpp) and the summary table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbhelpers.bench import recipe, speculative
from nbhelpers.bench.__main__ import parse_args
from nbhelpers.bench.report import write_markdown
from nbhelpers.bench.speculative import Generated
from nbhelpers.bench.workers import EngineSpec

FAKE = f"{__name__}:FakeDecoder"
PROMPTS = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]


class FakeDecoder:
    """Answers each prompt with its tokens reversed in `seconds`, in `passes` target passes; `differ_on`: the prompt
    (by first token) whose answer it changes; `crash`: it dies on its first call."""

    def __init__(self, precision: str, seconds: float, passes: int = 3, differ_on: int = -1,
                 crash: bool = False) -> None:
        self.precision, self.weight_bytes, self.seconds, self.passes = precision, 1000, seconds, passes
        self.differ_on, self.crash = differ_on, crash

    def generate(self, prompt: list[int], new_tokens: int) -> Generated:
        if self.crash:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGSEGV)
        tokens = prompt[::-1]
        if prompt[0] == self.differ_on:
            tokens[0] = 99
        return Generated(self.seconds, tokens, self.passes)


def test_speculative_rows_compare_each_engine_with_its_own_plain_run(tmp_path: Path) -> None:
    def spec(engine: str, method: str, **kwargs: object) -> EngineSpec:
        return EngineSpec(engine, method, FAKE, {"precision": method, **kwargs})

    specs = [spec("openvino", "plain", seconds=1.0), spec("openvino", "draft", seconds=0.25, passes=1),
             spec("llama.cpp", "plain", seconds=2.0), spec("llama.cpp", "lookup", seconds=1.0, differ_on=6),
             spec("llama.cpp", "draft", seconds=1.0, crash=True)]
    measured = speculative.measure(specs, PROMPTS, per_round=2, new_tokens=8, warmup=1, repeats=2, timeout=60,
                                   log_dir=tmp_path)
    rows = {(r["engine"], r["method"]): r for r in speculative.rows(measured, lambda m: "w")}
    plain, draft = rows["openvino", "plain"], rows["openvino", "draft"]
    # rounds 1 and 2 (round 0 is the warm-up): prompts 3, 4 then 1, 2 -> 5 and 5 new tokens (prompt 4 adds none)
    assert plain["tokens_per_s"] == pytest.approx(5 / 2) and plain["speedup"] == 1.0
    assert draft["speedup"] == pytest.approx(4.0) and draft["tokens_per_pass"] == pytest.approx(10 / 4)
    assert (plain["identical"], plain["compared"], draft["identical"]) == (4, 4, 4)
    lookup = rows["llama.cpp", "lookup"]
    assert lookup["speedup"] == pytest.approx(2.0) and lookup["identical"] == 3  # prompt 6's answer differs
    assert rows["llama.cpp", "draft"]["status"] == "crashed: SIGSEGV" and "speedup" not in rows["llama.cpp", "draft"]


def recommended(report_speedup: float = 1.2) -> dict:
    return {"model": "m", "recommendation": {"weights": "int4-sym-cw", "ov_config": {"INFERENCE_PRECISION_HINT": "f32"},
                                             "export_flags": ["--weight-format", "int4", "--sym", "--group-size", "-1"],
                                             "speedup": report_speedup}}


def test_a_tuner_report_gives_the_recipe_and_a_useless_one_says_what_to_run(tmp_path: Path) -> None:
    chosen = recipe.from_report(recommended(), "t.json")
    assert chosen["label"] == "int4-sym-cw, precision f32" and chosen["export_flags"][1] == "int4"
    with pytest.raises(ValueError, match="without --model-dir"):
        recipe.from_report({"recommendation": {"weights": "as exported", "ov_config": {}, "export_flags": None}}, "t")
    with pytest.raises(ValueError, match="no recommendation"):
        recipe.from_report({"recommendation": None}, "t")
    path = tmp_path / "tune.json"
    path.write_text(json.dumps(recommended()))
    config, _ = parse_args(["--out", str(tmp_path), "--tune", str(path)])
    assert config.tune_json == str(path)
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), "--tune", str(tmp_path / "missing.json")])


def test_summary_sets_the_recipe_against_llama_cpps_best_at_equal_bits(tmp_path: Path) -> None:
    def row(engine: str, precision: str, tps: float, ttft: float, status: str = "ok") -> dict:
        return {"size": "1.5b", "engine": engine, "precision": precision, "params": 1.5e9, "status": status,
                "tokens_per_s": tps, "tokens_per_s_low": tps, "tokens_per_s_high": tps, "ttft_ms": 1.0,
                "ttft_long_ms": ttft, "roofline_fraction": 0.5, "weight_bytes": 8e8, "failed_during": "run 0"}

    chosen = recipe.from_report(recommended(), "t.json")
    decode = [row("openvino", f"{recipe.RECOMMENDED} ({chosen['label']})", 30.0, 6000.0),
              row("llama.cpp", "q8_0", 50.0, 1.0),  # faster, but not at equal bits
              row("llama.cpp", "q4_0, no extra buffer types (AMX off)", 34.0, 13000.0),  # a fallback row counts
              row("llama.cpp", "q4_k_m", 20.0, 9000.0), row("llama.cpp", "q4_0", 0.0, 0.0, status="crashed: SIGSEGV")]
    spec = [{"engine": e, "method": m, "weights": "w", "status": "ok", "tokens_per_s": t, "tokens_per_s_low": t,
             "tokens_per_s_high": t, "speedup": s, "speedup_low": s, "speedup_high": s, "tokens_per_pass": 2.0,
             "identical": 4, "compared": 4}
            for e, m, t, s in [("openvino", "plain", 100.0, 1.0), ("openvino", "EAGLE-3 chain, k=5", 300.0, 3.0),
                               ("llama.cpp", "plain", 150.0, 1.0), ("llama.cpp", "draft model, k=4", 250.0, 1.67)]]
    results = {"machine": {"cpu": "Test CPU", "physical_cores": 2, "logical_cores": 2, "memory_gib": 1, "flags": []},
               "config": {"short_prompt": 32, "long_prompt": 1024, "new_tokens": 64, "repeats": 3},
               "command": "python -m nbhelpers.bench", "decode": decode, "bandwidth_gbs": 40.0,
               "bandwidth": {"read": 40.0}, "bandwidth_samples_gbs": [40.0], "sizes": ["1.5b"], "recipe": chosen,
               "speculative_rows": spec}
    results["summary"] = summary = recipe.summary(results)
    (size,) = summary["sizes"]
    assert size["llama_cpp"] == "q4_0, no extra buffer types (AMX off)"
    assert size["decode_ratio"] == pytest.approx(30 / 34) and size["prefill_ratio"] == pytest.approx(13000 / 6000)
    assert summary["speculative"]["best_ratio"] == pytest.approx(1.2)
    assert summary["speculative"]["plain_ratio"] == pytest.approx(100 / 150)
    assert summary["speculative"]["method_openvino"] == "EAGLE-3 chain, k=5"
    markdown = write_markdown(results, tmp_path).read_text()
    assert "| 1.5b | 30.0 | 34.0 (q4_0, no extra buffer types (AMX off)) | 0.88x | 6000 / 13000 | 2.17x |" in markdown
    assert "| openvino EAGLE-3 chain, k=5 | w | 300.0 [300.0-300.0] | 3.00x [3.00-3.00] | 2.00 | 4 of 4 |" in markdown
    assert "**1.20x** (plain against plain: 0.67x)" in markdown
    assert recipe.summary({**results, "recipe": None}) == {"sizes": [], "speculative": None}

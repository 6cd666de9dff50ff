"""The benchmark: `--quick` exercises the PyTorch and OpenVINO paths (each in its worker process) and the extras; the
output has its structure. tests/test_bench_isolation.py covers crashes, hangs and interrupted runs with fake engines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbhelpers.bench import engines
from nbhelpers.bench.__main__ import main
from nbhelpers.bench.extras import LORA_MODES
from nbhelpers.bench.machine import cpu_slug, describe_machine, machine_line, memory_bandwidth
from nbhelpers.bench.report import read_rows


@pytest.mark.slow
def test_quick_run_writes_json_markdown_and_plots(tmp_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    assert main(["--out", str(out), "--quick"]) == 0
    out = out / cpu_slug(describe_machine())  # results of different CPUs sit side by side
    results = json.loads((out / "results.json").read_text())
    assert results["machine"]["logical_cores"] >= 1 and results["bandwidth_gbs"] > 0
    assert results["cpu_slug"] == out.name
    assert results["command"] == f"python -m nbhelpers.bench --out {out.parent} --quick"
    engines_seen = {(r["engine"], r["precision"]) for r in results["decode"]}
    chosen = results["recipe"]  # the tuner's quick stages on the tiny model: its recommendation is a row of its own
    assert (chosen["source"], chosen["tuned_on"]) == ("tune.json", "the benchmark's tiny random-weight model")
    assert json.loads((out / "tune.json").read_text())["recommendation"]["weights"] == chosen["weights"]
    assert engines_seen == {("pytorch", "fp32"), ("openvino", "fp16"), ("openvino", "int8"),
                            ("openvino", f"recommended here ({chosen['label']})")}
    assert chosen["weights"] in ("fp16", "int8") and chosen["export_flags"][1] == chosen["weights"]
    written = read_rows(out / "rows.jsonl")  # row by row as measured, before the results above
    assert [(r["engine"], r["precision"], r["status"]) for r in written if r.get("kind") is None] == [
        (r["engine"], r["precision"], "ok") for r in results["decode"]]
    # the speculative rows: OpenVINO alone here (no llama.cpp in the tests), the tiny model drafting for itself
    spec = {r["method"]: r for r in results["speculative_rows"]}
    assert list(spec) == ["plain", "draft model, k=4"] and all(r["status"] == "ok" for r in spec.values())
    assert spec["draft model, k=4"]["identical"] == spec["draft model, k=4"]["compared"] == 2  # a round, 2 prompts
    assert spec["draft model, k=4"]["tokens_per_pass"] > 1 and spec["plain"]["tokens_per_pass"] == 1.0
    assert [r["method"] for r in written if r.get("kind") == "speculative"] == list(spec)
    assert results["summary"] == {"sizes": [], "speculative": None}  # nothing to compare without llama.cpp
    served = results["serving"]  # ContinuousBatchingPipeline, 1 and 2 users at once in the quick run
    assert [(r["users"], r["status"]) for r in served] == [(1, "ok"), (2, "ok")]
    assert [r["users"] for r in written if r.get("kind") == "serving"] == [1, 2]
    assert served[0]["vs_one_user"] == 1.0 and all(r["tokens_per_s"] > 0 and r["tpot_ms"] > 0 for r in served)
    cache = results["cache"]
    assert str(cache["resident_below_mib"]) in cache["sweep_gbs"] and len(cache["sweep_gbs"]) == 9  # 1 to 256 MiB
    for record in results["decode"]:
        assert record["params"] == engines.parameter_count(engines.SIZES["tiny"]) and record["status"] == "ok"
        assert record["tokens_per_s"] > 0 and record["ttft_ms"] > 0 and record["weight_bytes"] > 0
        assert record["roofline_fraction"] == pytest.approx(
            record["weight_bytes"] * record["tokens_per_s"] / (results["bandwidth_gbs"] * 1e9))
        assert record["cache_resident"] == (record["weight_bytes"] < 2 * cache["resident_below_mib"] * 2**20)
    assert results["build"]["pytorch"]["cpu_capability"]  # what each engine's kernels were built/configured with
    hint = results["build"]["openvino"]["INFERENCE_PRECISION_HINT"]  # one value, or one per row if they differ
    assert set(hint.values() if isinstance(hint, dict) else [hint]) <= {"bf16", "f16", "f32"}
    assert any(note.startswith("Kernels: PyTorch dispatches") for note in results["notes"])
    by_precision = {r["precision"]: r["weight_bytes"] for r in results["decode"]}
    assert by_precision["int8"] < by_precision["fp16"] < by_precision["fp32"]  # bytes read per token follow the format
    # --quick: the tiny model drafts for itself, so every offered draft token must be accepted (acceptance is 0.0
    # when none is offered). This checks the plumbing; a draft that differs from its target is checked in
    # tests/test_twins_llm.py (03's pair: drafts offered, some accepted, some rejected).
    assert results["speculative"]["identical_output"] is True and results["speculative"]["acceptance"] == 1.0
    assert results["speculative"]["sweep"] == {"4": {"speedup": results["speculative"]["speedup"], "acceptance": 1.0,
                                                     "identical_output": True}}
    assert results["speculative"]["median_over_sweep"] == results["speculative"]["speedup"]
    assert results["threads"]["pytorch"] >= 1
    assert {"dynamic_overhead", "base_tpot_ms", "adapter_tpot_ms"} <= set(results["lora"])
    assert set(results["lora"]["modes"]) == set(LORA_MODES)
    assert results["lora"]["modes"]["MODE_AUTO"] == pytest.approx(results["lora"]["dynamic_overhead"])
    samples = results["bandwidth_samples_gbs"]  # before, between the sizes (one here) and after
    assert len(samples) == 3 and results["bandwidth_gbs"] == pytest.approx(max(samples), abs=0.05)
    assert set(results["kv_cache"]) >= {"context", "stateful_ms", "stateless_ms", "no_cache_ms"}
    assert "llama.cpp" not in results["config"]["engines"]
    markdown = (out / "results.md").read_text()
    assert "## The project's recipe against llama.cpp" in markdown and "| openvino draft model, k=4 |" in markdown
    assert "| tiny openvino int8 |" in markdown and "![tokens_per_s](tokens_per_s.png)" in markdown
    assert "| status |" in markdown and "Reads are cache-resident below" in markdown
    assert "## Serving: ContinuousBatchingPipeline" in markdown and "| 2 users |" in markdown
    assert all((out / f"{name}.png").stat().st_size > 1000 for name in ("tokens_per_s", "roofline_fraction"))


def test_parameter_count_matches_transformers() -> None:
    from nbhelpers.demos.llm import make_llama

    model = make_llama(engines.SIZES["tiny"], engines.VOCAB, engines.EOS_ID, seed=0)
    assert engines.parameter_count(engines.SIZES["tiny"]) == sum(p.numel() for p in model.parameters())


def test_machine_description_and_bandwidth() -> None:
    machine = describe_machine()
    assert machine["cpu"] and machine["memory_gib"] > 0 and isinstance(machine["flags"], list)
    assert machine["cpu"] in machine_line(machine)
    bandwidth = memory_bandwidth(mib=8, repeats=2)
    assert set(bandwidth) == {"read", "copy", "triad"} and all(v > 0 for v in bandwidth.values())


def test_llama_cpp_converter_missing_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhelpers.bench.llama_cpp_engine import llama_cpp_source

    monkeypatch.setenv("NBHELPERS_LLAMA_CPP_SRC", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run `make bench`"):
        llama_cpp_source()

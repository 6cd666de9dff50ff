"""The project's advice as benchmark rows: what `python -m nbhelpers tune` recommends on this machine, run at every
size as "OpenVINO, recommended here", and the summary that sets it (with and without speculative decoding) against
llama.cpp's best at equal bits.

The recommendation comes from a `python -m nbhelpers tune --json FILE` run given with `--tune FILE`, or from the
tuner's stages run here on the benchmark's own 0.5 B model (three rounds each instead of five; `tune.json` in the
results folder keeps its report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.bench import engines as eng
from nbhelpers.bench.workers import EngineSpec
from nbhelpers.settings import cache_dir

if TYPE_CHECKING:
    from nbhelpers.bench.run import BenchConfig

RECOMMENDED = "recommended here"
TUNE_SIZE = "0.5b"  # the size the tuner's stages run on when no --tune report is given
# llama.cpp's types at the bit width of OpenVINO's weight formats (q4_k_m: about 4.8 bits, counted with the 4-bit)
EQUAL_BITS = {"fp16": ("f16",), "int8": ("q8_0",), "int4": ("q4_0", "q4_k_m")}


def bits(weights: str) -> str:
    """'int4' for any int4 layout ('int4-sym-cw'), else the format itself ('int8', 'fp16')."""
    return "int4" if weights.startswith("int4") else weights


def from_report(report: dict[str, Any], source: str) -> dict[str, Any]:
    """Return the recipe in a tuner report (`python -m nbhelpers tune --json`): weights, ov_config, export flags.

    Raises ValueError, saying what to run, if the report has no recommendation or tuned an exported folder as it was
    (`--model-dir`: its weight format cannot be applied to other models).
    """
    from nbhelpers.tune import label

    rec = report.get("recommendation")
    if not rec:
        raise ValueError(f"the tuner report {source} has no recommendation (every configuration failed?): run "
                         "`python -m nbhelpers tune --json FILE` again and pass that FILE with --tune")
    if not rec.get("export_flags"):
        raise ValueError(f"the tuner report {source} tuned an exported folder as it was (--model-dir), so it names no "
                         "weight format to export the benchmark's models with: run `python -m nbhelpers tune --json "
                         "FILE` without --model-dir")
    config = tuple(rec["ov_config"].items())
    return {"weights": rec["weights"], "ov_config": rec["ov_config"], "export_flags": rec["export_flags"],
            "label": label((rec["weights"], config)), "tuned_on": report.get("model", "?"), "source": source,
            "speedup_over_defaults": rec.get("speedup")}


def recommendation(config: BenchConfig, out_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Return the recipe: read from `config.tune_json`, or tuned here on the benchmark's own model (report written
    to `out_dir/tune.json`)."""
    if config.tune_json:
        return from_report(json.loads(Path(config.tune_json).read_text(encoding="utf-8")), str(config.tune_json))
    from nbhelpers.tune import TuneConfig, report_json, tune

    size = "tiny" if config.quick else TUNE_SIZE
    source = eng.build_model(size, cache_dir() / "bench" / size / "hf")
    tuning = TuneConfig.quick() if config.quick else TuneConfig(repeats=3)
    log(f"[{size}] the tuner's stages on the benchmark's model: what `python -m nbhelpers tune` recommends here")
    report = {**tune(replace(tuning, speed_model=str(source))), "model": f"the benchmark's {size} random-weight model"}
    path = out_dir / "tune.json"
    path.write_text(report_json(report), encoding="utf-8")
    return from_report(json.loads(path.read_text(encoding="utf-8")), "tune.json")


def choose(config: BenchConfig, out_dir: Path, notes: list[str], log: Callable[[str], None]) -> dict[str, Any] | None:
    """The recommendation (`recommendation`); a bad --tune report stops the run, a tuning that found none is a note."""
    try:
        return recommendation(config, out_dir, log)
    except ValueError as exc:
        if config.tune_json:
            raise
        notes.append(f"No recommended recipe: {exc}")
        return None


def recipe_spec(source: Path, root: Path, recipe: dict[str, Any]) -> EngineSpec:
    """The worker spec of the recipe on the model at `source`: exported with its flags (cached in `root`)."""
    folder = eng.export_openvino(source, root / f"ov-{recipe['weights']}", *recipe["export_flags"][1:])
    precision = f"{RECOMMENDED} ({recipe['label']})"
    return EngineSpec("openvino", precision, "nbhelpers.bench.engines:GenAIEngine",
                      {"model_dir": str(folder), "precision": precision, **recipe["ov_config"]})


def _ok(row: dict[str, Any]) -> bool:
    return row.get("status", "ok") == "ok"


def best_llama_cpp(rows: list[dict[str, Any]], weights: str) -> dict[str, Any] | None:
    """llama.cpp's fastest measured row at the bit width of `weights` (a fallback row counts as its type)."""
    kinds = EQUAL_BITS.get(bits(weights), ())
    same = [r for r in rows if r["engine"] == "llama.cpp" and _ok(r) and r["precision"].split(",")[0] in kinds]
    return max(same, key=lambda r: r["tokens_per_s"], default=None)


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The project's recipe against llama.cpp's best at equal bits: per size decode and long-prompt TTFT with their
    ratios, and on the demo pair each engine's fastest way to decode fewer passes."""
    recipe, out = results.get("recipe"), {"sizes": [], "speculative": None}
    if not recipe:
        return out
    for size in results["sizes"]:
        rows = [r for r in results["decode"] if r["size"] == size]
        ours = next((r for r in rows if r["precision"].startswith(RECOMMENDED) and _ok(r)), None)
        peer = best_llama_cpp(rows, recipe["weights"])
        if ours and peer:
            out["sizes"].append({
                "size": size, "openvino": ours["precision"], "openvino_tps": ours["tokens_per_s"],
                "llama_cpp": peer["precision"], "llama_cpp_tps": peer["tokens_per_s"],
                "decode_ratio": ours["tokens_per_s"] / peer["tokens_per_s"],
                "openvino_ttft_long_ms": ours["ttft_long_ms"], "llama_cpp_ttft_long_ms": peer["ttft_long_ms"],
                "prefill_ratio": peer["ttft_long_ms"] / ours["ttft_long_ms"]})
    spec = [r for r in results.get("speculative_rows", []) if _ok(r)]
    best = {e: max((r for r in spec if r["engine"] == e), key=lambda r: r["tokens_per_s"], default=None)
            for e in ("openvino", "llama.cpp")}
    plain = {e: next((r for r in spec if r["engine"] == e and r["method"] == "plain"), None) for e in best}
    if best["openvino"] and best["llama.cpp"] and plain["openvino"] and plain["llama.cpp"]:
        out["speculative"] = {
            "plain_ratio": plain["openvino"]["tokens_per_s"] / plain["llama.cpp"]["tokens_per_s"],
            "best_ratio": best["openvino"]["tokens_per_s"] / best["llama.cpp"]["tokens_per_s"],
            **{f"{k}_{e}": v for e, r in best.items() for k, v in
               (("method", r["method"]), ("tps", r["tokens_per_s"]), ("speedup", r["speedup"]))}}
    return out

"""Run the benchmark: sweep the caches, build the models, measure every engine configuration interleaved, each in its
own worker process, then the extras; return the results.

Each configuration's row (measured, or how it failed) is appended to `rows.jsonl` in the output folder as soon as
it is known, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nbhelpers.bench import engines as eng
from nbhelpers.bench import extras, recipe, serving, speculative
from nbhelpers.bench.kernels import engine_builds, kernel_notes
from nbhelpers.bench.machine import (
    cache_resident_limit,
    cpu_slug,
    describe_machine,
    memory_bandwidth,
    versions,
    working_set_sweep,
)
from nbhelpers.bench.report import append_row
from nbhelpers.bench.workers import EngineSpec, Measured, run_interleaved
from nbhelpers.settings import cache_dir, project_root

# OpenVINO variants: (label, export folder, optimum-cli --weight-format and flags, pipeline properties).
# The plain labels are what you get without asking; the others change one knob to show what it is worth.
OV_VARIANTS: tuple[tuple[str, str, tuple[str, ...], dict[str, Any]], ...] = (
    ("fp16", "fp16", ("fp16",), {}),
    ("fp16, f32 compute", "fp16", ("fp16",), {"INFERENCE_PRECISION_HINT": "f32"}),
    ("int8", "int8", ("int8",), {}),
    ("int4", "int4", ("int4",), {}),
    ("int4, no dynamic quantization", "int4", ("int4",), {"DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}),
    ("int4 sym channel-wise", "int4-sym-cw", ("int4", "--sym", "--group-size", "-1"), {}),
)
LLAMA_CPP_TYPES = ("f16", "q8_0", "q4_0", "q4_k_m")
# The large sizes run only the pairs at equal bit widths (about 20 minutes for the whole benchmark on two cores).
LARGE_SIZE_VARIANTS = {"openvino": ("int8", "int4", "int4 sym channel-wise"), "llama.cpp": ("q8_0", "q4_0")}


@dataclass
class BenchConfig:
    """What to run. `quick` shrinks everything so that a unit test can exercise the code paths.

    `sizes` are keys of engines.SIZES, or "large": the smallest large size whose int4 weights leave the caches.
    `timeout` is the limit in seconds for each call to an engine's worker (loading, or one repetition).
    """

    sizes: tuple[str, ...] = ("125m", "0.5b", "large")
    engines: tuple[str, ...] = ("pytorch", "openvino", "llama.cpp")
    new_tokens: int = 64
    short_prompt: int = 32
    long_prompt: int = 1024
    repeats: int = 3
    warmup: int = 1
    extras: bool = True
    quick: bool = False
    timeout: float = 600.0
    cache_sweep_mib: int = 2048
    tune_json: str | None = None  # a `python -m nbhelpers tune --json` report; None: tune here (recipe.py)
    ov_variants: tuple[str, ...] = field(default_factory=lambda: tuple(v[0] for v in OV_VARIANTS))

    @classmethod
    def quick_config(cls) -> BenchConfig:
        """Return the configuration of `--quick`: the tiny model, PyTorch fp32 and OpenVINO fp16/int8, one run each."""
        return cls(sizes=("tiny",), engines=("pytorch", "openvino"), new_tokens=8, short_prompt=8, long_prompt=64,
                   repeats=1, warmup=1, quick=True, cache_sweep_mib=256, ov_variants=("fp16", "int8"))


def _bf16_supported(machine: dict[str, Any]) -> bool:
    return any(f in machine["flags"] for f in ("avx512_bf16", "amx_bf16"))


def engine_specs(size: str, config: BenchConfig, machine: dict[str, Any], notes: list[str],
                 log: Callable[[str], None], chosen: dict[str, Any] | None = None) -> list[EngineSpec]:
    """Build (or take from the cache) the model of `size` in every format asked for; return the workers' specs.

    A large size gets only the equal-bit-width configurations (LARGE_SIZE_VARIANTS); every size gets the `chosen`
    recipe (recipe.py) when there is one.
    """
    root = cache_dir() / "bench" / size
    log(f"[{size}] building the random-weight model (cached)")
    source = eng.build_model(size, root / "hf")
    large = size in eng.LARGE_SIZES

    def wanted(engine: str, label: str) -> bool:
        return not large or label in LARGE_SIZE_VARIANTS.get(engine, ())

    specs: list[EngineSpec] = []
    if "pytorch" in config.engines:
        precisions = ["fp32"] + (["bf16"] if _bf16_supported(machine) and not config.quick else [])
        torch_engine = "nbhelpers.bench.engines:TorchEngine"
        specs += [EngineSpec("pytorch", p, torch_engine, {"source": str(source), "precision": p})
                  for p in precisions if wanted("pytorch", p)]
    if "openvino" in config.engines:
        for label, variant, (weight_format, *flags), properties in OV_VARIANTS:
            if label in config.ov_variants and wanted("openvino", label):
                log(f"[{size}] OpenVINO export {variant} (cached)")
                folder = eng.export_openvino(source, root / f"ov-{variant}", weight_format, *flags)
                specs.append(EngineSpec("openvino", label, "nbhelpers.bench.engines:GenAIEngine",
                                        {"model_dir": str(folder), "precision": label, **properties}))
        if chosen:
            log(f"[{size}] OpenVINO {recipe.RECOMMENDED}: {chosen['label']} (cached export)")
            specs.append(recipe.recipe_spec(source, root, chosen))
    if "llama.cpp" in config.engines:
        if importlib.util.find_spec("llama_cpp") is None:
            note = "llama.cpp skipped: llama-cpp-python is not installed (`make bench` installs it)."
            notes += [note] if note not in notes else []
        else:
            from nbhelpers.bench import llama_cpp_engine

            for kind in LLAMA_CPP_TYPES:
                if wanted("llama.cpp", kind):
                    log(f"[{size}] llama.cpp GGUF {kind} (cached)")
                    specs.append(llama_cpp_engine.engine_spec(
                        llama_cpp_engine.gguf_file(source, root / "gguf", kind), kind))
    return specs


def decode_row(size: str, measured: Measured, out_dir: Path | None = None) -> dict[str, Any]:
    """Return the result row of one configuration: medians of its runs, or its status and the end of its log."""
    row: dict[str, Any] = {"size": size, "engine": measured.spec.engine, "precision": measured.spec.precision,
                           "params": eng.parameter_count(eng.SIZES[size]), "status": measured.status}
    if "weight_bytes" in measured.info:
        row["weight_bytes"] = measured.info["weight_bytes"]
    if measured.status == "ok":
        short = [eng.Timing(**answer[0]) for answer in measured.results]
        long = [eng.Timing(**answer[1]) for answer in measured.results]
        tps = [t.tokens_per_s for t in short]
        row.update(tokens_per_s=statistics.median(tps), tokens_per_s_low=min(tps), tokens_per_s_high=max(tps),
                   ttft_ms=statistics.median(t.ttft_ms for t in short),
                   ttft_long_ms=statistics.median(t.ttft_ms for t in long))
    else:
        log = measured.log.relative_to(out_dir) if out_dir and measured.log.is_relative_to(out_dir) else measured.log
        row.update(failed_during=measured.failed_during, stderr_tail=_without_local_paths(measured.stderr_tail),
                   log=str(log))
    if measured.info.get("build"):
        row["build"] = measured.info["build"]
    return row


def _without_local_paths(text: str) -> str:
    """Shorten the checkout's and the home folder's paths (results are committed): '/home/me/x' -> '~/x'."""
    for folder, short in ((project_root(), "."), (Path.home(), "~")):
        if folder is not None and str(folder) not in ("/", "."):
            text = text.replace(str(folder), short)
    return text


def measure_size(size: str, specs: list[EngineSpec], config: BenchConfig, out_dir: Path,
                 log: Callable[[str], None] = print, load_timeout: float | None = None) -> list[dict[str, Any]]:
    """Measure every spec on the same prompts, interleaved, each in its own worker; return the rows in spec order.

    Each row is appended to `out_dir/rows.jsonl` as soon as it is known; the workers' logs go to `out_dir/logs/`.
    Loading a worker may take `load_timeout` seconds (default: config.timeout, like every run).
    """
    rng = np.random.default_rng(0)
    runs = config.warmup + config.repeats
    # The same token ids for every engine, a fresh prompt for every run: no engine can serve one from a prefix cache.
    prompts = {(rep, n): [int(t) for t in rng.integers(3, 900, n)]
               for rep in range(runs) for n in (config.short_prompt, config.long_prompt)}

    def request(rep: int) -> list[tuple[list[int], int]]:
        return [(prompts[(rep, config.short_prompt)], config.new_tokens), (prompts[(rep, config.long_prompt)], 2)]

    bar = tqdm(total=runs * len(specs), desc=f"measuring {size}", unit="run", disable=config.quick)
    rows: dict[int, dict[str, Any]] = {}

    def on_run(measured: Measured, rep: int, answer: list[dict[str, float]]) -> None:
        short, long = (eng.Timing(**t) for t in answer)
        log(f"[{size}] {measured.spec.label}: {short.tokens_per_s:.1f} tokens/s, TTFT {short.ttft_ms:.0f} ms "
            f"/ {long.ttft_ms:.0f} ms" + (" (warm-up)" if rep < config.warmup else ""))
        bar.update()

    def on_done(measured: Measured) -> None:
        rows[id(measured)] = row = decode_row(size, measured, out_dir)
        if measured.status != "ok":
            log(f"[{size}] {measured.spec.label}: {measured.status} ({measured.failed_during}); see {row['log']}")
        append_row(out_dir / "rows.jsonl", row)

    measured = run_interleaved(specs, request, config.warmup, config.repeats, config.timeout, out_dir / "logs" / size,
                               on_run, on_done, load_timeout)
    bar.close()
    records = [rows[id(m)] for m in measured]
    reference = next((r["tokens_per_s"] for r in records
                      if (r["engine"], r["precision"], r["status"]) == ("pytorch", "fp32", "ok")), None)
    for r in records:
        if r["status"] == "ok":
            r["vs_pytorch_fp32"] = r["tokens_per_s"] / reference if reference else None
    return records


def run_bench(config: BenchConfig, out_dir: Path | None = None, command: str = "python -m nbhelpers.bench",
              log: Callable[[str], None] = tqdm.write) -> dict[str, Any]:
    """Run the benchmark described by `config` and return the results as a JSON-ready dict.

    Rows are appended to `out_dir/rows.jsonl` as they are measured (a new temporary folder if None) and the
    workers' logs go to `out_dir/logs/`. `command` is recorded in the results (the command line that reproduces
    them); `log` gets progress lines.
    """
    started = time.time()
    machine = describe_machine()
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="nbhelpers-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "rows.jsonl").write_text("", encoding="utf-8")
    log("measuring read bandwidth against working-set size")
    sweep = working_set_sweep(max_mib=config.cache_sweep_mib)
    cache_mib = cache_resident_limit(sweep)
    samples: list[dict[str, float]] = []

    def sample_bandwidth() -> float:  # the host's memory speed drifts: sample it between measurements
        log("measuring memory bandwidth")
        samples.append(memory_bandwidth(mib=64 if config.quick else 1024))
        return max(max(s.values()) for s in samples)

    sample_bandwidth()
    import torch

    results: dict[str, Any] = {
        "machine": machine, "cpu_slug": cpu_slug(machine), "config": asdict(config), "command": command,
        "cache": {"resident_below_mib": cache_mib, "sweep_gbs": {str(k): round(v, 1) for k, v in sweep.items()}},
        "decode": [], "notes": [], "versions": versions(),
        "threads": {"pytorch": torch.get_num_threads(), "llama.cpp": machine["physical_cores"],
                    "openvino": "CPU plugin default (one stream, physical cores)"},
    }
    results["sizes"] = _resolve_sizes(config.sizes, cache_mib, results)
    results["recipe"] = recipe.choose(config, out_dir, results["notes"], log) if "openvino" in config.engines else None
    for size in results["sizes"]:
        specs = engine_specs(size, config, machine, results["notes"], log, results["recipe"])
        sample_bandwidth()
        results["decode"] += measure_size(size, specs, config, out_dir, log)
    bandwidth_gbs = sample_bandwidth()
    for record in results["decode"]:  # against the best bandwidth seen in the whole run
        if record["status"] == "ok":
            record["roofline_fraction"] = record["weight_bytes"] * record["tokens_per_s"] / (bandwidth_gbs * 1e9)
            # weights that (nearly) fit in the caches are not read from memory: no roofline
            record["cache_resident"] = record["weight_bytes"] < 2 * cache_mib * 2**20
    best = max(samples, key=lambda s: max(s.values()))
    results.update(bandwidth=best, bandwidth_gbs=bandwidth_gbs,
                   bandwidth_samples_gbs=[round(max(s.values()), 1) for s in samples])
    if "openvino" in config.engines:
        results["serving"] = _serving(results["sizes"][-1], config, out_dir, log)
    results["build"] = engine_builds(results["decode"])
    results["notes"] += kernel_notes(machine, results["build"], results["decode"])
    if config.extras and results["recipe"]:
        llama_cpp = "llama.cpp" in config.engines and importlib.util.find_spec("llama_cpp") is not None
        results["speculative_rows"] = speculative.run_section(config, results["recipe"], llama_cpp, out_dir, log)
    results["summary"] = recipe.summary(results)
    if config.extras:
        results.update(extras.run_extras(config, log))
    results["seconds"] = round(time.time() - started)
    return results


def _serving(size: str, config: BenchConfig, out_dir: Path, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Serving rows on the last (largest) size, int4 (fp16 in the quick run): 1, 4 and 8 users at once."""
    root = cache_dir() / "bench" / size
    weights = "fp16" if config.quick else "int4"
    folder = eng.export_openvino(eng.build_model(size, root / "hf"), root / f"ov-{weights}", weights)
    users = (1, 2) if config.quick else serving.USERS
    log(f"[{size}] serving: {', '.join(map(str, users))} users at once, OpenVINO {weights}")
    return serving.measure_serving(size, folder, weights, config, out_dir, users)


def _resolve_sizes(sizes: tuple[str, ...], cache_mib: int, results: dict[str, Any]) -> list[str]:
    """Replace "large" by the smallest large size whose int4 weights are >= 2x the cache-resident limit; say why."""
    if "large" not in sizes:
        return list(sizes)
    large = eng.pick_large_size(cache_mib)
    int4_mib = eng.int4_weight_bytes(large) / 2**20
    enough = int4_mib >= 2 * cache_mib
    results["large_size"] = {"size": large, "int4_weight_mib": round(int4_mib), "leaves_cache": enough}
    pairs = "; ".join(f"{engine} {', '.join(labels)}" for engine, labels in LARGE_SIZE_VARIANTS.items())
    relation = "at least" if enough else "less than (no larger size is defined)"
    results["notes"].append(
        f"Large size: {large} ({eng.parameter_count(eng.SIZES[large]) / 1e9:.2f} B parameters): its int4 weights, "
        f"about {int4_mib:.0f} MiB read per token, are {relation} twice the {cache_mib} MiB below which reads are "
        f"cache-resident here. It runs only the rows at equal bit widths: {pairs}.")
    return list(dict.fromkeys(large if s == "large" else s for s in sizes))

"""Run the benchmark: build the models, measure every engine interleaved, then the extras; return the results."""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nbhelpers.bench import engines as eng
from nbhelpers.bench import extras
from nbhelpers.bench.machine import describe_machine, memory_bandwidth
from nbhelpers.cache import build_once
from nbhelpers.settings import cache_dir
from nbhelpers.timing import interleaved

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


@dataclass
class BenchConfig:
    """What to run. `quick` shrinks everything so that a unit test can exercise the code paths."""

    sizes: tuple[str, ...] = ("125m", "0.5b")
    engines: tuple[str, ...] = ("pytorch", "openvino", "llama.cpp")
    new_tokens: int = 64
    short_prompt: int = 32
    long_prompt: int = 1024
    repeats: int = 3
    warmup: int = 1
    extras: bool = True
    quick: bool = False
    ov_variants: tuple[str, ...] = field(default_factory=lambda: tuple(v[0] for v in OV_VARIANTS))

    @classmethod
    def quick_config(cls) -> BenchConfig:
        """Return the configuration of `--quick`: the tiny model, PyTorch fp32 and OpenVINO fp16/int8, one run each."""
        return cls(sizes=("tiny",), engines=("pytorch", "openvino"), new_tokens=8, short_prompt=8, long_prompt=64,
                   repeats=1, warmup=1, quick=True, ov_variants=("fp16", "int8"))


def _bf16_supported(machine: dict[str, Any]) -> bool:
    return any(f in machine["flags"] for f in ("avx512_bf16", "amx_bf16"))


def _load_engines(size: str, config: BenchConfig, machine: dict[str, Any], notes: list[str],
                  log: Callable[[str], None]) -> list[eng.Engine]:
    root = cache_dir() / "bench" / size
    log(f"[{size}] building the random-weight model (cached)")
    source = eng.build_model(size, root / "hf")
    loaded: list[eng.Engine] = []
    if "pytorch" in config.engines:
        precisions = ["fp32"] + (["bf16"] if _bf16_supported(machine) and not config.quick else [])
        loaded += [eng.TorchEngine(source, p) for p in precisions]
    if "openvino" in config.engines:
        for label, variant, (weight_format, *flags), properties in OV_VARIANTS:
            if label in config.ov_variants:
                log(f"[{size}] OpenVINO export {variant} (cached)")
                folder = eng.export_openvino(source, root / f"ov-{variant}", weight_format, *flags)
                loaded.append(eng.GenAIEngine(folder, label, **properties))
    if "llama.cpp" in config.engines:
        if importlib.util.find_spec("llama_cpp") is None:
            notes.append("llama.cpp skipped: llama-cpp-python is not installed (`make bench` installs it).")
        else:
            from nbhelpers.bench import llama_cpp_engine

            for kind in LLAMA_CPP_TYPES:
                log(f"[{size}] llama.cpp GGUF {kind} (cached)")
                gguf = llama_cpp_engine.gguf_file(source, root / "gguf", kind)
                loaded.append(llama_cpp_engine.LlamaCppEngine(gguf, kind))
    return loaded


def _decode_records(size: str, loaded: list[eng.Engine], config: BenchConfig,
                    log: Callable[[str], None]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    runs = config.warmup + config.repeats
    # The same token ids for every engine, a fresh prompt for every run: no engine can serve one from a prefix cache.
    prompts = {(rep, n): [int(t) for t in rng.integers(3, 900, n)]
               for rep in range(runs) for n in (config.short_prompt, config.long_prompt)}

    bar = tqdm(total=runs * len(loaded), desc=f"measuring {size}", unit="run", disable=config.quick)

    def measure(e: eng.Engine) -> Callable[[int], tuple[eng.Timing, eng.Timing]]:
        def once(rep: int) -> tuple[eng.Timing, eng.Timing]:
            short = e.generate(prompts[(rep, config.short_prompt)], config.new_tokens)
            long = e.generate(prompts[(rep, config.long_prompt)], 2)
            log(f"[{size}] {e.engine} {e.precision}: {short.tokens_per_s:.1f} tokens/s, TTFT {short.ttft_ms:.0f} ms "
                f"/ {long.ttft_ms:.0f} ms" + (" (warm-up)" if rep < config.warmup else ""))
            bar.update()
            return short, long
        return once

    results = interleaved({f"{e.engine} {e.precision}": measure(e) for e in loaded},
                          repeats=config.repeats, warmup=config.warmup)
    bar.close()
    params = eng.parameter_count(eng.SIZES[size])
    records = []
    for e in loaded:
        timings = results[f"{e.engine} {e.precision}"]
        tps = [short.tokens_per_s for short, _ in timings]
        median_tps = statistics.median(tps)
        records.append({
            "size": size, "engine": e.engine, "precision": e.precision, "params": params,
            "weight_bytes": e.weight_bytes, "tokens_per_s": median_tps, "tokens_per_s_low": min(tps),
            "tokens_per_s_high": max(tps), "ttft_ms": statistics.median(s.ttft_ms for s, _ in timings),
            "ttft_long_ms": statistics.median(long.ttft_ms for _, long in timings),
        })
    reference = next((r["tokens_per_s"] for r in records if (r["engine"], r["precision"]) == ("pytorch", "fp32")), None)
    for r in records:
        r["vs_pytorch_fp32"] = r["tokens_per_s"] / reference if reference else None
    return records


def _extras(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    size = "tiny" if config.quick else "125m"
    root = cache_dir() / "bench" / size
    source = eng.build_model(size, root / "hf")
    fp16 = eng.export_openvino(source, root / "ov-fp16", "fp16")
    out: dict[str, Any] = {}
    rng = np.random.default_rng(1)
    prompt_sets = [[int(t) for t in rng.integers(3, 900, config.short_prompt)] for _ in range(8)]

    log("speculative decoding on the demo pair")
    if config.quick:  # the tiny model drafts for itself: exercises the code, not the speed-up
        target, draft, name, prompts = fp16, fp16, f"{size} model drafting for itself", ["Hello", "Tell me a story"]
    else:
        from nbhelpers.demos.corpus import chat_corpus
        from nbhelpers.export import llm_dir

        target, draft = llm_dir("nbhelpers/demo-llm-padded"), llm_dir("nbhelpers/demo-llm-draft")
        name = "demo target padded to ~100 M + demo draft (notebook 03)"
        prompts = [c.user for c in chat_corpus("heldout")]
    sweep = {k: extras.speculative(target, draft, prompts, new_tokens=config.new_tokens, assistant_tokens=k,
                                   repeats=config.repeats) for k in ((4,) if config.quick else (2, 3, 4, 5, 6))}
    best = max(sweep, key=lambda k: sweep[k]["speedup"])
    out["speculative"] = {"model": name, **sweep[best], "median_over_sweep": statistics.median(
                              v["speedup"] for v in sweep.values()),
                          "sweep": {k: {"speedup": v["speedup"], "acceptance": v["acceptance"],
                                        "identical_output": v["identical_output"]} for k, v in sweep.items()}}
    log("LoRA adapter overhead")
    adapter = build_once(root / "lora-rank16", lambda tmp: extras.make_random_adapter(source, tmp),
                         required=("adapter_model.safetensors",)) / "adapter_model.safetensors"
    out["lora"] = {"model": f"{size} random Llama, fp16 IR", "rank": 16,
                   **extras.lora_overhead(fp16, adapter, prompt_sets, new_tokens=config.new_tokens,
                                          repeats=max(config.repeats, 3))}
    log("KV-cache: stateful vs stateless vs no cache")
    stateless = eng.export_openvino(source, root / "ov-fp16-stateless", "fp16", "--disable-stateful")
    out["kv_cache"] = {"model": f"{size} random Llama, fp16 IR",
                       **extras.kv_cache_step(fp16, stateless, context=config.long_prompt)}
    return out


def run_bench(config: BenchConfig, command: str = "python -m nbhelpers.bench",
              log: Callable[[str], None] = tqdm.write) -> dict[str, Any]:
    """Run the benchmark described by `config` and return the results as a JSON-ready dict.

    `command` is recorded in the results (the command line that reproduces them); `log` gets progress lines.
    """
    started = time.time()
    machine = describe_machine()
    samples: list[dict[str, float]] = []

    def sample_bandwidth() -> float:  # the host's memory speed drifts: sample it between measurements
        log("measuring memory bandwidth")
        samples.append(memory_bandwidth(mib=64 if config.quick else 1024))
        return max(max(s.values()) for s in samples)

    sample_bandwidth()
    import torch

    results: dict[str, Any] = {
        "machine": machine, "config": asdict(config), "command": command, "decode": [], "notes": [],
        "versions": _versions(), "threads": {"pytorch": torch.get_num_threads(), "llama.cpp": machine["physical_cores"],
                                             "openvino": "CPU plugin default (one stream, physical cores)"},
    }
    for size in config.sizes:
        loaded = _load_engines(size, config, machine, results["notes"], log)
        sample_bandwidth()
        results["decode"] += _decode_records(size, loaded, config, log)
        del loaded
    bandwidth_gbs = sample_bandwidth()
    for record in results["decode"]:  # against the best bandwidth seen in the whole run
        record["roofline_fraction"] = record["weight_bytes"] * record["tokens_per_s"] / (bandwidth_gbs * 1e9)
    best = max(samples, key=lambda s: max(s.values()))
    results.update(bandwidth=best, bandwidth_gbs=bandwidth_gbs,
                   bandwidth_samples_gbs=[round(max(s.values()), 1) for s in samples])
    if config.extras:
        results.update(_extras(config, log))
    results["seconds"] = round(time.time() - started)
    return results


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("openvino", "openvino-genai", "torch", "transformers", "llama-cpp-python"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found

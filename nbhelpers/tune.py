"""`python -m nbhelpers tune`: the fastest OpenVINO settings for an LLM on this CPU, and what they cost in quality.

The best knobs differ by CPU, so they are measured in stages that each keep the best so far: weight format with
INFERENCE_PRECISION_HINT, then DYNAMIC_QUANTIZATION_GROUP_SIZE, KV_CACHE_PRECISION, INFERENCE_NUM_THREADS. In a stage
the configurations and the defaults take turns (`interleaved`) on fresh prompts, decoding the same number of tokens.
Each stage runs in a child process: a configuration that kills it becomes a row saying so and the rest run again.
NUM_STREAMS stays 1: OpenVINO 2026.4.1 dies with SIGFPE on Intel AMX CPUs compiling with two streams. Quality: the KL
divergence of next-token distributions from fp16 weights at f32 compute on the trained demo, scored token by token
(so the KV-cache precision counts), for the recommended knobs added one at a time.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nbhelpers.cache import build_once, require_model_dir
from nbhelpers.devices import cpu_features, default_precision, device_names
from nbhelpers.export import OV_LLM_FILES, export_command, export_llm
from nbhelpers.isolation import RESULT, ChildOutcome, run_python
from nbhelpers.models import timing_model
from nbhelpers.timing import Spread, interleaved, perf_row, spread

PRECISION, DQ, KV, THREADS = ("INFERENCE_PRECISION_HINT", "DYNAMIC_QUANTIZATION_GROUP_SIZE", "KV_CACHE_PRECISION",
                              "INFERENCE_NUM_THREADS")
SHORT = {PRECISION: "precision", DQ: "dq group", KV: "kv cache", THREADS: "threads"}
REFERENCE = {PRECISION: "f32", DQ: "0", KV: "f16"}  # the quality reference: only the weights' own rounding
WEIGHT_FORMATS = {  # name: optimum-cli --weight-format and flags
    "fp16": ("fp16",), "int8": ("int8",),
    "int4-asym-g128": ("int4", "--group-size", "128"), "int4-sym-g128": ("int4", "--sym", "--group-size", "128"),
    "int4-asym-cw": ("int4", "--group-size", "-1"), "int4-sym-cw": ("int4", "--sym", "--group-size", "-1"),
}
DEMO = "nbhelpers/demo-llm"  # trained: quality is measured on it; speed on timing_model(DEMO), of realistic size
AS_EXPORTED = "as exported"  # the weights of a --model-dir folder
FAKE_CRASH = "NBHELPERS_TUNE_FAKE_CRASH"  # test hook: =KEY=VALUE or =weights; the child dies with SIGFPE loading it
Config = tuple[str, tuple[tuple[str, str], ...]]  # (weights, ov_config items in the order of the stages)
Rows = dict[Config, list[dict[str, float]]]  # perf_row per repetition


@dataclass(frozen=True)
class TuneConfig:
    """What `tune` measures. Raises ModelNotFoundError/ModelNotReadyError for an unusable `model_dir`."""

    model_dir: Path | None = None  # an exported OpenVINO LLM; None: the demo, exported in each weight format
    speed_model: str = field(default_factory=lambda: timing_model(DEMO))  # random weights, realistic size; or a folder
    weight_formats: tuple[str, ...] = tuple(WEIGHT_FORMATS)  # the first is the defaults' format
    dynamic_quantization: tuple[str, ...] = ("32", "64", "0")  # group sizes; 0 turns it off
    kv_cache: tuple[str, ...] = ("u8", "f16")
    threads: tuple[int, ...] = tuple(sorted({(os.cpu_count() or 1) // d for d in (2, 4)} - {0, os.cpu_count()}))
    prompt_tokens: int = 128  # per run; TTFT is measured on it
    new_tokens: int = 64  # decoded by every run (ignore_eos, min_new_tokens)
    repeats: int = 5
    warmup: int = 1
    min_gain: float = 0.03  # a knob changes only if faster in every round, and by this much at the median
    conversations: int = 16  # held-out stories scored for quality
    timeout: float = 900  # seconds per child process

    def __post_init__(self) -> None:
        if self.model_dir is not None:
            require_model_dir(Path(self.model_dir), OV_LLM_FILES, hint=(
                "Pass a folder made by `optimum-cli export openvino --model <model> <folder>` (or by `python -m "
                "nbhelpers prepare`), or leave --model-dir out to tune the demo model."))
        if min(self.repeats, self.prompt_tokens, self.new_tokens, self.conversations) < 1 or self.warmup < 0:
            raise ValueError("repeats, prompt_tokens, new_tokens and conversations must be at least 1, warmup >= 0")

    @classmethod
    def quick(cls, model_dir: Path | None = None) -> TuneConfig:
        """The unit tests' run: the tiny trained demo, fp16 and int8, a few knobs, one repetition."""
        return cls(model_dir, speed_model=DEMO, weight_formats=("fp16", "int8"), dynamic_quantization=("0",),
                   kv_cache=("u8",), threads=(1,), prompt_tokens=16, new_tokens=8, repeats=1, conversations=2)


def _set(settings: dict[str, str], key: str, value: str) -> dict[str, str]:
    """`settings` with `key` set to `value` ("default": removed, so the plugin chooses)."""
    return {k: v for k, v in settings.items() if k != key} | ({} if value == "default" else {key: value})


def _with(config: Config, key: str, value: str) -> Config:
    return config[0], tuple(sorted(_set(dict(config[1]), key, value).items(), key=lambda kv: list(SHORT).index(kv[0])))


def label(config: Config) -> str:
    """'int4-sym-cw, precision f32, threads 1', or 'fp16, defaults'."""
    return ", ".join([config[0], *([f"{SHORT.get(k, k)} {v}" for k, v in config[1]] or ["defaults"])])


def _precisions() -> list[str]:
    default, features = default_precision(), cpu_features()
    bf16 = default != "bf16" and bool(features["AVX-512 BF16"] or features["AMX BF16"])
    return ["default"] + (["f32"] if default != "f32" else []) + (["bf16"] if bf16 else [])


def _emit(**event: Any) -> None:
    print(RESULT + json.dumps(event), flush=True)


def measure_in_child(job: dict[str, Any]) -> None:
    """Child side of `_run_child`: announce each load and run, then print {label: [perf_row per repetition]}."""
    import openvino_genai as ov_genai

    from nbhelpers.prompts import distinct_prompts

    pipes = {}
    for name, (weights, folder, settings) in job["configs"].items():
        _emit(start=name, what="loading")
        if os.environ.get(FAKE_CRASH) in {weights, *(f"{k}={v}" for k, v in settings.items())}:
            signal.raise_signal(signal.SIGFPE)
        pipes[name] = ov_genai.LLMPipeline(folder, "CPU", **settings)
    tokenizer = next(iter(pipes.values())).get_tokenizer()
    prompts = distinct_prompts(lambda s: tokenizer.encode(s).input_ids.get_shape()[1], job["prompt_tokens"],
                               (job["warmup"] + job["repeats"]) * len(pipes), seed=job["seed"])
    n = job["new_tokens"]  # every configuration decodes exactly n tokens
    gen = ov_genai.GenerationConfig(max_new_tokens=n, min_new_tokens=n, ignore_eos=True, apply_chat_template=False)

    def timed(index: int, name: str) -> Any:
        def run(rep: int) -> dict[str, float]:
            _emit(start=name, what="generating")
            row = perf_row(pipes[name].generate([prompts[rep * len(pipes) + index]], gen).perf_metrics)
            _emit(ran=name)
            return row
        return run

    _emit(rows=interleaved({name: timed(i, name) for i, name in enumerate(pipes)}, job["repeats"], job["warmup"]))


def _run_child(job: dict[str, Any], timeout: float, bar: Any) -> tuple[ChildOutcome, str | None, dict[str, list]]:
    """Run one stage in a child; return how it ended, the label it was loading or running last, and its rows."""
    code = "import json, sys\nfrom nbhelpers.tune import measure_in_child\nmeasure_in_child(json.loads(sys.argv[1]))"
    doing, current, rows, stopped = "starting", None, {}, threading.Event()
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-c", code, json.dumps(job)], stdout=subprocess.PIPE, stderr=err,
                                 text=True)
        timer = threading.Timer(timeout, lambda: (stopped.set(), child.kill()))
        timer.start()
        for line in child.stdout or ():
            event = json.loads(line[len(RESULT):]) if line.startswith(RESULT) else {}
            if "start" in event:
                doing, current = f"{event['what']} {event['start']}", event["start"]
            bar.update(1 if "ran" in event else 0)
            rows = event.get("rows", rows)
        child.wait()
        timer.cancel()
        err.seek(0)
        tail = "\n".join(err.read().strip().splitlines()[-5:])
    returncode = None if stopped.is_set() else child.returncode  # None: stopped after `timeout` seconds
    return ChildOutcome(returncode == 0 and bool(rows), doing, returncode, stderr_tail=tail), current, rows


def _run_stage(configs: list[Config], folders: dict[str, Path], cfg: TuneConfig, seed: int,
               bar: Any) -> tuple[Rows, dict[Config, str]]:
    """Measure `configs` in turns in a child; one that kills it is dropped. Returns ({config: rows}, {config: why})."""
    failed: dict[Config, str] = {}
    while todo := [c for c in configs if c not in failed]:
        bar.total += len(todo) * (cfg.warmup + cfg.repeats)
        job = {"configs": {label(c): (c[0], str(folders[c[0]]), dict(c[1])) for c in todo}, "seed": seed,
               **{k: getattr(cfg, k) for k in ("prompt_tokens", "new_tokens", "repeats", "warmup")}}
        outcome, current, rows = _run_child(job, cfg.timeout, bar)
        if outcome.ok:
            return {c: rows[label(c)] for c in todo}, failed
        culprits = [c for c in todo if label(c) == current] or todo  # died before loading anything: all of them
        failed |= {c: outcome.describe() for c in culprits}
    return {}, failed


def score_knobs(reference: str, steps: list[tuple[str, str, dict[str, str]]], conversations: int) -> dict[str, float]:
    """Child side of `_quality`: {knob: KL divergence from `reference` at REFERENCE settings} for each step."""
    import openvino as ov
    import openvino_genai as ov_genai

    from nbhelpers.demos.corpus import chat_corpus
    from nbhelpers.quality import decode_log_probs, kl_divergence

    core, tokenizer = ov.Core(), ov_genai.Tokenizer(reference)
    chats = chat_corpus("heldout", stories_per_pair=1)[:conversations]

    def scored(folder: str, config: dict[str, str]) -> list[tuple[np.ndarray, np.ndarray]]:
        request = core.compile_model(Path(folder) / "openvino_model.xml", "CPU", config).create_infer_request()
        return decode_log_probs(request, tokenizer, chats)

    base = scored(reference, REFERENCE)
    return {knob: kl_divergence(base, scored(folder, config)) for knob, folder, config in steps}


def _quality(cfg: TuneConfig, best: Config) -> dict[str, Any]:
    """KL of the recommended knobs, added one at a time to the reference, measured in a child process."""
    reference = folder = str(cfg.model_dir or export_llm(DEMO, "fp16"))
    config, steps = dict(REFERENCE), []
    if best[0] not in ("fp16", AS_EXPORTED):
        folder = str(export_llm(DEMO, *WEIGHT_FORMATS[best[0]]))
        steps.append((f"weights {best[0]}", folder, config))
    for key in REFERENCE:
        if (value := dict(best[1]).get(key, "default")) != REFERENCE[key]:
            config = _set(config, key, value)
            steps.append((f"{SHORT[key]} {value}", folder, config))
    code = f"import json, sys\nfrom nbhelpers.tune import score_knobs\nprint({RESULT!r} + json.dumps(score_knobs(" \
           "*json.loads(sys.argv[1]))))"
    outcome = run_python(code, [reference, steps, cfg.conversations], "scoring quality", cfg.timeout)
    return {"model": DEMO if cfg.model_dir is None else f"{cfg.model_dir}", "reference_settings": REFERENCE,
            "reference": "fp16 weights" if cfg.model_dir is None else "its own weights", "kl": outcome.result,
            "error": None if outcome.ok else outcome.describe()}


def _stage_rows(stage: str, measured: Rows, failed: dict[Config, str], baseline: Config) -> list[dict[str, Any]]:
    tps = {c: [1000 / r["tpot_ms"] for r in rows] for c, rows in measured.items()}
    return [{"stage": stage, "weights": c[0], "ov_config": dict(c[1]), "label": label(c), "chosen": False,
             "decode_tps": spread(tps[c]) if c in tps else None,
             "ttft_ms": spread([r["ttft_ms"] for r in measured[c]]) if c in tps else None,
             "speedup": spread([a / b for a, b in zip(tps[c], tps[baseline], strict=True)])
             if c in tps and baseline in tps else None,  # paired: the runs of one round, in turns
             "status": "ok" if c in tps else failed[c]} for c in [*measured, *failed]]


def _choose(measured: Rows, incumbent: Config, min_gain: float) -> Config:
    """The configuration that beats the incumbent's decode speed in every round and by `min_gain` at the median (the
    most so, of several); else the incumbent. The fastest median when the incumbent did not run."""
    tps = {c: [1000 / r["tpot_ms"] for r in rows] for c, rows in measured.items()}
    if incumbent not in tps:
        return max(tps, key=lambda c: spread(tps[c]).median)
    gains = {c: spread([a / b for a, b in zip(v, tps[incumbent], strict=True)]) for c, v in tps.items()}
    winners = [c for c, g in gains.items() if g.median >= 1 + min_gain and g.low > 1]
    return max(winners, key=lambda c: gains[c].median, default=incumbent)


def _speed_export(model: str, weights: str) -> Path:
    """The export of `model` (a known model name, or a hub-snapshot folder: exported into `ov-<weights>` beside it)."""
    if not Path(model).is_dir():
        return export_llm(model, *WEIGHT_FORMATS[weights])

    def export(tmp: Path) -> None:
        subprocess.run(export_command(model, tmp, *WEIGHT_FORMATS[weights]), check=True)

    return build_once(Path(model).parent / f"ov-{weights}", export, required=OV_LLM_FILES)


def report_json(report: dict[str, Any]) -> str:
    """`report` (what `tune` returns) as JSON: a Spread becomes {median, low, high, values}."""
    return json.dumps(report, indent=2, default=lambda o: asdict(o) if isinstance(o, Spread) else str(o))


def tune(cfg: TuneConfig) -> dict[str, Any]:
    """Measure the knobs in stages and return the report (rows, recommendation, quality, machine)."""
    from tqdm.auto import tqdm

    if cfg.model_dir is None:
        print(f"exporting {cfg.speed_model} in {len(cfg.weight_formats)} weight formats (cached after the first run)")
    folders = {AS_EXPORTED: Path(cfg.model_dir)} if cfg.model_dir else {
        w: _speed_export(cfg.speed_model, w) for w in cfg.weight_formats}
    baseline = best = (next(iter(folders)), ())
    stages = [(PRECISION, _precisions()), (DQ, cfg.dynamic_quantization), (KV, cfg.kv_cache),
              (THREADS, tuple(map(str, cfg.threads)))]
    rows, failed = [], set()
    with tqdm(total=0, desc="tune", unit="run") as bar:
        for seed, (key, values) in enumerate(stages):
            stage = "weights, precision" if key == PRECISION else SHORT[key]
            if key == DQ and best[0] == "fp16":  # it acts on int8/int4 weights only
                rows.append({"stage": stage, "label": "not tried: fp16 weights were fastest", "status": "skipped"})
                continue
            heads = [(w, ()) for w in folders] if key == PRECISION else [best]
            configs = list(dict.fromkeys([baseline] + [_with(h, key, v) for h in heads for v in ["default", *values]]))
            bar.set_postfix_str(stage)
            measured, crashed = _run_stage([c for c in configs if c not in failed], folders, cfg, seed, bar)
            failed |= crashed.keys()
            best = _choose(measured, best if best in measured else baseline, cfg.min_gain) if measured else best
            if key == PRECISION and (best[0], ()) in measured:  # a precision hint only if it beats its weights' default
                best = _choose({c: r for c, r in measured.items() if c[0] == best[0]}, (best[0], ()), cfg.min_gain)
            rows += [{**r, "chosen": bool(measured) and r["label"] == label(best)}
                     for r in _stage_rows(stage, measured, crashed, baseline)]
            if not measured:
                break  # nothing ran: the recommendation stops before this stage
    final = next((r for r in reversed(rows) if r.get("chosen")), None)
    defaults = [r["decode_tps"].median for r in rows if r["label"] == label(baseline) and r.get("decode_tps")]
    busy = len(defaults) > 1 and max(defaults) > 1.25 * min(defaults)  # the same configuration, stage after stage
    flags = None if best[0] == AS_EXPORTED else ["--weight-format", *WEIGHT_FORMATS[best[0]]]
    command = flags and shlex.join(["optimum-cli", *export_command("MODEL", Path("OUTPUT"), *flags[1:])[3:]])
    machine = {"cpu": device_names().get("CPU", "?"), "features": cpu_features(), "cpu_count": os.cpu_count(),
               "default_precision": default_precision()}
    return {"model": str(cfg.model_dir or cfg.speed_model), "machine": machine, "rows": rows, "warning": (
            f"the defaults decoded {min(defaults):.0f} to {max(defaults):.0f} tokens/s in different stages: something "
            "else was using the CPU, so the choices may be noise; run again on a quiet machine") if busy else None,
            "settings": {k: getattr(cfg, k) for k in ("prompt_tokens", "new_tokens", "repeats", "warmup")},
            "recommendation": final and {"weights": best[0], "ov_config": dict(best[1]), "export_flags": flags,
                                         "export_command": command, "speedup": final["speedup"]},
            "quality": final and _quality(cfg, best)}

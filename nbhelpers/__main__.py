"""Command line: `python -m nbhelpers doctor | prepare [NOTEBOOK|all] | tune [--model-dir DIR] [--quick] [--json FILE] |
telemetry [status|opt-out] | lab-settings`."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbhelpers
from nbhelpers import telemetry
from nbhelpers.cache import folder_size, human_size
from nbhelpers.errors import NbhelpersError
from nbhelpers.settings import cache_dir, offline_reason
from nbhelpers.timing import Spread, markdown_table

# What each notebook needs prepared: (model role, export_llm arguments). Shared exports are built once.
FP16 = ("fp16",)
STATELESS = ("fp16", "--disable-stateful")
NOTEBOOK_NEEDS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "00": [("llm", FP16), ("llm-cost", FP16)],
    "01": [("llm", FP16), ("llm", STATELESS), ("llm-cost", FP16), ("llm-cost", STATELESS)],
    "02": [("llm", FP16), ("llm-cost", FP16)],  # its variants are derived in-process with NNCF
    "03": [("sd-target", FP16), ("sd-draft", FP16), ("sd-eagle3", FP16)],
    "04": [("llm", FP16), ("llm-cost", FP16)],  # it trains its adapter and exports the fused model itself
    "05": [("asr", FP16), ("asr", ("int8",)), ("asr-cost", FP16), ("asr-cost", ("int8",))],
    "06": [("vlm", FP16), ("vlm", ("int4",)), ("vlm-cost", FP16), ("vlm-cost", ("int4",)),
           ("vlm-dynamic", FP16), ("vlm-dynamic-cost", FP16)],
    "07": [("npu-llm", FP16), ("llm-cost", FP16), ("llm-cost", STATELESS)],
    "08": [("llm", FP16), ("llm-cost", FP16)],
    "09": [("text2image", FP16)],  # with the image model's public LoRAs (online)
    "10": [("tools", FP16), ("llm-cost", FP16)],
    "11": [("long", FP16), ("llm-cost", FP16)],
}
# Every module a notebook imports; `doctor` checks that each one imports.
NOTEBOOK_IMPORTS = (
    "openvino", "openvino_genai", "openvino_tokenizers", "nncf", "optimum.intel", "transformers",
    "tokenizers", "diffusers", "peft", "torch", "numpy", "matplotlib", "ipywidgets", "tqdm", "soundfile", "scipy",
    "PIL", "fastapi", "uvicorn", "openai",
)
VERSIONED = ("openvino", "openvino_genai", "openvino_tokenizers", "nncf", "optimum.intel", "transformers",
             "diffusers", "peft", "torch")


def doctor() -> int:
    """Print versions, devices, offline mode, cache and telemetry; return 1 if an import fails."""
    from nbhelpers.devices import device_names

    print(f"nbhelpers {nbhelpers.__version__} on Python {platform.python_version()} ({platform.platform()})")
    failed = []
    for name in NOTEBOOK_IMPORTS:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # report every failure, not only ImportError
            failed.append(name)
            print(f"  FAIL {name}: {type(exc).__name__}: {exc}")
            continue
        if name in VERSIONED:
            version = getattr(module, "__version__", None) or _dist_version(name)
            print(f"  ok   {name} {version}")
    if importlib.util.find_spec("torchvision") is None:
        print("  ok   torchvision is not installed (as intended: see README)")
    else:
        try:
            importlib.import_module("torchvision")
            print("  note torchvision is installed and imports (these notebooks do not need it)")
        except Exception as exc:
            failed.append("torchvision")
            print(f"  FAIL torchvision is installed but broken ({exc}); `pip uninstall torchvision`")
    try:
        for device, full in device_names().items():
            print(f"device {device}: {full}")
    except Exception as exc:  # a broken GPU/NPU driver must not hide the rest of the report
        failed.append("devices")
        print(f"  FAIL listing OpenVINO devices: {type(exc).__name__}: {exc}")
    try:
        _cpu_report()
    except Exception as exc:  # the CPU report must not hide the rest
        failed.append("cpu")
        print(f"  FAIL reading the CPU's features: {type(exc).__name__}: {exc}")
    print(f"mode   {offline_reason()}")
    root = cache_dir()
    print(f"cache  {root} ({human_size(folder_size(root))})")
    print(f"telemetry (OpenVINO/NNCF) {telemetry.status()}")
    if failed:
        print(f"{len(failed)} check(s) failed ({', '.join(failed)}): reinstall with `make install` (see README)")
        return 1
    print("all notebook imports work")
    return 0


def _cpu_report() -> None:
    """Print the CPU features that change OpenVINO's behaviour, its default precision, and a multi-stream compile."""
    from nbhelpers.devices import cpu_features, default_precision
    from nbhelpers.export import ov_dir
    from nbhelpers.isolation import compile_in_child, multi_stream_compile
    from nbhelpers.models import default_model

    features = cpu_features()
    if all(v is None for v in features.values()):
        print("cpu    instruction sets: not readable on this system")
    else:
        print("cpu    " + ", ".join(f"{name} {'yes' if have else 'no'}" for name, have in features.items()))
    precision = default_precision()
    why = ("bf16: this CPU computes bf16 natively, so OpenVINO rounds activations to bf16 unless "
           "INFERENCE_PRECISION_HINT is f32" if precision == "bf16" else f"{precision}")
    print(f"cpu    default INFERENCE_PRECISION_HINT {why}")
    checks = [multi_stream_compile()]
    demo = ov_dir(default_model("llm"), "fp16") / "openvino_model.xml"
    if demo.is_file():  # the fp16 LLM export is what crashed on Intel AMX with OpenVINO 2026.4.1
        checks.append(compile_in_child(demo, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}, label="the fp16 demo LLM"))
    for outcome in checks:
        streams = f" ({outcome.result.get('NUM_STREAMS')} streams)" if outcome.ok else ""
        print(f"  {'ok  ' if outcome.ok else 'WARN'} multi-stream {outcome.describe()}{streams}")
        if not outcome.ok:
            print("       notebooks run such compiles in a child process; workaround: INFERENCE_PRECISION_HINT f32, "
                  "NUM_STREAMS 1, or int8/int4 weights (see repro/ov_multistream_sigfpe.py)")


def _dist_version(module: str) -> str:
    from importlib.metadata import version

    return version(module.replace(".", "-").replace("_", "-"))


def prepare(notebooks: Sequence[str]) -> int:
    """Build and export what the given notebooks need (default models for the current mode)."""
    from tqdm.auto import tqdm

    from nbhelpers.export import export_eagle3_head, export_speech, export_text2image, export_vlm, llm_dir
    from nbhelpers.models import HUB_LORAS, default_model, hub_lora_file

    exporters = {"text2image": export_text2image, "asr": export_speech, "asr-cost": export_speech, "vlm": export_vlm,
                 "vlm-cost": export_vlm, "vlm-dynamic": export_vlm,
                 "vlm-dynamic-cost": export_vlm, "sd-eagle3": export_eagle3_head}

    wanted = list(NOTEBOOK_NEEDS) if "all" in notebooks else list(notebooks)
    unknown = [n for n in wanted if n not in NOTEBOOK_NEEDS]
    if unknown:
        print(f"unknown notebook(s) {', '.join(unknown)}; choose from: {', '.join(NOTEBOOK_NEEDS)} or all")
        return 2
    jobs = list(dict.fromkeys((role, default_model(role), args) for nb in wanted for role, args in NOTEBOOK_NEEDS[nb]))
    print(offline_reason())
    for role, name, args in tqdm(jobs, desc="prepare", unit="export"):
        path = exporters.get(role, llm_dir)(name, *args)
        tqdm.write(f"ready: {name} {' '.join(args)} -> {path}")
        for lora in HUB_LORAS.get(name, []):
            tqdm.write(f"ready: LoRA {lora.label} -> {hub_lora_file(lora)}")
    return 0


def tune(model_dir: Path | None, quick: bool, json_file: Path | None) -> int:
    """Measure OpenVINO's CPU knobs here, print the table and the recommendation (and write them as JSON)."""
    from nbhelpers import tune as tuner

    try:
        config = tuner.TuneConfig.quick(model_dir) if quick else tuner.TuneConfig(model_dir)
    except NbhelpersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(offline_reason())
    report = tuner.tune(config)
    _print_tune_report(report)
    if json_file is not None:
        json_file.write_text(tuner.report_json(report), encoding="utf-8")
        print(f"written: {json_file}")
    return 0 if report["recommendation"] else 1


def _ratio(s: Spread | None) -> str:
    return "-" if s is None else f"{s.median:.2f}x [{s.low:.2f}-{s.high:.2f}]"


def _print_tune_report(report: dict[str, Any]) -> None:
    m, s, rec, quality = report["machine"], report["settings"], report["recommendation"], report["quality"]
    print(f"\n{report['model']} on {m['cpu']} ({m['cpu_count']} cores, default precision {m['default_precision']}): "
          f"{s['prompt_tokens']}-token prompts, {s['new_tokens']} new tokens; median [min-max] of {s['repeats']} "
          f"runs after {s['warmup']} warm-up, in turns\n")
    print(markdown_table({str(i): {
        "stage": r["stage"], "configuration": r["label"], "decode tokens/s": str(r.get("decode_tps") or "-"),
        "TTFT ms": str(r.get("ttft_ms") or "-"), "speed-up over defaults": _ratio(r.get("speedup")),
        "note": "best so far" if r.get("chosen") else "" if r["status"] == "ok" else r["status"],
    } for i, r in enumerate(report["rows"], 1)}))
    if report["warning"]:
        print(f"\nWARNING: {report['warning']}")
    if rec is None:
        print("\nNo recommendation: no configuration ran (the table says why).")
        return
    fallback = "128" in (rec["export_flags"] or [])  # optimum-cli's default for other widths is an error
    print(f"\nRecommended on this machine (decode {_ratio(rec['speedup'])} the defaults' tokens/s):")
    print(f"  export:    {rec['export_command'] or 'the folder as it is'}")
    if fallback:
        print("             (add --group-size-fallback adjust for a model whose layer widths are not multiples of 128)")
    print(f"  ov_config: {json.dumps(rec['ov_config'])}  ->  openvino_genai.LLMPipeline(folder, 'CPU', **ov_config)")
    print(f"Quality cost on {quality['model']}: KL divergence of next-token distributions from {quality['reference']} "
          f"at {json.dumps(quality['reference_settings'])}, each knob added to those above:")
    default = f"precision default ({m['default_precision']})"  # name what the CPU's default is
    for knob, kl in quality["kl"].items():
        print(f"  {knob.replace('precision default', default):28} KL {kl:.1e}")
    if quality["error"]:
        print(f"  not measured: {quality['error']}")
    elif not quality["kl"]:
        print("  none: no recommended knob changes the numerics")


def lab_settings() -> int:
    """Write JupyterLab's overrides.json for this environment (no news fetch, no update check); 1 if it cannot."""
    from nbhelpers import lab

    try:
        path = lab.quiet_notifications()
    except (NbhelpersError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"JupyterLab: fetchNews \"false\", checkForUpdates false in {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m nbhelpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the installation, devices, offline mode and cache")
    prep = sub.add_parser("prepare", help="build and export ahead of time what notebooks need")
    prep.add_argument("notebooks", nargs="*", default=["all"], help="notebook numbers (00, 01, ...) or all")
    tun = sub.add_parser("tune", help="measure OpenVINO's CPU knobs on this machine; recommend ov_config and export "
                         "flags (about 3 minutes for the demo on two cores)")
    tun.add_argument("--model-dir", type=Path, help="an exported OpenVINO LLM folder to tune as it is (default: the "
                     "demo model, exported in each weight format)")
    tun.add_argument("--quick", action="store_true", help="a tiny model, few knobs, one run each (for tests)")
    tun.add_argument("--json", type=Path, metavar="FILE", help="also write the table and recommendation as JSON")
    tel = sub.add_parser("telemetry", help="show or opt out of OpenVINO/NNCF telemetry (sends nothing)")
    tel.add_argument("action", choices=["status", "opt-out"], nargs="?", default="status")
    sub.add_parser("lab-settings", help="make this environment's JupyterLab fetch no Jupyter news and check for no "
                   "updates (writes its overrides.json)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor()
    if args.command == "prepare":
        return prepare(args.notebooks)
    if args.command == "tune":
        return tune(args.model_dir, args.quick, args.json)
    if args.command == "lab-settings":
        return lab_settings()
    if args.action == "opt-out":
        path = telemetry.consent_file()
        if path is None:
            print("openvino-telemetry is not installed: nothing to opt out of")
            return 0
        if telemetry.opt_out() is None:
            print(f"could not write {path}: make its folder writable, then run this again")
            return 1
    print(f"OpenVINO/NNCF telemetry: {telemetry.status()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

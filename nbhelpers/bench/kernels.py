"""What the engines' kernels were built and configured with, per engine, and where they differ on this CPU.

The engines report it themselves from their workers (`build_info`): PyTorch its ATen CPU capability, OpenVINO
the device's OPTIMIZATION_CAPABILITIES and each compiled model's INFERENCE_PRECISION_HINT, llama.cpp its
`llama_print_system_info()` (the CPU features compiled in), the CMAKE_ARGS of its build and whether ggml's extra
buffer types (AMX, repacked weights) were allowed.
"""

from __future__ import annotations

import re
from typing import Any


def system_info_flags(system_info: str) -> dict[str, str]:
    """Parse llama.cpp's system info ('CPU : AVX512 = 1 | AMX_INT8 = 1 | ...') into {'AVX512': '1', ...}."""
    return dict(re.findall(r"([A-Za-z0-9_]+) = (\w+)", system_info))


def engine_builds(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Collect the rows' `build` dicts per engine: a value every row of the engine shares once, others per precision."""
    builds: dict[str, dict[str, Any]] = {}
    for engine in dict.fromkeys(r["engine"] for r in rows):
        infos = {r["precision"]: r["build"] for r in rows if r["engine"] == engine and r.get("build")}
        merged: dict[str, Any] = {}
        for key in dict.fromkeys(k for info in infos.values() for k in info):
            values = {precision: info[key] for precision, info in infos.items() if key in info}
            distinct = {repr(v) for v in values.values()}
            merged[key] = next(iter(values.values())) if len(distinct) == 1 else values
        if merged:
            builds[engine] = merged
    return builds


def kernel_notes(machine: dict[str, Any], builds: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """Return notes for the results: what each engine's kernels were built with; on an AMX CPU, who used AMX."""
    parts = []
    if "pytorch" in builds:
        parts.append(f"PyTorch dispatches to its {builds['pytorch'].get('cpu_capability')} kernels")
    if "openvino" in builds:
        ov = builds["openvino"]
        precision = ov.get("INFERENCE_PRECISION_HINT")
        per_row = ", ".join(f"{k}: {v}" for k, v in precision.items()) if isinstance(precision, dict) else precision
        capabilities = ov.get("OPTIMIZATION_CAPABILITIES")
        parts.append(f"OpenVINO's CPU plugin reports {', '.join(capabilities or [])} and ran at inference precision "
                     f"{per_row}")
    llama = builds.get("llama.cpp", {})
    info = llama.get("system_info", "")
    flags = system_info_flags(next(iter(info.values()), "") if isinstance(info, dict) else info)
    if llama:
        features = ", ".join(k for k, v in flags.items() if v == "1" and k.startswith(("AVX", "AMX", "F16C", "FMA")))
        parts.append(f"llama.cpp was built with CMAKE_ARGS `{llama.get('cmake_args')}` and has {features or 'no'} "
                     "kernels compiled in")
    notes = ["Kernels: " + "; ".join(parts) + "."] if parts else []
    amx = [f for f in machine.get("flags", []) if f.startswith("amx")]
    if amx and ("openvino" in builds or llama):
        notes.append(f"This CPU has AMX ({', '.join(amx)}). " + _amx_usage(builds, flags, rows))
    return notes


def _amx_usage(builds: dict[str, dict[str, Any]], flags: dict[str, str], rows: list[dict[str, Any]]) -> str:
    said = []
    if "openvino" in builds:
        said.append("OpenVINO's oneDNN kernels use it for bf16 and int8 matrix multiplications")
    llama_rows = [r for r in rows if r["engine"] == "llama.cpp" and r.get("status", "ok") == "ok" and r.get("build")]
    if llama_rows and flags.get("AMX_INT8") != "1":
        said.append("llama.cpp was built without AMX (no AMX_INT8 in its system info): it ran without it")
    elif llama_rows:
        without = [r["precision"] for r in llama_rows if r["build"].get("extra_buffer_types") is False]
        with_ = [r["precision"] for r in llama_rows if r["build"].get("extra_buffer_types") is not False]
        if with_:
            said.append(f"llama.cpp had its AMX buffer type available in {', '.join(with_)} (used for the "
                        "quantized types it has AMX kernels for)")
        if without:
            said.append(f"llama.cpp ran without AMX (and without repacked weights) in {', '.join(without)}, after "
                        "the default configuration crashed or hung")
    return "; ".join(said) + "." if said else ""

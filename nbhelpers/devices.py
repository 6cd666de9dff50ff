"""OpenVINO devices: what this machine has, and a clear error for what it has not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nbhelpers.errors import DeviceNotAvailableError

if TYPE_CHECKING:
    import openvino as ov

# Virtual devices that schedule onto the real ones; they are valid wherever their targets are.
VIRTUAL = ("AUTO", "MULTI", "HETERO", "BATCH")


def available_devices(core: ov.Core | None = None) -> list[str]:
    """Return the devices OpenVINO reports, e.g. ['CPU'] or ['CPU', 'GPU.0', 'NPU']."""
    import openvino as ov

    return list((core or ov.Core()).available_devices)


def device_names(core: ov.Core | None = None) -> dict[str, str]:
    """Return {device: full name}, e.g. {'CPU': 'Intel(R) Xeon(R) ...'}."""
    import openvino as ov

    core = core or ov.Core()
    return {d: str(core.get_property(d, "FULL_DEVICE_NAME")) for d in core.available_devices}


def check_device(device: str, available: list[str] | None = None) -> str:
    """Return `device` in OpenVINO's spelling (upper case) if this machine can run it.

    Accepts plain devices ('CPU', 'GPU.1'), bare families ('GPU' when 'GPU.0' exists) and virtual ones
    ('AUTO', 'AUTO:GPU,CPU', 'HETERO:GPU,CPU'), checking each device they name.
    Raises DeviceNotAvailableError, e.g. "NPU not available on this machine (available: CPU)".
    """
    have = available if available is not None else available_devices()
    name = device.strip().upper()
    if not name:
        raise DeviceNotAvailableError(f"empty device name; choose one of: {', '.join(have)}")
    head, _, targets = name.partition(":")
    if head in VIRTUAL:
        for target in filter(None, targets.split(",")):
            check_device(target, have)
        return name
    families = {d.split(".")[0] for d in have}
    if name in have or name in families:
        return name
    raise DeviceNotAvailableError(f"{name} not available on this machine (available: {', '.join(have)})")


# CPU instruction sets that change what OpenVINO's CPU plugin does (kernels, and bf16 compute by default).
CPU_FEATURES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16", "amx_bf16": "AMX BF16",
                "amx_int8": "AMX INT8"}


def cpu_features(cpuinfo: str | None = None) -> dict[str, bool | None]:
    """Return {'AVX2': True, 'AVX-512': True, 'AVX-512 BF16': False, 'AMX BF16': False, 'AMX INT8': False}.

    Read from /proc/cpuinfo's flags (or the `cpuinfo` text given); None for each where that is not available
    (Windows, macOS): `default_precision()` still says what OpenVINO chose.
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(encoding="utf-8", errors="replace") if sys.platform.startswith("linux") and \
            path.is_file() else ""
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), None)
    return {label: (None if flags is None else flag in flags) for flag, label in CPU_FEATURES.items()}


def default_precision(core: ov.Core | None = None) -> str:
    """Return the CPU plugin's default INFERENCE_PRECISION_HINT here: 'bf16' (AVX-512 BF16 or AMX) or 'f32'."""
    import openvino as ov

    return (core or ov.Core()).get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()

"""What machine a benchmark ran on, and how fast its memory is."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

# CPU flags that decide which kernels the engines can use.
FLAGS = ("avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def describe_machine() -> dict[str, Any]:
    """Return the CPU model, logical and physical cores, the relevant CPU flags, memory (GiB) and OS."""
    import psutil

    cpuinfo = Path("/proc/cpuinfo")
    info: dict[str, str] = {}
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())  # the first core's entry
    model = info.get("model name") or platform.processor() or "unknown CPU"
    flags = set(info.get("flags", "").split())
    return {
        "cpu": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "flags": [f for f in FLAGS if f in flags],
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """Return the machine as one line for a report header."""
    flags = ", ".join(machine["flags"]) or "no AVX2"
    return (f"{machine['cpu']}, {machine['physical_cores']} physical / {machine['logical_cores']} logical cores, "
            f"{machine['memory_gib']} GiB, {flags}")


def memory_bandwidth(mib: int = 512, repeats: int = 5, threads: int | None = None) -> dict[str, float]:
    """Measure memory bandwidth in GB/s with all cores: STREAM-style read, copy and triad over large arrays.

    torch runs each operation over all its threads in one pass (numpy would use one core, and its
    triad needs two passes). Bytes are counted as STREAM does: read (a dot product of two arrays) = 2
    arrays, copy = 2, triad `a = b + s * c` = 3 (write-allocate traffic is not counted: on the machines
    tried, writing alone ran at about 0.8x the read rate, so stores do not hide a read). Each figure is
    the best of `repeats`.
    The arrays (`mib` MiB each) must be much larger than the last-level cache.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    n = mib * 2**20 // 8
    a, b, c = (torch.full((n,), value, dtype=torch.float64) for value in (1.0, 2.0, 0.0))
    nbytes = n * 8
    kernels = {
        "read": (lambda: torch.dot(a, b), 2),
        "copy": (lambda: c.copy_(a), 2),
        "triad": (lambda: torch.add(b, c, alpha=3.0, out=a), 3),
    }
    result = {}
    for name, (kernel, arrays) in kernels.items():
        kernel()  # touch the pages first
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            kernel()
            best = min(best, time.perf_counter() - start)
        result[name] = arrays * nbytes / best / 1e9
    return result

"""What machine a benchmark ran on, how fast its memory is, and up to what working set its caches serve reads."""

from __future__ import annotations

import os
import platform
import re
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


def cpu_slug(machine: dict[str, Any]) -> str:
    """Return the CPU model as a folder name: 'Intel(R) Xeon(R) Platinum 8480+' -> 'intel-xeon-platinum-8480'."""
    name = re.sub(r"\((R|TM|tm|r)\)|\bCPU\b|@.*$|\d+-Core Processor", " ", machine["cpu"])
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown-cpu"


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


def working_set_sweep(max_mib: int = 2048, min_mib: int = 1, seconds: float = 0.1) -> dict[int, float]:
    """Measure read bandwidth (GB/s) for working sets of `min_mib` to `max_mib` MiB, doubling; return {MiB: GB/s}.

    For each size, torch sums that many MiB at the start of one float32 buffer on all its threads, over and over
    for about `seconds` (small sizes in batches, so that the call overhead does not count); each figure is the
    best pass.
    Reads served by the caches come out faster than the large-buffer plateau: see cache_resident_limit.
    Needs `max_mib` MiB of memory; a few seconds in all.
    """
    import torch

    buffer = torch.ones(max_mib * 2**20 // 4)
    result = {}
    mib = min_mib
    while mib <= max_mib:
        view = buffer[: mib * 2**20 // 4]
        batch = max(1, 64 // mib)  # at least 64 MiB read per timed pass
        view.sum()  # warm up: the buffer's pages and, where it fits, the caches
        best, deadline, passes = float("inf"), time.perf_counter() + seconds, 0
        while passes < 3 or time.perf_counter() < deadline:
            start = time.perf_counter()
            for _ in range(batch):
                view.sum()
            best = min(best, (time.perf_counter() - start) / batch)
            passes += 1
        result[mib] = mib * 2**20 / best / 1e9
        mib *= 2
    return result


def cache_resident_limit(sweep: dict[int, float], tolerance: float = 0.15) -> int:
    """Return X (MiB): the smallest working set of the sweep from which on read bandwidth stays within `tolerance`
    of the large-buffer plateau (the better of the two largest sizes: on a shared machine noise only slows a
    pass down). Below X, reads come (partly) from the caches. This is measured because lscpu's L3 size is not
    to be trusted on a virtual machine.
    """
    sizes = sorted(sweep)
    plateau = max(sweep[s] for s in sizes[-2:])
    limit = sizes[-1]
    for size in reversed(sizes):
        if sweep[size] > plateau * (1 + tolerance):
            break
        limit = size
    return limit


def versions() -> dict[str, str]:
    """Return the installed versions of the engines' packages (those that are installed)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("openvino", "openvino-genai", "torch", "transformers", "llama-cpp-python"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found

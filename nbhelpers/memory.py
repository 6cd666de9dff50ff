"""Process memory, measured in a fresh process so one measurement cannot reuse another's freed memory."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def rss_bytes() -> int:
    """Return this process's resident memory (RSS) in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def run_isolated(script: str, *args: object, timeout: float = 600) -> dict[str, Any]:
    """Run `script` with this interpreter in a new process and return the JSON object it prints last.

    `args` arrive in the script as `sys.argv[1:]` (as strings). Raises RuntimeError with the script's
    error output if it fails or prints no JSON line.
    """
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)],
                            capture_output=True, text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"isolated script failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return json.loads(lines[-1])

"""A notebook whose kernel dies fails within a minute, names the cell, and the run goes on (tests/nbval_guard.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_a_dead_kernel_fails_its_notebook_fast_and_the_next_notebook_still_runs(tmp_path: Path) -> None:
    for name in ("kernel-dies.ipynb", "kernel-lives.ipynb"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.nbval_guard", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "--nbval-cell-timeout=900", "-rA", "kernel-dies.ipynb", "kernel-lives.ipynb"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - start
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert seconds < 60, f"took {seconds:.0f} s: the dead kernel was waited for\n{out}"
    assert "kernel-dies.ipynb, Cell 1: the kernel was killed by signal SIGFPE while this cell ran" in out, out
    assert "PASSED kernel-dies.ipynb::Cell 0" in out and "not run: the kernel died in Cell 1" in out, out
    assert "1 failed, 3 passed, 1 error" in out, out  # Cell 0 of the first notebook and both of the second passed
    assert "kernel-lives.ipynb::Cell 1" in out and "notebook wall times" in out, out
    now = out.index("failed now: kernel-dies.ipynb::Cell 1\n")  # printed when it failed, before the summary
    assert now < out.index("= FAILURES =") and "killed by signal SIGFPE" in out[now:now + 4000], out

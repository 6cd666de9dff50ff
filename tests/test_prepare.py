"""`python -m nbhelpers prepare all` (`make prepare`) for real, offline: it builds and exports every model the
notebooks use into the cache they read (`models/` in the checkout unless NBHELPERS_CACHE names another folder),
each folder complete, and a second run builds nothing.

It writes to that shared cache on purpose, as a reader running `make prepare` does. In `make test` it runs beside
the other unit tests (two processes), so the notebooks that run after them find their models exported; a notebook
run alone on a fresh machine exports them in its own cells (README, "Tests and CI", gives both times)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbhelpers.__main__ import NOTEBOOK_NEEDS
from nbhelpers.cache import MARKER, is_complete

pytestmark = pytest.mark.slow
OFFLINE = {"NBHELPERS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def prepare_all() -> list[Path]:
    """Run the command; return the folders it reports ready, in its order."""
    done = subprocess.run([sys.executable, "-m", "nbhelpers", "prepare", "all"], capture_output=True, text=True,
                          env={**os.environ, **OFFLINE})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [Path(line.split(" -> ", 1)[1].strip()) for line in done.stdout.splitlines()
            if line.startswith("ready: ") and " -> " in line and not line.startswith("ready: LoRA")]


def test_prepare_all_exports_every_notebooks_models_once() -> None:
    first = prepare_all()
    jobs = {(role, args) for needs in NOTEBOOK_NEEDS.values() for role, args in needs}
    assert len(first) == len(jobs), "one folder reported for each (model, export) a notebook needs"
    assert all(is_complete(folder) for folder in first), [f for f in first if not is_complete(f)]
    built = {folder: (folder / MARKER).read_text() for folder in first}  # when each was built, and how long it took
    assert prepare_all() == first
    assert {folder: (folder / MARKER).read_text() for folder in first} == built, "the second run rebuilt a folder"

"""Shared fixtures: a private cache folder and home folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point NBHELPERS_CACHE at an empty folder for the test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NBHELPERS_CACHE", str(cache))
    return cache


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the home folder (where the telemetry consent file lives) at an empty folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LOCALAPPDATA", str(home))
    return home


@pytest.fixture
def quiet() -> Iterator[None]:
    """transformers' notices off while a test loads and generates (as notebooks 05 and 06 do
    around these calls)."""
    import transformers

    transformers.logging.set_verbosity_error()
    yield
    transformers.logging.set_verbosity_warning()

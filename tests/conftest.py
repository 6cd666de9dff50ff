"""Shared fixtures: a private cache folder and home folder per test, and a tiny demo model family."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbhelpers import demo_llm
from nbhelpers.demo_llm import LlamaShape

TINY_TARGET = LlamaShape(128, 256, 1, 2, 1, max_position_embeddings=256)
TINY_DRAFT = LlamaShape(128, 128, 1, 1, 1, max_position_embeddings=256)


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
def tiny_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make demo builds tiny: small shapes and a few training steps (structure, not quality)."""
    monkeypatch.setattr(demo_llm, "TARGET_SHAPE", TINY_TARGET)
    monkeypatch.setattr(demo_llm, "DRAFT_SHAPE", TINY_DRAFT)
    monkeypatch.setattr(demo_llm, "COST_SHAPE", TINY_TARGET)
    real = demo_llm.build_family

    def quick(target_dir: Path, draft_dir: Path, **kw: object) -> object:
        return real(target_dir, draft_dir, target_steps=3, draft_steps=2, **kw)

    monkeypatch.setattr(demo_llm, "build_family", quick)

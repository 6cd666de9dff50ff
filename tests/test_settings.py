from __future__ import annotations

import os
from pathlib import Path

import pytest

from nbhelpers import settings


@pytest.mark.parametrize("var", ["NBHELPERS_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_is_on_with_either_variable(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    for v in settings.OFFLINE_VARS:
        monkeypatch.delenv(v, raising=False)
    assert not settings.is_offline()
    assert "off" in settings.offline_reason()
    monkeypatch.setenv(var, "1")
    assert settings.is_offline()
    assert f"({var}=1)" in settings.offline_reason()


def test_offline_zero_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not settings.is_offline()
    assert settings.apply_offline_env() is False


def test_apply_offline_env_sets_hf_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    for key in settings.OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    assert settings.apply_offline_env() is True
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"


def test_cache_dir_follows_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NBHELPERS_CACHE", str(tmp_path / "x"))
    assert settings.cache_dir() == (tmp_path / "x").resolve()
    monkeypatch.delenv("NBHELPERS_CACHE")
    root = settings.project_root()
    assert root is not None and settings.cache_dir() == root / "models"


def test_installed_package_caches_in_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NBHELPERS_CACHE", raising=False)
    monkeypatch.setattr(settings, "__file__", str(tmp_path / "site-packages" / "nbhelpers" / "settings.py"))
    assert settings.project_root() is None
    assert settings.cache_dir() == Path.home() / ".cache" / "nbhelpers"


def test_offline_overrides_a_contrary_hf_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    settings.apply_offline_env()
    assert os.environ["HF_HUB_OFFLINE"] == "1"

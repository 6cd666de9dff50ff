from __future__ import annotations

from pathlib import Path

import pytest

from nbhelpers import models
from nbhelpers.errors import OfflineError, UnknownModelError


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBHELPERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_default_is_real_model_online_and_demo_offline(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert models.default_model("llm") == models.ROLES["llm"].hub_id
    assert models.default_model("llm-cost") == "nbhelpers/demo-llm-100m"  # has no hub model
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert models.default_model("llm") == "nbhelpers/demo-llm"
    assert models.why("nbhelpers/demo-llm").startswith(
        "Using the demo model nbhelpers/demo-llm, built on this machine: offline mode is on (NBHELPERS_OFFLINE=1)")


def test_choices_and_names() -> None:
    assert models.model_choices("llm") == ["HuggingFaceTB/SmolLM2-360M-Instruct", "nbhelpers/demo-llm"]
    assert models.is_demo("nbhelpers/demo-llm") and not models.is_demo("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert models.slug("a/b") == "a--b"
    assert models.slug("nbhelpers/demo-llm") == f"nbhelpers--demo-llm-r{models.DEMO_RECIPE}"
    assert "hub model" in models.why("HuggingFaceTB/SmolLM2-360M-Instruct")


def test_unknown_names_are_rejected_clearly() -> None:
    with pytest.raises(UnknownModelError, match="unknown model role 'vlm'; known roles: llm"):
        models.model_choices("vlm")
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-5'; choose one of"):
        models.model_source("gpt-5")


def test_hub_model_offline_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    with pytest.raises(OfflineError, match="offline mode is on; choose a demo model"):
        models.model_source("HuggingFaceTB/SmolLM2-360M-Instruct")


def test_hub_model_online_is_passed_through(online: None) -> None:
    assert models.model_source("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_paths_live_in_the_cache(tmp_cache: Path) -> None:
    r = f"-r{models.DEMO_RECIPE}"
    assert models.snapshot_dir("nbhelpers/demo-llm") == tmp_cache / "hf" / f"nbhelpers--demo-llm-family{r}" / "target"
    assert models.snapshot_dir("nbhelpers/demo-llm-100m") == tmp_cache / "hf" / f"nbhelpers--demo-llm-100m{r}"
    assert models.ov_dir("nbhelpers/demo-llm", "int4") == tmp_cache / "ov" / f"nbhelpers--demo-llm{r}" / "int4"


def test_export_command_uses_this_interpreter(tmp_path: Path) -> None:
    import sys

    cmd = models.export_command("m", tmp_path, "int8", "--disable-stateful")
    assert cmd[:3] == [sys.executable, "-m", "optimum.commands.optimum_cli"]
    assert cmd[-2:] == ["--disable-stateful", str(tmp_path)]
    assert cmd[cmd.index("--weight-format") + 1] == "int8"

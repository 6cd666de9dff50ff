from __future__ import annotations

import pytest

from nbhelpers.widgets import device_selector, model_selector


def test_model_selector_offers_real_and_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("NBHELPERS_OFFLINE", "0")
    online = model_selector("llm")
    assert list(online.options) == ["HuggingFaceTB/SmolLM2-360M-Instruct", "nbhelpers/demo-llm"]
    assert online.value == "HuggingFaceTB/SmolLM2-360M-Instruct"
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert model_selector("llm").value == "nbhelpers/demo-llm"


def test_device_selector_lists_this_machine() -> None:
    widget = device_selector()
    assert "CPU" in widget.options and widget.options[-1] == "AUTO" and widget.value == "CPU"
    assert device_selector(default="TPU", include_auto=False).value == widget.options[0]


def test_pair_selector_defaults_to_demo_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhelpers.widgets import pair_selector

    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert pair_selector().value == ("nbhelpers/demo-llm-padded", "nbhelpers/demo-llm-draft")
    monkeypatch.setenv("NBHELPERS_OFFLINE", "0")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert pair_selector().value[0] == "HuggingFaceTB/SmolLM2-1.7B-Instruct"

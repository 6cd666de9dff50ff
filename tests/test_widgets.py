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
    assert pair_selector().value == ("Qwen/Qwen3-1.7B", "Qwen/Qwen3-0.6B")


def test_chat_widget_streams_replies_and_reports_errors() -> None:
    import ipywidgets as widgets
    from PIL import Image

    from nbhelpers.widgets import ChatWidget

    calls: list[tuple[str, object]] = []
    resets: list[bool] = []

    def respond(text: str, image: object, on_text: object) -> str:
        calls.append((text, image))
        for piece in ("a red", " circle."):
            on_text(piece)  # type: ignore[operator]
        return "a red circle."

    chat = ChatWidget(respond, reset=lambda: resets.append(True))
    image = Image.new("RGB", (200, 100), "red")
    assert chat.send("describe the image.", image) == "a red circle."
    assert calls == [("describe the image.", image)]
    thumbnail, you, model = chat.transcript.children
    assert isinstance(thumbnail, widgets.Image) and "describe the image." in you.value
    assert model.value.endswith("a red circle.")
    chat.text.value = "   "  # typing only spaces: an error line, the model is not called
    assert chat.send() == "" and "type a message" in chat.transcript.children[-1].value and len(calls) == 1
    import datetime as dt

    chat.upload.value = ({"name": "x.png", "type": "image/png", "size": 12, "content": memoryview(b"not an image"),
                          "last_modified": dt.datetime.now(dt.timezone.utc)},)
    assert chat.send("what colour is it?") == "" and "could not read" in chat.transcript.children[-1].value
    chat.upload.value = ()
    chat.clear()
    assert chat.transcript.children == () and resets == [True]

"""Small ipywidgets controls the notebooks share: model and device selectors, and a chat box.

The selectors are plain `ipywidgets.Dropdown`s; read `.value` in the next cell. When a notebook runs
unattended (nbval, `jupyter nbconvert --execute`) the default value is used. `ChatWidget` draws a chat
around a function the notebook writes (the model call stays in the notebook).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as widgets

from nbhelpers.devices import available_devices
from nbhelpers.models import SPECULATIVE_PAIRS, default_model, default_pair, model_choices

if TYPE_CHECKING:
    from PIL import Image


def model_selector(role: str, description: str = "Model:") -> widgets.Dropdown:
    """Return a dropdown of the real and demo models for `role`, set to `default_model(role)`."""
    return widgets.Dropdown(
        options=model_choices(role), value=default_model(role), description=description,
        style={"description_width": "initial"}, layout=widgets.Layout(width="480px"),
    )


def pair_selector(description: str = "Target + draft:") -> widgets.Dropdown:
    """Return a dropdown of speculative-decoding pairs; its value is a (target, draft) tuple of model names."""
    return widgets.Dropdown(
        options=list(SPECULATIVE_PAIRS.items()), value=SPECULATIVE_PAIRS[default_pair()], description=description,
        style={"description_width": "initial"}, layout=widgets.Layout(width="640px"),
    )


def device_selector(default: str = "CPU", include_auto: bool = True, description: str = "Device:") -> widgets.Dropdown:
    """Return a dropdown of this machine's devices (plus AUTO), set to `default` if present, else the first."""
    options = available_devices() + (["AUTO"] if include_auto else [])
    value = default if default in options else options[0]
    return widgets.Dropdown(options=options, value=value, description=description)


class ChatWidget:
    """A small chat box for an image + text model: transcript, image upload, text field, Send and New chat.

    The notebook supplies `respond(text, image, on_text)`: it runs the model on the user's `text` and
    (optional) RGB `image`, calls `on_text(piece)` for every streamed piece, and returns the whole reply.
    `reset()` (optional) starts a new conversation. The widget only draws: it shows the user's turn with a
    thumbnail, streams the reply into the transcript, and shows errors (an empty message, an upload that is
    not an image) in the transcript instead of raising. `send(text, image)` does from code what the Send
    button does.
    """

    def __init__(self, respond: Callable[[str, Image.Image | None, Callable[[str], None]], str],
                 reset: Callable[[], None] | None = None, thumbnail: int = 96) -> None:
        self.respond, self.reset, self.thumbnail = respond, reset, thumbnail
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Image")
        self.text = widgets.Text(placeholder="Ask about the image, then press Send",
                                 layout=widgets.Layout(width="420px"))
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.new_button = widgets.Button(description="New chat")
        self.transcript = widgets.VBox(layout=widgets.Layout(max_height="360px", overflow="auto"))
        self.send_button.on_click(lambda _: self.send())  # the only trigger: a text field also fires on blur
        self.new_button.on_click(lambda _: self.clear())
        self.box = widgets.VBox([self.transcript, widgets.HBox([self.upload, self.text, self.send_button,
                                                                 self.new_button])])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def _line(self, who: str, text: str = "") -> widgets.HTML:
        line = widgets.HTML(f"<b>{who}:</b> {html.escape(text)}")
        self.transcript.children = (*self.transcript.children, line)
        return line

    def send(self, text: str | None = None, image: Image.Image | None = None) -> str:
        """Send `text` (default: the text field) with `image` (default: the uploaded one, if any); return the reply.

        Returns "" and shows the error in the transcript for an empty message or an unreadable upload.
        """
        from nbhelpers.errors import ImageError
        from nbhelpers.images import from_upload, to_png

        text = self.text.value if text is None else text
        try:
            image = image if image is not None else from_upload(self.upload.value)
        except ImageError as error:
            self._line("error", str(error))
            return ""
        if not text.strip():
            self._line("error", "type a message first (images go with a message)")
            return ""
        self.text.value, self.upload.value = "", ()
        if image is not None:
            small = image.copy()
            small.thumbnail((self.thumbnail, self.thumbnail))
            self.transcript.children = (*self.transcript.children, widgets.Image(value=to_png(small), format="png"))
        self._line("you", text)
        line, pieces = self._line("model"), []

        def on_text(piece: str) -> None:
            pieces.append(piece)
            line.value = f"<b>model:</b> {html.escape(''.join(pieces))}"

        reply = self.respond(text, image, on_text)
        line.value = f"<b>model:</b> {html.escape(reply)}"
        return reply

    def clear(self) -> None:
        """Empty the transcript and start a new conversation."""
        self.transcript.children = ()
        if self.reset is not None:
            self.reset()

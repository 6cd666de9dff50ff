"""Small ipywidgets controls the notebooks share: a model selector and a device selector.

Both are plain `ipywidgets.Dropdown`s; read `.value` in the next cell. When a notebook runs
unattended (nbval, `jupyter nbconvert --execute`) the default value is used.
"""

from __future__ import annotations

import ipywidgets as widgets

from nbhelpers.devices import available_devices
from nbhelpers.models import SPECULATIVE_PAIRS, default_model, default_pair, model_choices


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

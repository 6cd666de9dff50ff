"""nbhelpers: the plumbing the OpenVINO GenAI notebooks share (models, cache, devices, timing, plots).

Importing it applies offline mode before any Hugging Face library is imported: when `NBHELPERS_OFFLINE=1`
or `HF_HUB_OFFLINE=1`, the Hugging Face offline and no-telemetry variables are set and OpenVINO / NNCF
telemetry is opted out of (without sending anything). Import `nbhelpers` first in a notebook.
"""

from __future__ import annotations

from nbhelpers.settings import apply_offline_env

__version__ = "0.1.0"

if apply_offline_env():
    from nbhelpers.telemetry import opt_out as _opt_out

    _opt_out()

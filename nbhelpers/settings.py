"""Where things live and whether we may use the network: offline mode and the cache folder.

Offline mode is on when `NBHELPERS_OFFLINE=1` or `HF_HUB_OFFLINE=1`. In offline mode the notebooks
use the locally built demo models, the Hugging Face libraries are told not to connect, and OpenVINO
and NNCF telemetry is opted out of (see `nbhelpers.telemetry`).
"""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_VARS = ("NBHELPERS_OFFLINE", "HF_HUB_OFFLINE")
CACHE_VAR = "NBHELPERS_CACHE"
# Set whenever offline mode is on, before any Hugging Face library is imported.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DO_NOT_TRACK": "1",
}
_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_offline() -> bool:
    """Return True when offline mode is on (`NBHELPERS_OFFLINE=1` or `HF_HUB_OFFLINE=1`)."""
    return any(_flag(v) for v in OFFLINE_VARS)


def offline_reason() -> str:
    """Return one sentence saying whether offline mode is on and which variable turned it on."""
    on = next((v for v in OFFLINE_VARS if _flag(v)), None)
    if on:
        return f"offline mode is on ({on}=1), so demo models are built locally"
    return "offline mode is off, so real models are downloaded from the Hugging Face hub on first use"


def apply_offline_env() -> bool:
    """If offline mode is on, set the Hugging Face offline and no-telemetry variables. Returns is_offline()."""
    if not is_offline():
        return False
    os.environ.update(OFFLINE_ENV)  # override e.g. HF_HUB_OFFLINE=0: offline means offline
    return True


def project_root() -> Path | None:
    """Return the checkout that holds this package (a folder with pyproject.toml), or None if installed."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def cache_dir() -> Path:
    """Return the cache folder for models: `$NBHELPERS_CACHE`, else `<checkout>/models`, else `~/.cache/nbhelpers`."""
    if os.environ.get(CACHE_VAR):
        return Path(os.environ[CACHE_VAR]).expanduser().resolve()
    root = project_root()
    return root / "models" if root is not None else Path.home() / ".cache" / "nbhelpers"

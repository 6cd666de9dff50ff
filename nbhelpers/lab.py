"""JupyterLab's settings for this environment: no Jupyter news fetch, no update check (`make install` writes them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nbhelpers.errors import NbhelpersError

# The notification plugin's schema: jupyterlab/schemas/@jupyterlab/apputils-extension/notification.json.
# fetchNews is a string ("true" Always, "false" Never, "none" Ask: the default, a prompt on first start);
# checkForUpdates is a boolean and fetches only when fetchNews is "true".
NOTIFICATION_PLUGIN = "@jupyterlab/apputils-extension:notification"
QUIET_NOTIFICATIONS = {"fetchNews": "false", "checkForUpdates": False}


def overrides_file(prefix: Path | str | None = None) -> Path:
    """Return the overrides.json that JupyterLab in the environment at `prefix` (default: this one) reads defaults
    from: `<prefix>/share/jupyter/lab/settings/overrides.json`."""
    return Path(sys.prefix if prefix is None else prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def quiet_notifications(prefix: Path | str | None = None) -> Path:
    """Set the notification plugin's defaults to QUIET_NOTIFICATIONS in overrides.json, keeping its other entries;
    return the file's path. Raises NbhelpersError if an existing file is not a JSON object."""
    path = overrides_file(prefix)
    overrides = {}
    if path.is_file():
        try:
            overrides = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise NbhelpersError(f"{path} is not valid JSON ({exc}); fix or delete it, then run this again") from None
        if not isinstance(overrides, dict):
            raise NbhelpersError(f"{path} holds {type(overrides).__name__}, not a JSON object; fix or delete it")
    overrides.setdefault(NOTIFICATION_PLUGIN, {}).update(QUIET_NOTIFICATIONS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(overrides, indent=2) + "\n", encoding="utf-8")
    return path

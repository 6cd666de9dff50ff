"""OpenVINO / NNCF telemetry consent, read and written without sending anything.

openvino-telemetry treats a missing consent file as consent. Its own `opt_in_out --opt_out` writes the
file but, the first time, also sends one "opted out" event; `opt_out()` here writes the same file and
sends nothing. Users who want to share usage data can run `opt_in_out --opt_in` (see the README).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Status = Literal["opted out", "opted in", "undecided (counts as consent)", "unavailable"]


def consent_file() -> Path | None:
    """Return the path of openvino-telemetry's consent file, or None if the package is missing."""
    try:
        from openvino_telemetry.utils.opt_in_checker import OptInChecker
    except ImportError:
        return None
    base, sub = OptInChecker.consent_file_base_dir(), OptInChecker.consent_file_subdirectory()
    if base is None or sub is None:
        return None
    return Path(base) / sub / "openvino_telemetry"


def status() -> Status:
    """Return the current consent as one of the `Status` strings."""
    path = consent_file()
    if path is None:
        return "unavailable"
    if not path.is_file():
        return "undecided (counts as consent)"
    return "opted in" if path.read_text(encoding="utf-8").strip() == "1" else "opted out"


def opt_out() -> Path | None:
    """Record 'no telemetry' in the consent file without sending any event. Returns the file's path.

    Returns None (and does nothing) when openvino-telemetry is not installed or the home folder is unusable.
    """
    path = consent_file()
    if path is None:
        return None
    from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker

    return path if OptInChecker().update_result(ConsentCheckResult.DECLINED) else None

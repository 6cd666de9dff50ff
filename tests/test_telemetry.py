from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nbhelpers import telemetry


def test_opt_out_writes_consent_file_and_sends_nothing(tmp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("opt_out tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert telemetry.status() == "undecided (counts as consent)"
    path = telemetry.opt_out()
    assert path is not None and path.is_file() and tmp_home in path.parents
    assert path.read_text().strip() == "0"
    assert telemetry.status() == "opted out"


def test_without_a_home_folder_nothing_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    from openvino_telemetry.utils.opt_in_checker import OptInChecker

    monkeypatch.setattr(OptInChecker, "consent_file_base_dir", staticmethod(lambda: None))
    assert telemetry.consent_file() is None and telemetry.opt_out() is None and telemetry.status() == "unavailable"


def test_status_reads_opt_in(tmp_home: Path) -> None:
    path = telemetry.consent_file()
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_text("1")
    assert telemetry.status() == "opted in"

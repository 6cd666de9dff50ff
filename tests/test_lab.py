"""`make install` leaves JupyterLab quiet: no "get Jupyter news?" prompt, no news fetch, no update check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nbhelpers import __main__ as cli
from nbhelpers import lab
from nbhelpers.errors import NbhelpersError


def _effective_defaults(overrides: Path, user_settings: Path) -> dict[str, object]:
    """The notification plugin's defaults as JupyterLab's own settings loader serves them to the browser, with the
    installed schemas, the overrides.json `overrides` and the user settings folder `user_settings`."""
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings

    found, _ = get_settings(str(overrides.parent), str(Path(get_app_dir(), "schemas")), str(user_settings),
                            schema_name=lab.NOTIFICATION_PLUGIN)
    return {key: spec.get("default") for key, spec in found["schema"]["properties"].items()}


def test_the_installed_jupyterlab_fetches_no_news_and_checks_no_updates(tmp_path: Path) -> None:
    """The venv's overrides.json, written by `make install` (`python -m nbhelpers lab-settings`)."""
    from jupyterlab.commands import get_app_dir

    app_dir = Path(get_app_dir())
    path = lab.overrides_file()
    assert path == app_dir / "settings" / "overrides.json"  # where JupyterLab looks
    assert path == Path(sys.prefix, "share", "jupyter", "lab", "settings", "overrides.json")
    assert path.is_file(), f"{path} is missing: run `make install` (or `python -m nbhelpers lab-settings`)"
    written = json.loads(path.read_text(encoding="utf-8"))[lab.NOTIFICATION_PLUGIN]
    assert written["fetchNews"] == "false" and written["checkForUpdates"] is False, written
    defaults = _effective_defaults(path, tmp_path)  # an empty user-settings folder: only the overrides apply
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, defaults


def test_the_values_are_valid_for_jupyterlab_s_schema() -> None:
    import jsonschema
    from jupyterlab.commands import get_app_dir

    schema_file = Path(get_app_dir(), "schemas", "@jupyterlab", "apputils-extension", "notification.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validate(lab.QUIET_NOTIFICATIONS, schema)  # additionalProperties is false: a renamed key fails
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"fetchNews": False}, schema)  # a boolean is not one of "true", "false", "none"


def test_quiet_notifications_keeps_other_overrides(tmp_path: Path) -> None:
    path = lab.overrides_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                lab.NOTIFICATION_PLUGIN: {"fetchNews": "true", "doNotDisturbMode": True}}))
    assert lab.quiet_notifications(tmp_path) == path
    assert json.loads(path.read_text()) == {
        "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
        lab.NOTIFICATION_PLUGIN: {"fetchNews": "false", "doNotDisturbMode": True, "checkForUpdates": False}}
    defaults = _effective_defaults(path, tmp_path / "user")
    assert (defaults["fetchNews"], defaults["checkForUpdates"], defaults["doNotDisturbMode"]) == ("false", False, True)


def test_a_broken_overrides_file_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = lab.overrides_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(NbhelpersError, match="is not valid JSON .*fix or delete it"):
        lab.quiet_notifications(tmp_path)
    path.write_text("[]")
    with pytest.raises(NbhelpersError, match="holds list, not a JSON object"):
        lab.quiet_notifications(tmp_path)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert cli.main(["lab-settings"]) == 1
    assert "holds list" in capsys.readouterr().err
    path.unlink()
    assert cli.main(["lab-settings"]) == 0
    assert f'fetchNews "false", checkForUpdates false in {path}' in capsys.readouterr().out
    assert json.loads(path.read_text()) == {lab.NOTIFICATION_PLUGIN: lab.QUIET_NOTIFICATIONS}

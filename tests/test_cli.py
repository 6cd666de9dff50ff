from __future__ import annotations

from pathlib import Path

import pytest

from nbhelpers import __main__ as cli


def test_doctor_reports_everything(capsys: pytest.CaptureFixture[str], tmp_cache: Path, tmp_home: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert cli.doctor() == 0
    out = capsys.readouterr().out
    for expected in ("ok   openvino ", "ok   optimum.intel ", "device CPU:", "mode   offline mode is on",
                     f"cache  {tmp_cache}", "telemetry (OpenVINO/NNCF) undecided", "all notebook imports work",
                     "cpu    default INFERENCE_PRECISION_HINT ",
                     "multi-stream compile a small fp16-weight model on CPU with PERFORMANCE_HINT=THROUGHPUT: "):
        assert expected in out


def test_doctor_reports_a_crashing_multi_stream_compile(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhelpers import isolation

    crash = isolation.ChildOutcome(False, "compile a small fp16-weight model on CPU", -8)
    monkeypatch.setattr(isolation, "multi_stream_compile", lambda: crash)
    assert cli.doctor() == 0  # a warning with the workaround, not a broken installation
    out = capsys.readouterr().out
    assert "WARN multi-stream compile a small fp16-weight model on CPU: crashed (SIGFPE)" in out
    assert "workaround: INFERENCE_PRECISION_HINT f32" in out


def test_doctor_reports_a_broken_import(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "NOTEBOOK_IMPORTS", ("openvino", "no_such_module_xyz"))
    assert cli.doctor() == 1
    assert "FAIL no_such_module_xyz" in capsys.readouterr().out


def test_doctor_survives_a_broken_device_driver(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import nbhelpers.devices

    def broken() -> dict[str, str]:
        raise RuntimeError("libOpenCL.so.1: cannot open shared object file")

    monkeypatch.setattr(nbhelpers.devices, "device_names", broken)
    assert cli.doctor() == 1
    out = capsys.readouterr().out
    assert "FAIL listing OpenVINO devices: RuntimeError: libOpenCL" in out and "telemetry" in out


def test_telemetry_command(capsys: pytest.CaptureFixture[str], tmp_home: Path) -> None:
    assert cli.main(["telemetry"]) == 0
    assert "OpenVINO/NNCF telemetry: undecided" in capsys.readouterr().out
    assert cli.main(["telemetry", "opt-out"]) == 0
    assert "OpenVINO/NNCF telemetry: opted out" in capsys.readouterr().out


def test_telemetry_opt_out_failure_says_what_to_do(capsys: pytest.CaptureFixture[str], tmp_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhelpers import telemetry

    monkeypatch.setattr(telemetry, "opt_out", lambda: None)
    assert cli.main(["telemetry", "opt-out"]) == 1
    assert "could not write" in capsys.readouterr().out


def test_prepare_rejects_unknown_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["prepare", "42"]) == 2
    numbers = sorted(p.name[:2] for p in (Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
    assert numbers[-1] == "11", numbers
    expected = f"unknown notebook(s) 42; choose from: {', '.join(numbers)} or all"  # every notebook, no other
    assert expected in capsys.readouterr().out


def test_prepare_exports_what_a_notebook_needs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import nbhelpers.export
    import nbhelpers.models

    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    done: list[tuple[str, str]] = []
    monkeypatch.setattr(nbhelpers.export, "llm_dir", lambda name, *args: done.append((name, *args)) or tmp_path)
    assert cli.main(["prepare", "00", "01"]) == 0
    assert done == [("nbhelpers/demo-llm", "fp16"), ("nbhelpers/demo-llm-100m", "fp16"),
                    ("nbhelpers/demo-llm", "fp16", "--disable-stateful"),
                    ("nbhelpers/demo-llm-100m", "fp16", "--disable-stateful")]


def test_prepare_exports_the_image_model_and_its_loras(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import nbhelpers.export
    import nbhelpers.models

    monkeypatch.delenv("NBHELPERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    done: list[tuple[str, ...]] = []
    monkeypatch.setattr(nbhelpers.export, "llm_dir", lambda name, *args: done.append(("llm", name)) or tmp_path)
    monkeypatch.setattr(nbhelpers.export, "export_text2image",
                        lambda name, *args: done.append(("t2i", name)) or tmp_path)
    monkeypatch.setattr(nbhelpers.models, "hub_lora_file", lambda lora: done.append(("lora", lora.repo)) or tmp_path)
    assert cli.main(["prepare", "09"]) == 0
    t2i = nbhelpers.models.ROLES["text2image"].hub_id
    assert ("t2i", t2i) in done
    assert [d for d in done if d[0] == "lora"] == [("lora", lora.repo) for lora in nbhelpers.models.HUB_LORAS[t2i]]


def test_prepare_exports_the_vision_language_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import nbhelpers.export
    import nbhelpers.models

    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    done: list[tuple[str, ...]] = []
    monkeypatch.setattr(nbhelpers.export, "export_vlm", lambda name, *args: done.append((name, *args)) or tmp_path)
    assert cli.main(["prepare", "06"]) == 0
    assert done == [("nbhelpers/demo-vlm", "fp16"), ("nbhelpers/demo-vlm", "int4"),
                    ("nbhelpers/demo-vlm-cost", "fp16"), ("nbhelpers/demo-vlm-cost", "int4"),
                    ("nbhelpers/demo-gemma4", "fp16"), ("nbhelpers/demo-gemma4-cost", "fp16")]


def test_notebook_needs_cover_every_notebook() -> None:
    root = Path(cli.__file__).resolve().parent.parent / "notebooks"
    numbers = {p.name[:2] for p in root.glob("[0-9][0-9]-*.ipynb")}
    assert numbers and numbers <= set(cli.NOTEBOOK_NEEDS)


def test_prepare_lists_each_demos_timing_stand_in_with_the_same_exports() -> None:
    """Offline, a notebook times a demo's random-weight stand-in of realistic size (`timing_model`); `prepare` must
    export that too, in each of the demo's exports, or the notebook exports it in its own cells after all."""
    from nbhelpers.models import ROLES, timing_model

    for notebook, needs in cli.NOTEBOOK_NEEDS.items():
        prepared = {(ROLES[role].demo, args) for role, args in needs}
        for role, args in needs:
            stand_in = timing_model(ROLES[role].demo)
            assert (stand_in, args) in prepared, (notebook, ROLES[role].demo, stand_in, args)

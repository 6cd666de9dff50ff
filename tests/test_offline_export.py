"""End to end in offline mode with every network connection refused: build, export, generate.

A subprocess runs with a `sitecustomize` that makes any socket connection or DNS look-up fail and
records it, in that process and in the optimum-cli export it starts, so nothing can slip through.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nbhelpers import export
from nbhelpers.cache import is_complete
from nbhelpers.export import OV_LLM_FILES

GUARD = """
import socket, os
def _refuse(*args, **kwargs):
    with open(os.environ["NETWORK_LOG"], "a") as log:
        log.write(repr(args[:2]) + "\\n")
    raise OSError("network is disabled in this test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""

SCRIPT = """
import nbhelpers
from nbhelpers import models, settings, telemetry
assert settings.is_offline() and telemetry.status() == "opted out"
name = models.default_model("llm")
assert name == "nbhelpers/demo-llm", name
from nbhelpers import export
ov_dir = export.export_llm(name)
import openvino_genai
pipe = openvino_genai.LLMPipeline(str(ov_dir), "CPU")
out = pipe.generate("What is the capital of France?", max_new_tokens=4, do_sample=False)
print("OUT", repr(out))
"""


@pytest.mark.slow
def test_offline_build_export_generate_without_network(tmp_path: Path, tmp_cache: Path, tmp_home: Path) -> None:
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(textwrap.dedent(GUARD))
    log = tmp_path / "network.log"
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "CI")}
    env.update(NBHELPERS_OFFLINE="1", NETWORK_LOG=str(log), PYTHONPATH=os.pathsep.join([str(guard_dir), str(root)]))
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OUT '" in result.stdout
    assert not log.exists(), f"network was attempted: {log.read_text()}"
    ov_dir = export.ov_dir("nbhelpers/demo-llm")
    assert is_complete(ov_dir) and all((ov_dir / f).is_file() for f in OV_LLM_FILES)
    assert not list(ov_dir.parent.glob(".*partial*"))

"""The project's layout keeps one place for each question (README, "The nbhelpers package")."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nbhelpers"


def test_no_module_of_the_installed_package_is_a_grab_bag() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 300, {p: n for p, n in sizes.items() if n > 300}


def test_training_programs_live_outside_the_installed_package() -> None:
    training = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                if ".backward(" in p.read_text(encoding="utf-8")]
    assert not training, f"training loops belong in tools/: {training}"
    assert (ROOT / "tools" / "train_demo_llm.py").is_file()


def test_one_optimum_cli_command_builder() -> None:
    users = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if "optimum.commands.optimum_cli" in p.read_text()]
    assert users == ["nbhelpers/export.py"], users


def test_the_project_lints_clean() -> None:
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "nbhelpers", "tests", "tools", "repro", "notebooks",
                          "conftest.py"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


ZIZMOR = shutil.which("zizmor", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(ZIZMOR is None, reason="zizmor has no wheel for this platform (requirements.txt)")
def test_the_workflow_lints_clean() -> None:
    run = subprocess.run([str(ZIZMOR), "--offline", "--strict-collection", "--no-progress", ".github/workflows"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_committed_demos_but_not_tools(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info next to pyproject.toml
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", "models", ".git", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("nbhelpers-*.whl"))).namelist()
    assert not [n for n in names if n.startswith(("tools/", "tests/", "notebooks/"))]
    for expected in ("nbhelpers/export.py", "nbhelpers/demos/llm.py", "nbhelpers/bench/run.py",
                     "nbhelpers/demos/data/demo-llm/target/model.safetensors",
                     "nbhelpers/demos/data/demo-whisper/clips/heldout-00.flac",
                     "nbhelpers/demos/data/demo-vlm/model.safetensors",
                     "nbhelpers/demos/data/demo-sd/unet/diffusion_pytorch_model.safetensors",
                     "nbhelpers/demos/data/demo-sd-loras/outline.safetensors"):
        assert expected in names, expected

"""Every notebook is committed clean and follows one structure (described in the README, "The notebooks").

(nbval executes the notebooks themselves; this file checks their shape.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks found"
    assert all(re.match(r"\d\d-[a-z0-9-]+\.ipynb$", p.name) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, "clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_shared_structure(path: Path) -> None:
    cells = _cells(path)
    markdown = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    assert markdown[0].startswith("# "), "first cell: a title"
    toc = next((m for m in markdown if "table of contents" in m.lower()), "")
    anchors = re.findall(r"\]\(#([a-z0-9-]+)\)", toc)
    assert len(anchors) >= 4, "a table of contents with links to the sections"
    # Sections carry explicit anchors (<a id="..."></a>): they work in JupyterLab, VS Code and on GitHub alike.
    targets = {a for m in markdown for a in re.findall(r'<a id="([a-z0-9-]+)"></a>\s*\n##', m)}
    assert set(anchors) <= targets, f"table of contents links without a section: {set(anchors) - targets}"
    assert "device_selector(" in code, "a device selector"
    assert "model_selector(" in code or "pair_selector(" in code, "a model selector"
    assert re.search(r"^\s*assert ", code, flags=re.M), "at least one assert on a real result"
    assert "import nbhelpers" in _source(next(c for c in cells if c["cell_type"] == "code")), "import nbhelpers first"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_forbidden_patterns(path: Path) -> None:
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    for pattern, why in [(r"pip install", "the README installs everything"),
                         (r"^\s*!", "shell escapes: use subprocess with sys.executable"),
                         (r"trust_remote_code\s*=\s*True", "never by default"),
                         (r"NBVAL_SKIP|NBVAL_IGNORE", "every cell runs"),
                         (r"hf_[A-Za-z0-9]{20,}", "no secrets")]:
        assert not re.search(pattern, code, flags=re.M), why

"""Every notebook is committed clean and follows one structure (described in the README, "The notebooks").

(nbval executes the notebooks themselves; this file checks their shape.)
"""

from __future__ import annotations

import ast
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
    assert "import nbhelpers" in _source(next(c for c in cells if c["cell_type"] == "code")), "import nbhelpers first"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_forbidden_patterns(path: Path) -> None:
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    for pattern, why in [(r"pip install", "the README installs everything"),
                         (r"^\s*!", "shell escapes: use subprocess with sys.executable"),
                         (r"trust_remote_code\s*=\s*True", "never by default"),
                         (r"hf_[A-Za-z0-9]{20,}", "no secrets")]:
        assert not re.search(pattern, code, flags=re.M), why


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_nbval_markers(path: Path) -> None:
    """Every cell runs and must succeed: no nbval marker (skip, raises-exception, output checks), neither as a comment
    in the code nor as a cell tag, found as nbval itself finds them."""
    from nbval.plugin import find_comment_markers, find_metadata_tags

    marked = {cell.get("id"): [*find_comment_markers(_source(cell)), *find_metadata_tags(cell.get("metadata", {}))]
              for cell in _cells(path) if cell["cell_type"] == "code"}
    found = {cell: markers for cell, markers in marked.items() if markers}
    assert not found, found


# The cell rules of GUIDE.md, "One structure for every notebook", enforced.
MAX_CELL_LINES = 25
# A cell that calls OpenVINO, GenAI, NNCF or optimum teaches that call: it must run when pasted into a script next
# to the model folder, so it may use only the measuring and display helpers: how long, how big, how good (the one
# quality metric of nbhelpers.quality), in a table or a plot.
TEACHES = re.compile(r"\b(?:ov|ov_genai|nncf|openvino|openvino_genai)\.[A-Za-z_]\w*\(|"
                     r"\bcore\.(?:compile_model|read_model)\(|\.generate\(|optimum\.commands|\bOV\w+\.from_pretrained\(")
MEASURING = {"interleaved", "spread", "perf_row", "distinct_prompts", "markdown_table", "bars", "lines", "scatter",
             "image_grid", "timeline", "human_size", "folder_size", "answer_log_probs", "kl_divergence", "perplexity",
             "duration", "SAMPLE_RATE", "waveform", "grade"}


def _helper_names(cells: list[dict]) -> set[str]:
    """The names the setup cell imports from nbhelpers."""
    setup = ast.parse(_source(next(c for c in cells if c["cell_type"] == "code")))
    return {alias.asname or alias.name for node in ast.walk(setup)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nbhelpers") for alias in node.names}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_are_short(path: Path) -> None:
    long = {}
    for cell in _cells(path):
        lines = _source(cell).rstrip("\n").splitlines()
        if "import nbhelpers" in _source(cell):  # the setup cell: imports are a list, the rest must be short
            lines = [line for line in lines if not re.match(r"(import|from) \w", line)]
        if cell["cell_type"] == "code" and len(lines) > MAX_CELL_LINES:
            long[cell.get("id")] = len(lines)
    assert not long, f"code cells over {MAX_CELL_LINES} lines (cell id: lines): {long}; split them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_cells_stand_alone(path: Path) -> None:
    cells = _cells(path)
    plumbing = _helper_names(cells) - MEASURING
    offenders = {}
    for cell in cells[1:]:
        source = _source(cell)
        if cell["cell_type"] == "code" and TEACHES.search(source) and "import nbhelpers" not in source:
            used = sorted(n for n in plumbing if re.search(rf"(?<![\w.]){re.escape(n)}\b", source))
            if used:
                offenders[cell.get("id")] = used
    assert not offenders, ("cells that teach an OpenVINO call use nbhelpers plumbing (cell id: names); move the "
                           f"plumbing to a cell of its own: {offenders}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_only_check(path: Path) -> None:
    cells = _cells(path)
    start = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and '<a id="check"></a>' in _source(c))
    end = next((i for i, c in enumerate(cells) if i > start and c["cell_type"] == "markdown"
                and re.search(r"^##\s", _source(c), flags=re.M)), len(cells))
    checks = [cell for cell in cells[start + 1:end] if cell["cell_type"] == "code"]
    assert checks, "the Check section has code cells (asserts on what the lesson computed)"
    for cell in checks:
        assert not TEACHES.search(_source(cell)), f"the Check cell {cell.get('id')} runs the model again"
        assert re.search(r"^\s*assert ", _source(cell), flags=re.M), f"the Check cell {cell.get('id')} asserts"

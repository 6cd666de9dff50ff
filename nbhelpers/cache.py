"""Build-once model folders that never look complete unless they are.

`build_once(path, build)` calls `build(tmp)` on a temporary sibling folder, checks the files it must
hold, writes a marker file into it, and only then renames it to `path`. An interrupted build leaves a
`.partial` folder that is never loaded (and is removed by the next build once its process is gone);
a folder at `path` without the marker is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.etree.ElementTree import ParseError

from nbhelpers.errors import ModelNotFoundError, ModelNotReadyError

MARKER = ".nbhelpers-complete.json"
PARTIAL = ".partial-"
DEFAULT_HINT = "Run the notebook's export cell, or `python -m nbhelpers prepare` for every notebook."


def is_complete(path: Path) -> bool:
    """Return True if `path` was finished by `build_once` (it holds the completion marker)."""
    return (Path(path) / MARKER).is_file()


def _missing(path: Path, required: Iterable[str]) -> list[str]:
    return [name for name in required if not (path / name).is_file() or (path / name).stat().st_size == 0]


def weights_extent(xml: Path) -> int:
    """Return how many bytes of its .bin file an OpenVINO IR reads (the end of its last constant; 0 if none)."""
    from xml.etree.ElementTree import iterparse

    end = 0
    for _, element in iterparse(xml):
        if element.tag == "data" and "offset" in element.attrib and "size" in element.attrib:
            end = max(end, int(element.attrib["offset"]) + int(element.attrib["size"]))
        element.clear()
    return end


def _short_weights(path: Path, required: Iterable[str]) -> list[str]:
    """Describe each required IR whose .bin is shorter than the IR reads, or whose .xml does not parse."""
    short = []
    for name in required:
        xml, weights = path / name, (path / name).with_suffix(".bin")
        if name.endswith(".xml") and xml.is_file() and weights.is_file():
            try:
                need, have = weights_extent(xml), weights.stat().st_size
            except ParseError as exc:
                short.append(f"{xml.name} is not a readable OpenVINO IR ({exc})")
                continue
            if have < need:
                short.append(f"{weights.name} has {have:,} bytes but {xml.name} reads {need:,}")
    return short


def _remove_stale_partials(path: Path) -> None:
    import psutil

    for stale in path.parent.glob(f".{path.name}{PARTIAL}*"):
        pid = stale.name.rsplit(PARTIAL, 1)[1].split("-")[0]
        if not (pid.isdigit() and psutil.pid_exists(int(pid))):  # leave builds that are still running
            shutil.rmtree(stale, ignore_errors=True)


def build_once(path: Path, build: Callable[[Path], object], force: bool = False,
               required: Iterable[str] = ()) -> Path:
    """Return `path`, first calling `build(tmp_folder)` unless a complete build is already there.

    `build` writes into the (existing, empty) folder it is given. The folder appears at `path` only
    after `build` returns and every file in `required` is there and not empty; otherwise the partial
    folder is deleted and the error propagates (ModelNotReadyError for missing files).
    `force=True` rebuilds even when a complete build exists.
    """
    path = Path(path)
    if is_complete(path) and not force:
        short = _short_weights(path, required)
        if not short:
            return path
        print(f"{path.name} was cut short after it was built ({'; '.join(short)}): building it again")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(path)
    tmp = path.parent / f".{path.name}{PARTIAL}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    start = time.perf_counter()
    try:
        build(tmp)
        missing = _missing(tmp, required)
        if missing:
            raise ModelNotReadyError(f"building {path.name} did not produce {', '.join(missing)}; the messages "
                                     "above say why (for example a tokenizer that could not be converted)")
        short = _short_weights(tmp, required)
        if short:
            raise ModelNotReadyError(f"building {path.name} wrote incomplete weights ({'; '.join(short)}); "
                                     "check the free disk space and build again")
        info = {"built": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(time.perf_counter() - start, 1)}
        (tmp / MARKER).write_text(json.dumps(info), encoding="utf-8")
        if not force and is_complete(path) and not _short_weights(path, required):
            shutil.rmtree(tmp)  # another process (a parallel test, a second kernel) finished it first: keep theirs,
            return path  # which a reader may already have open
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def build_info(path: Path) -> dict[str, object]:
    """Return what `build_once` recorded about the build at `path` ({'built': time, 'seconds': duration}).

    Raises ModelNotReadyError if `path` was not completed by `build_once`.
    """
    marker = Path(path) / MARKER
    if not marker.is_file():
        raise ModelNotReadyError(f"{path} has no completion marker: it was not built by build_once, or not finished")
    return json.loads(marker.read_text(encoding="utf-8"))


def require_model_dir(path: Path, required: Iterable[str], hint: str = DEFAULT_HINT) -> Path:
    """Return `path` if it is a usable model folder: it exists and holds every file in `required`, none empty,
    and each required IR's weights file is as long as the IR reads.

    Works for folders made by `build_once` and for folders exported by hand with optimum-cli.
    Raises ModelNotFoundError if the folder is missing and ModelNotReadyError if it is incomplete;
    `hint` (how to create the folder) ends the message.
    """
    path = Path(path)
    fix = f" {hint}" if hint else ""
    if not path.is_dir():
        raise ModelNotFoundError(f"{path} does not exist.{fix}")
    missing = _missing(path, required)
    if missing:
        raise ModelNotReadyError(
            f"{path} is incomplete (missing or empty: {', '.join(missing)}); delete it and export again, "
            "or call build_once(..., force=True)."
        )
    short = _short_weights(path, required)
    if short:
        raise ModelNotReadyError(
            f"{path} is incomplete: {'; '.join(short)} (the copy or export was cut short); delete it and export "
            "again, or call build_once(..., force=True)."
        )
    return path


def folder_size(path: Path) -> int:
    """Return the total size in bytes of the files below `path` (0 if it does not exist)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def human_size(n_bytes: float) -> str:
    """Return a size such as '12.3 MB' (powers of 1000, as download pages show them)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")

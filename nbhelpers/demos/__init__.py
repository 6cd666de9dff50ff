"""The offline demo models: what each is, and how to get it (committed folder, or a random-weight build)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


def model_card(title: str, body: str, tags: Sequence[str] = (), pipeline_tag: str | None = None) -> str:
    """Return a hub model card: YAML front matter (license, library, tags) and a title with `body`."""
    lines = ["---", "license: apache-2.0", "library_name: transformers"]
    if pipeline_tag:
        lines.append(f"pipeline_tag: {pipeline_tag}")
    lines.append(f"tags: [{', '.join(['nbhelpers-demo', 'offline', *tags])}]")
    return "\n".join([*lines, "---", f"# {title}", "", body.strip(), ""])


DATA = Path(__file__).parent / "data"  # the committed demos


@dataclass(frozen=True)
class Demo:
    """How to get one demo model: a folder under `DATA` (trained once and committed) or a build on first use.

    `build(folder)` writes a hub snapshot into an empty folder (random weights: seconds, deterministic).
    `required` names the files a complete snapshot holds.
    """

    committed: str | None = None
    build: Callable[[Path], object] | None = None
    required: tuple[str, ...] = ("config.json", "model.safetensors")


def _padded_target(out: Path) -> None:
    from nbhelpers.demos import llm

    llm.pad_for_cost(committed_dir("nbhelpers/demo-llm"), out)


def _llm_cost(out: Path) -> None:
    from nbhelpers.demos import llm

    llm.build_cost_model(out, committed_dir("nbhelpers/demo-llm"))


def _whisper_cost(out: Path) -> None:
    from nbhelpers.demos import whisper

    whisper.build_cost_model(out)


def _vlm_cost(out: Path) -> None:
    from nbhelpers.demos import vlm

    vlm.build_cost_model(out)


def _gemma4_cost(out: Path) -> None:
    from nbhelpers.demos import gemma4

    gemma4.build_cost_model(out)


COMMITTED_FILES = ("config.json", "model.safetensors", "generation_config.json")
SD_FILES = ("model_index.json", "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
            "text_encoder/model.safetensors", "tokenizer/tokenizer.json", "scheduler/scheduler_config.json")
DEMOS: dict[str, Demo] = {
    "nbhelpers/demo-llm": Demo(committed="demo-llm/target", required=COMMITTED_FILES),
    "nbhelpers/demo-llm-draft": Demo(committed="demo-llm/draft", required=COMMITTED_FILES),
    "nbhelpers/demo-llm-eagle3": Demo(committed="demo-llm/eagle3"),  # a draft head: no tokenizer of its own
    "nbhelpers/demo-llm-tools": Demo(committed="demo-llm-tools", required=COMMITTED_FILES),
    "nbhelpers/demo-llm-long": Demo(committed="demo-llm-long", required=COMMITTED_FILES),
    "nbhelpers/demo-whisper": Demo(committed="demo-whisper", required=COMMITTED_FILES),
    "nbhelpers/demo-vlm": Demo(committed="demo-vlm", required=COMMITTED_FILES),
    "nbhelpers/demo-gemma4": Demo(committed="demo-gemma4", required=COMMITTED_FILES),
    "nbhelpers/demo-llm-padded": Demo(build=_padded_target),
    "nbhelpers/demo-llm-100m": Demo(build=_llm_cost),
    "nbhelpers/demo-sd": Demo(committed="demo-sd", required=SD_FILES),
    "nbhelpers/demo-vlm-cost": Demo(build=_vlm_cost),
    "nbhelpers/demo-gemma4-cost": Demo(build=_gemma4_cost),
    "nbhelpers/demo-whisper-cost": Demo(build=_whisper_cost, required=COMMITTED_FILES),
}


def committed_dir(name: str) -> Path:
    """Return the folder of a committed demo model. Raises KeyError for a name that is not committed."""
    folder = DEMOS[name].committed
    if folder is None:
        raise KeyError(f"{name} is built on first use, not committed")
    return DATA / folder


# What an export is made from: weights, configs, tokenizer files and chat templates (a changed template or
# generation config gives a different model folder, so it must get a fresh export, not a stale cached one).
EXPORTED_SUFFIXES = (".safetensors", ".json", ".jinja", ".txt", ".model")
NOT_EXPORTED = ("training_report.json", "alignment_heads_report.json")


def folder_digest(folder: Path) -> str:
    """Return 8 hex digits of the SHA-256 of what an export of `folder` is made from: each file with a suffix in
    `EXPORTED_SUFFIXES` (reports and clips left out), its relative path and its bytes, in path order."""
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder)
        if file.suffix in EXPORTED_SUFFIXES and file.name not in NOT_EXPORTED and "clips" not in rel.parts:
            digest.update(rel.as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:8]


@functools.cache
def committed_digest(name: str) -> str:
    """Return `folder_digest` of the committed demo `name` (read once per process): exports are keyed by it."""
    return folder_digest(committed_dir(name))

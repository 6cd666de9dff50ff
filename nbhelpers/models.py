"""Where models come from: the real hub defaults, the offline demo stand-ins, and their cached exports.

Each role a notebook needs (`llm`, `llm-draft`, `llm-cost`) has a real default on the Hugging Face hub
and a demo model that `nbhelpers` builds locally with the same architecture class. `default_model`
picks the real one unless offline mode is on; `model_source` turns a name into something
`optimum-cli --model` accepts (a local snapshot folder for demo models, the hub id otherwise).
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nbhelpers.cache import OV_LLM_FILES, build_once, is_complete
from nbhelpers.errors import OfflineError, UnknownModelError
from nbhelpers.settings import cache_dir, is_offline, offline_reason

DEMO_PREFIX = "nbhelpers/"
# Bump when the demo corpus, shapes or training change: cached demo builds and their exports are then rebuilt.
DEMO_RECIPE = 2


@dataclass(frozen=True)
class ModelRole:
    """A model a lesson needs: the real hub default and the local demo model that stands in for it."""

    role: str
    hub_id: str | None
    demo: str
    description: str
    download: str = ""
    # (layers, key/value heads, head dim) of the hub model, from its config.json: lessons compute
    # KV-cache sizes for it even offline.
    kv_shape: tuple[int, int, int] | None = None


ROLES: dict[str, ModelRole] = {
    "llm": ModelRole(
        "llm", "HuggingFaceTB/SmolLM2-360M-Instruct", "nbhelpers/demo-llm",
        "a small chat model (Llama architecture)", "0.7 GB", kv_shape=(32, 5, 64),
    ),
    "llm-draft": ModelRole(
        "llm-draft", "HuggingFaceTB/SmolLM2-135M-Instruct", "nbhelpers/demo-llm-draft",
        "a smaller sibling that shares the target's tokenizer (draft for speculative decoding)", "0.27 GB",
    ),
    "sd-target": ModelRole(
        "sd-target", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "nbhelpers/demo-llm-padded",
        "a target for speculative decoding; the demo is the trained demo target padded to ~100 M parameters "
        "with zero output projections (same logits, realistic cost)", "3.4 GB",
    ),
    "npu-llm": ModelRole(
        "npu-llm", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "nbhelpers/demo-llm",
        "a small chat model from OpenVINO's GenAI-on-NPU guide (Llama architecture)", "2.2 GB",
    ),
    "llm-cost": ModelRole(
        "llm-cost", None, "nbhelpers/demo-llm-100m",
        "random weights at a realistic cost (~100 M parameters) for timing; its text is noise", "",
    ),
    "asr": ModelRole(
        "asr", "openai/whisper-tiny", "nbhelpers/demo-whisper",
        "Whisper tiny, multilingual speech recognition and translation; the demo is a tiny Whisper trained on "
        "spoken English digits (committed in nbhelpers/data)", "0.15 GB",
    ),
    "text2image": ModelRole(
        "text2image", "stable-diffusion-v1-5/stable-diffusion-v1-5", "nbhelpers/demo-sd",
        "Stable Diffusion 1.5, the base most public LoRAs are trained for; the demo is a tiny pipeline of the "
        "same classes with random weights (its images are noise)", "5 GB",
    ),
    "vlm": ModelRole(
        "vlm", "llava-hf/llava-interleave-qwen-0.5b-hf", "nbhelpers/demo-vlm",
        "LLaVA-Interleave 0.5B (SigLIP vision, Qwen2 text; LLaVA architecture), image + text chat; the demo is a "
        "tiny LLaVA trained on pictures of coloured shapes (committed in nbhelpers/data)", "1.7 GB",
    ),
    "vlm-cost": ModelRole(
        "vlm-cost", None, "nbhelpers/demo-vlm-cost",
        "a LLaVA with random weights at a realistic cost (~190 M parameters, 196 image tokens) for timing; its text "
        "is noise", "",
    ),
}


@dataclass(frozen=True)
class HubLora:
    """A public LoRA file on the hub for a text-to-image model: where it is and the words that trigger it."""

    label: str
    repo: str
    filename: str
    trigger: str


# Public SD 1.5 LoRAs (kohya format) with visibly different styles, for the real default of `text2image`.
HUB_LORAS: dict[str, list[HubLora]] = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": [
        HubLora("pixel art", "artificialguybr/pixelartredmond-1-5v-pixel-art-loras-for-sd-1-5",
                "PixelArtRedmond15V-PixelArt-PIXARFK.safetensors", "pixel art, PixArFK"),
        HubLora("colouring book",
                "artificialguybr/coloringbook-redmond-1-5v-coloring-book-lora-for-liberteredmond-sd-1-5",
                "ColoringBookRedmond15V-LiberteRedmond-ColoringBookAF.safetensors", "Coloring Book, ColoringBookAF"),
    ],
}


# OpenVINO IR repositories on the hub: downloaded as they are, never exported.
IR_REPOS: dict[str, str] = {
    "OpenVINO/Phi-3-mini-4k-instruct-int4-ov": "2.3 GB",
    "OpenVINO/Phi-3-mini-FastDraft-50M-int8-ov": "0.1 GB",
}
# Target and draft pairs that share a tokenizer: {label: (target, draft)}.
SPECULATIVE_PAIRS: dict[str, tuple[str, str]] = {
    "SmolLM2-1.7B-Instruct + SmolLM2-135M-Instruct": ("HuggingFaceTB/SmolLM2-1.7B-Instruct",
                                                      "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "Phi-3-mini-4k-instruct int4 + FastDraft-50M int8 (OpenVINO IR only)": (
        "OpenVINO/Phi-3-mini-4k-instruct-int4-ov", "OpenVINO/Phi-3-mini-FastDraft-50M-int8-ov"),
    "demo target (padded to ~100 M) + demo draft": ("nbhelpers/demo-llm-padded", "nbhelpers/demo-llm-draft"),
}


def default_pair() -> str:
    """Return the label of the default speculative pair: the SmolLM2 pair, or the demo pair when offline."""
    return list(SPECULATIVE_PAIRS)[-1 if is_offline() else 0]


def _role(role: str) -> ModelRole:
    if role not in ROLES:
        raise UnknownModelError(f"unknown model role {role!r}; known roles: {', '.join(ROLES)}")
    return ROLES[role]


def model_choices(role: str) -> list[str]:
    """Return the names a selector offers for `role`: the hub id (if any) and the demo model."""
    spec = _role(role)
    return [n for n in (spec.hub_id, spec.demo) if n]


def default_model(role: str) -> str:
    """Return the model name to use by default: the hub id, or the demo model when offline."""
    spec = _role(role)
    return spec.demo if is_offline() or spec.hub_id is None else spec.hub_id


def is_demo(name: str) -> bool:
    """Return True if `name` is one of the locally built demo models."""
    return name.startswith(DEMO_PREFIX)


# Demo models trained once and committed with nbhelpers (not built on the user's machine).
# name: "module" whose DATA folder holds it, or "module:subfolder".
COMMITTED_DEMOS: dict[str, str] = {
    "nbhelpers/demo-whisper": "demo_whisper", "nbhelpers/demo-vlm": "demo_vlm",
    "nbhelpers/demo-llm": "demo_llm:target", "nbhelpers/demo-llm-draft": "demo_llm:draft",
}


def why(name: str) -> str:
    """Return one sentence saying which model is used and why (for the notebook to print)."""
    if name in COMMITTED_DEMOS:
        reason = "because offline mode is on" if is_offline() else "(selected)"
        return f"Using the demo model {name}, trained once and committed with nbhelpers, {reason}."
    if is_demo(name) and is_offline():
        return f"Using the demo model {name}, built on this machine, because {offline_reason()}."
    if is_demo(name):
        return f"Using the demo model {name}, built on this machine (selected; timings then come from a cost model)."
    size = next((f" ({spec.download} download)" for spec in ROLES.values()
                 if spec.hub_id == name and spec.download), "")
    return f"Using the hub model {name}{size}; it is downloaded and exported on first use."


def slug(name: str) -> str:
    """Return a folder-safe name: 'org/model' -> 'org--model'.

    Demo models also carry their recipe version; committed demos a digest of their weights, so a new
    commit of the model gets new exports instead of stale cached ones.
    """
    safe = name.replace("/", "--")
    if name in COMMITTED_DEMOS:
        return f"{safe}-{_committed_digest(name)}"
    return f"{safe}-r{DEMO_RECIPE}" if is_demo(name) else safe


def committed_dir(name: str) -> Path:
    """Return the folder of a demo model committed with nbhelpers (one of COMMITTED_DEMOS)."""
    import importlib

    module, _, member = COMMITTED_DEMOS[name].partition(":")
    return Path(importlib.import_module(f"nbhelpers.{module}").DATA) / member


@functools.cache
def _committed_digest(name: str) -> str:  # read the weights once per process, not on every path lookup
    import hashlib

    return hashlib.sha256((committed_dir(name) / "model.safetensors").read_bytes()).hexdigest()[:8]


def snapshot_dir(name: str) -> Path:
    """Return the cache folder where the demo model `name` is (or will be) saved as a hub snapshot."""
    return cache_dir() / "hf" / slug(name)


def model_source(name: str) -> str:
    """Return what `optimum-cli export openvino --model` takes for `name`: a local folder or a hub id.

    Trained demo models are committed with nbhelpers and used where they are; random-weight ones (cost models,
    the image model) are built on first use, in seconds, and cached.
    Raises UnknownModelError for a name no role offers, and OfflineError for a hub id in offline mode.
    """
    known = {n for spec in ROLES.values() for n in model_choices(spec.role)}
    if name not in known:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(sorted(known))}")
    if not is_demo(name):
        if is_offline() and not _in_hub_cache(name):
            raise OfflineError(
                f"{name} is not in the Hugging Face cache and offline mode is on; choose a demo model "
                "(nbhelpers/...), or go online once (unset NBHELPERS_OFFLINE and HF_HUB_OFFLINE) to download it."
            )
        return name
    if name == "nbhelpers/demo-llm-padded":
        from nbhelpers import demo_llm

        target = Path(model_source("nbhelpers/demo-llm"))
        build_once(snapshot_dir(name), lambda tmp: demo_llm.pad_for_cost(target, tmp))
    elif name in COMMITTED_DEMOS:  # trained once and committed: used where it is
        from nbhelpers.cache import require_model_dir

        required = ("config.json", "model.safetensors", "generation_config.json")
        hint = "It is committed with nbhelpers; restore it with `git checkout nbhelpers/data`."
        return str(require_model_dir(committed_dir(name), required, hint=hint))
    elif name == "nbhelpers/demo-sd":
        from nbhelpers import demo_sd

        build_once(snapshot_dir(name), demo_sd.save_pipeline, required=("model_index.json",))
    elif name == "nbhelpers/demo-vlm-cost":
        from nbhelpers import demo_vlm

        build_once(snapshot_dir(name), demo_vlm.build_cost_model, required=("config.json", "model.safetensors"))
    elif name == "nbhelpers/demo-llm-100m":
        from nbhelpers import demo_llm

        tokenizer = Path(model_source("nbhelpers/demo-llm"))
        build_once(snapshot_dir(name), lambda tmp: demo_llm.build_cost_model(tmp, tokenizer))
    return str(snapshot_dir(name))


def _in_hub_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    # transformers models have a config.json at the top; diffusers pipelines a model_index.json
    return any(isinstance(try_to_load_from_cache(name, f), str) for f in ("config.json", "model_index.json"))


def export_command(source: str, out: Path, weight_format: str = "fp16", *extra: str) -> list[str]:
    """Return the `optimum-cli export openvino` command (run with this interpreter) for an LLM."""
    return [
        sys.executable, "-m", "optimum.commands.optimum_cli", "export", "openvino",
        "--model", source, "--task", "text-generation-with-past", "--weight-format", weight_format,
        *extra, str(out),
    ]


def copy_companion_files(source: Path, target: Path) -> list[str]:
    """Copy everything but the model itself (`openvino_model.xml/.bin`) from one export folder to another.

    That is the tokenizer and detokenizer IRs and the configs GenAI reads, so a model saved with
    `openvino.save_model` next to them loads in `LLMPipeline`. Returns the copied file names.
    """
    import shutil

    copied = []
    for file in sorted(Path(source).iterdir()):
        if file.is_file() and not file.name.startswith(("openvino_model.", ".")):
            shutil.copy2(file, Path(target) / file.name)
            copied.append(file.name)
    return copied


def ov_dir(name: str, variant: str = "fp16") -> Path:
    """Return the cache folder of the OpenVINO export `variant` of model `name`."""
    return cache_dir() / "ov" / slug(name) / variant


def download_ir(name: str) -> Path:
    """Download the OpenVINO IR repository `name` (one of IR_REPOS) into the cache once; return its folder.

    Raises UnknownModelError for other names and OfflineError when it is not cached and offline mode is on.
    """
    if name not in IR_REPOS:
        raise UnknownModelError(f"{name} is not a known OpenVINO IR repository; known: {', '.join(IR_REPOS)}")
    out = ov_dir(name, "hub")
    if not is_complete(out) and is_offline():
        raise OfflineError(f"{name} has not been downloaded and offline mode is on; run "
                           "`python -m nbhelpers prepare` online first, or choose a demo model")

    def download(tmp: Path) -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(name, local_dir=tmp)

    return build_once(out, download, required=("openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml"))


def llm_dir(name: str, weight_format: str = "fp16", *extra: str) -> Path:
    """Return an OpenVINO model folder for `name`: downloaded if it is an IR repository, else exported (cached)."""
    return download_ir(name) if name in IR_REPOS else export_llm(name, weight_format, *extra)


def export_llm(name: str, weight_format: str = "fp16", *extra: str, force: bool = False) -> Path:
    """Export model `name` with optimum-cli (cached) and return the OpenVINO model folder.

    `extra` flags (for example `--disable-stateful`) are passed to optimum-cli and named in the
    cache folder. Raises subprocess.CalledProcessError if the export fails, and ModelNotReadyError if
    it finished without every file GenAI needs.
    """
    variant = "-".join([weight_format, *(f.strip("-") for f in extra)])

    def export(tmp: Path) -> None:  # the source is only needed (built or downloaded) when not cached
        subprocess.run(export_command(model_source(name), tmp, weight_format, *extra), check=True)

    return build_once(ov_dir(name, variant), export, force=force, required=OV_LLM_FILES)


# What `Text2ImagePipeline` needs from a text-to-image export (SD 1.5 layout).
OV_T2I_FILES = (
    "model_index.json", "tokenizer/openvino_tokenizer.xml", "text_encoder/openvino_model.xml",
    "unet/openvino_model.xml", "vae_decoder/openvino_model.xml",
)


def _export(name: str, task: str, weight_format: str, required: tuple[str, ...], force: bool,
            after: Callable[[str, Path], object] | None = None) -> Path:
    def export(tmp: Path) -> None:  # the source is only needed (built or downloaded) when not cached
        source = model_source(name)
        subprocess.run([
            sys.executable, "-m", "optimum.commands.optimum_cli", "export", "openvino", "--model", source,
            "--task", task, "--weight-format", weight_format, str(tmp),
        ], check=True)
        if after is not None:
            after(source, tmp)

    return build_once(ov_dir(name, weight_format), export, force=force, required=required)


def export_text2image(name: str, weight_format: str = "fp16", force: bool = False) -> Path:
    """Export the text-to-image model `name` with `optimum-cli --task text-to-image` (cached); return its folder.

    Raises subprocess.CalledProcessError if the export fails, and ModelNotReadyError if it finished
    without every file `Text2ImagePipeline` needs.
    """
    return _export(name, "text-to-image", weight_format, OV_T2I_FILES, force)


# What `WhisperPipeline` needs from a speech-recognition export.
OV_ASR_FILES = ("openvino_encoder_model.xml", "openvino_decoder_model.xml", "openvino_tokenizer.xml",
                "openvino_detokenizer.xml", "generation_config.json", "preprocessor_config.json")


def export_speech(name: str, weight_format: str = "fp16", force: bool = False) -> Path:
    """Export the Whisper model `name` with `optimum-cli --task automatic-speech-recognition-with-past` (cached).

    Returns the folder. Raises subprocess.CalledProcessError if the export fails, and ModelNotReadyError
    if it finished without every file `WhisperPipeline` needs.
    """
    return _export(name, "automatic-speech-recognition-with-past", weight_format, OV_ASR_FILES, force)


def hub_lora_file(lora: HubLora) -> Path:
    """Download the LoRA file of `lora` into the Hugging Face cache once; return its local path.

    Raises OfflineError when it is not cached and offline mode is on.
    """
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(lora.repo, lora.filename)
    if isinstance(cached, str):
        return Path(cached)
    if is_offline():
        raise OfflineError(f"the LoRA {lora.repo}/{lora.filename} is not in the Hugging Face cache and offline mode "
                           "is on; choose the demo model, or run `python -m nbhelpers prepare 04` online first")
    return Path(hf_hub_download(lora.repo, lora.filename))


# What `VLMPipeline` needs from an image-text-to-text export (LLaVA layout).
OV_VLM_FILES = (
    "openvino_language_model.xml", "openvino_text_embeddings_model.xml", "openvino_vision_embeddings_model.xml",
    "openvino_tokenizer.xml", "openvino_detokenizer.xml", "config.json", "preprocessor_config.json",
)


def _snapshot_file(source: str, filename: str) -> Path | None:
    """Return `filename` from a local model folder or the hub snapshot of `source`, or None if it has none."""
    local = Path(source) / filename
    if local.is_file():
        return local
    if Path(source).is_dir():
        return None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(source, filename))
    except (EntryNotFoundError, LocalEntryNotFoundError):  # not in the repository (or, offline, not in the cache)
        return None


def write_preprocessor_config(source: str, ov_folder: Path) -> Path:
    """Write the flat `preprocessor_config.json` that `VLMPipeline` reads into `ov_folder`, if it is missing.

    transformers 5 saves the image processor nested inside `processor_config.json`, and optimum-intel
    cannot copy it without torchvision; `VLMPipeline` then silently uses its defaults (336 px, mean 0,
    std 1) and fails with a shape error in the vision embeddings. The settings are taken from the source's
    flat file, or else from the nested one, and `crop_size` and `size.shortest_edge` (the keys GenAI's
    LLaVA preprocessing reads) are filled from `size.height`/`width` when a processor only has those.
    Returns the file's path. Raises ModelNotReadyError if the source has neither file, or names no image size.
    """
    import json

    from nbhelpers.errors import ModelNotReadyError

    target = Path(ov_folder) / "preprocessor_config.json"
    if target.is_file():
        return target
    flat = _snapshot_file(source, "preprocessor_config.json")
    if flat is not None:
        config = json.loads(flat.read_text(encoding="utf-8"))
    else:
        nested = _snapshot_file(source, "processor_config.json")
        config = json.loads(nested.read_text(encoding="utf-8")).get("image_processor") if nested else None
        if not config:
            raise ModelNotReadyError(f"{source} has no image processor settings (neither preprocessor_config.json "
                                     "nor an image_processor in processor_config.json); is it a vision-language model?")
    size = config.get("size") or {}
    side = size.get("shortest_edge") or size.get("height") or (config.get("crop_size") or {}).get("height")
    if side is None:
        raise ModelNotReadyError(f"{source}'s image processor names no image size (size or crop_size)")
    config.setdefault("crop_size", {"height": size.get("height", side), "width": size.get("width", side)})
    config["size"] = {**size, "shortest_edge": side}
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


def export_vlm(name: str, weight_format: str = "fp16", force: bool = False) -> Path:
    """Export the vision-language model `name` with `optimum-cli --task image-text-to-text` (cached).

    Writes the flat `preprocessor_config.json` `VLMPipeline` needs (see `write_preprocessor_config`).
    Returns the folder. Raises subprocess.CalledProcessError if the export fails, and ModelNotReadyError
    if it finished without every file `VLMPipeline` needs.
    """
    return _export(name, "image-text-to-text", weight_format, OV_VLM_FILES, force, after=write_preprocessor_config)

"""How models become OpenVINO folders: the one `optimum-cli export openvino` command builder, cached exports
per task (LLM, text-to-image, speech recognition, vision-language), IR downloads, and the files each GenAI
pipeline needs from its folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from nbhelpers.cache import build_once, is_complete
from nbhelpers.errors import OfflineError, UnknownModelError
from nbhelpers.models import IR_REPOS, model_source, slug
from nbhelpers.settings import cache_dir, is_offline

# What each GenAI pipeline needs from an export folder.
OV_LLM_FILES = ("openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml", "openvino_detokenizer.xml")
# What `Text2ImagePipeline` needs from a text-to-image export (SD 1.5 layout).
OV_T2I_FILES = (
    "model_index.json", "tokenizer/openvino_tokenizer.xml", "text_encoder/openvino_model.xml",
    "unet/openvino_model.xml", "vae_decoder/openvino_model.xml",
)


# What `ASRPipeline` needs from a Whisper export.
OV_ASR_FILES = ("openvino_encoder_model.xml", "openvino_decoder_model.xml", "openvino_tokenizer.xml",
                "openvino_detokenizer.xml", "generation_config.json", "preprocessor_config.json")


# What `VLMPipeline` needs from an image-text-to-text export (LLaVA layout).
OV_VLM_FILES = (
    "openvino_language_model.xml", "openvino_text_embeddings_model.xml", "openvino_vision_embeddings_model.xml",
    "openvino_tokenizer.xml", "openvino_detokenizer.xml", "config.json", "preprocessor_config.json",
)




def export_command(source: str, out: Path, weight_format: str = "fp16", *extra: str,
                   task: str = "text-generation-with-past") -> list[str]:
    """Return the `optimum-cli export openvino` command, run with this interpreter, for any task.

    `extra` flags (for example `--disable-stateful`, `--sym`) come after the weight format; `task` defaults to a
    stateful LLM with its KV-cache.
    """
    return [
        sys.executable, "-m", "optimum.commands.optimum_cli", "export", "openvino",
        "--model", source, "--task", task, "--weight-format", weight_format, *extra, str(out),
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


def _export(name: str, task: str, weight_format: str, required: tuple[str, ...], force: bool,
            after: Callable[[str, Path], object] | None = None, extra: tuple[str, ...] = ()) -> Path:
    def export(tmp: Path) -> None:  # the source is only needed (built or downloaded) when not cached
        source = model_source(name)
        subprocess.run(export_command(source, tmp, weight_format, *extra, task=task), check=True)
        if after is not None:
            after(source, tmp)

    return build_once(ov_dir(name, weight_format), export, force=force, required=required)


def export_eagle3_head(name: str, weight_format: str = "fp16", force: bool = False) -> Path:
    """Export the EAGLE-3 draft head `name` as optimum-intel documents it (cached); return its folder.

    The command is `optimum-cli export openvino --model <head> --task text-generation-with-past --trust-remote-code`:
    optimum-intel points the head config's `auto_map` at its own installed head class (optimum.exporters.openvino.
    model_patcher), which transformers loads only with `--trust-remote-code`; no code comes from the hub. A head has
    no tokenizer of its own (GenAI uses the target's). Raises subprocess.CalledProcessError if the export fails.
    """
    return _export(name, "text-generation-with-past", weight_format, ("openvino_model.xml", "openvino_model.bin"),
                   force, extra=("--trust-remote-code",))


def export_text2image(name: str, weight_format: str = "fp16", force: bool = False) -> Path:
    """Export the text-to-image model `name` with `optimum-cli --task text-to-image` (cached); return its folder.

    Raises subprocess.CalledProcessError if the export fails, and ModelNotReadyError if it finished
    without every file `Text2ImagePipeline` needs.
    """
    return _export(name, "text-to-image", weight_format, OV_T2I_FILES, force)


def export_speech(name: str, weight_format: str = "fp16", force: bool = False) -> Path:
    """Export the Whisper model `name` with `optimum-cli --task automatic-speech-recognition-with-past` (cached).

    Returns the folder. Raises subprocess.CalledProcessError if the export fails, and ModelNotReadyError
    if it finished without every file `ASRPipeline` needs.
    """
    return _export(name, "automatic-speech-recognition-with-past", weight_format, OV_ASR_FILES, force)


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
    A processor with a video processor too (Gemma 4) is different: GenAI reads `processor_config.json` first when it
    nests both `image_processor` and `video_processor`, and optimum-intel writes only the audio feature extractor's
    `preprocessor_config.json` for it; that file is copied as it is, and its path returned.
    Returns the file's path. Raises ModelNotReadyError if the source has neither file, or names no image size.
    """
    import json
    import shutil

    from nbhelpers.errors import ModelNotReadyError

    combined = _snapshot_file(source, "processor_config.json")
    processors = json.loads(combined.read_text(encoding="utf-8")) if combined is not None else {}
    if {"image_processor", "video_processor"} <= processors.keys():
        return Path(shutil.copyfile(combined, Path(ov_folder) / "processor_config.json"))
    target = Path(ov_folder) / "preprocessor_config.json"
    if target.is_file():
        return target
    flat = _snapshot_file(source, "preprocessor_config.json")
    if flat is not None:
        config = json.loads(flat.read_text(encoding="utf-8"))
    else:
        config = processors.get("image_processor")
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

"""Where models come from: the real hub defaults, the offline demo stand-ins, and their cached exports.

Each role a notebook needs (`llm`, `llm-draft`, `llm-cost`) has a real default on the Hugging Face hub
and a demo model that `nbhelpers` builds locally with the same architecture class. `default_model`
picks the real one unless offline mode is on; `model_source` turns a name into something
`optimum-cli --model` accepts (a local snapshot folder for demo models, the hub id otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbhelpers.cache import build_once, require_model_dir
from nbhelpers.demos import DEMOS, committed_digest, committed_dir
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
    # The role whose demo is timed in place of this role's demo (a random-weight model of realistic size).
    cost: str | None = None


ROLES: dict[str, ModelRole] = {
    "llm": ModelRole(
        "llm", "HuggingFaceTB/SmolLM2-360M-Instruct", "nbhelpers/demo-llm",
        "a small chat model (Llama architecture)", "0.7 GB", kv_shape=(32, 5, 64), cost="llm-cost",
    ),
    "llm-draft": ModelRole(
        "llm-draft", "HuggingFaceTB/SmolLM2-135M-Instruct", "nbhelpers/demo-llm-draft",
        "a smaller sibling that shares the target's tokenizer (draft for speculative decoding)", "0.27 GB",
    ),
    "sd-target": ModelRole(
        "sd-target", "Qwen/Qwen3-1.7B", "nbhelpers/demo-llm-padded",
        "a target for speculative decoding with a public EAGLE-3 head (Qwen3 architecture); the demo is the trained "
        "demo target padded to ~100 M parameters with zero output projections (same logits, realistic cost)",
        "4.1 GB", kv_shape=(28, 8, 128),
    ),
    "sd-draft": ModelRole(
        "sd-draft", "Qwen/Qwen3-0.6B", "nbhelpers/demo-llm-draft",
        "a smaller sibling of the speculative target, same tokenizer (a separate draft model)", "1.5 GB",
    ),
    "sd-eagle3": ModelRole(
        "sd-eagle3", "AngelSlim/Qwen3-1.7B_eagle3", "nbhelpers/demo-llm-eagle3",
        "an EAGLE-3 draft head for the speculative target: one decoder layer that drafts from three of the target's "
        "hidden states; the demo head is trained for the demo target (committed in nbhelpers/data)", "0.27 GB",
    ),
    "npu-llm": ModelRole(
        "npu-llm", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "nbhelpers/demo-llm",
        "a small chat model from OpenVINO's GenAI-on-NPU guide (Llama architecture)", "2.2 GB", cost="llm-cost",
    ),
    "tools": ModelRole(
        "tools", "Qwen/Qwen3-0.6B", "nbhelpers/demo-llm-tools",
        "a small chat model that calls tools (Hermes-format <tool_call> JSON) and thinks in <think> tags (Qwen3 "
        "architecture); the demo is the demo target fine-tuned to call two tools (committed in nbhelpers/data)",
        "1.5 GB", kv_shape=(28, 8, 128), cost="llm-cost",
    ),
    "long": ModelRole(
        "long", "Qwen/Qwen3-0.6B", "nbhelpers/demo-llm-long",
        "a small chat model with a 32k-token context (Qwen3 architecture); the demo is a 1.7 M-parameter Llama trained "
        "from scratch to find one fact hidden in up to 1k tokens of stories (committed in nbhelpers/data)",
        "1.5 GB", kv_shape=(28, 8, 128), cost="llm-cost",
    ),
    "llm-cost": ModelRole(
        "llm-cost", None, "nbhelpers/demo-llm-100m",
        "random weights at a realistic cost (~100 M parameters) for timing; its text is noise", "",
    ),
    "asr": ModelRole(
        "asr", "openai/whisper-tiny", "nbhelpers/demo-whisper",
        "Whisper tiny, multilingual speech recognition and translation; the demo is a tiny Whisper trained on "
        "spoken English digits (committed in nbhelpers/data)", "0.15 GB", cost="asr-cost",
    ),
    "asr-cost": ModelRole(
        "asr-cost", None, "nbhelpers/demo-whisper-cost",
        "a Whisper with random weights at whisper-tiny's size (38 M parameters, 51865-token vocabulary) for timing; "
        "its transcripts are noise", "",
    ),
    "text2image": ModelRole(
        "text2image", "stable-diffusion-v1-5/stable-diffusion-v1-5", "nbhelpers/demo-sd",
        "Stable Diffusion 1.5, the base most public LoRAs are trained for; the demo is a tiny pipeline of the "
        "same classes trained to draw coloured shapes at 64 x 64 (committed in nbhelpers/data)", "5 GB",
    ),
    "vlm": ModelRole(
        "vlm", "llava-hf/llava-interleave-qwen-0.5b-hf", "nbhelpers/demo-vlm",
        "LLaVA-Interleave 0.5B (SigLIP vision, Qwen2 text; LLaVA architecture), image + text chat; the demo is a "
        "tiny LLaVA trained on pictures of coloured shapes (committed in nbhelpers/data)", "1.7 GB", cost="vlm-cost",
    ),
    "vlm-dynamic": ModelRole(
        "vlm-dynamic", "google/gemma-4-E2B-it", "nbhelpers/demo-gemma4",
        "Gemma 4 E2B (pictures at their own aspect ratio within a token budget; text, pictures, video, audio); the "
        "demo is a tiny Gemma 4 with the real patch and pooling sizes, trained on pictures of small coloured shapes "
        "(committed in nbhelpers/data)", "10 GB", cost="vlm-dynamic-cost",
    ),
    "vlm-dynamic-cost": ModelRole(
        "vlm-dynamic-cost", None, "nbhelpers/demo-gemma4-cost",
        "a Gemma 4 with random weights, the real vision tower's size and a smaller language model, for timing: its "
        "text is noise", "",
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
    "Qwen3-1.7B + Qwen3-0.6B (and an EAGLE-3 head)": ("Qwen/Qwen3-1.7B", "Qwen/Qwen3-0.6B"),
    "SmolLM2-1.7B-Instruct + SmolLM2-135M-Instruct": ("HuggingFaceTB/SmolLM2-1.7B-Instruct",
                                                      "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "Phi-3-mini-4k-instruct int4 + FastDraft-50M int8 (OpenVINO IR only)": (
        "OpenVINO/Phi-3-mini-4k-instruct-int4-ov", "OpenVINO/Phi-3-mini-FastDraft-50M-int8-ov"),
    "demo target (padded to ~100 M) + demo draft": ("nbhelpers/demo-llm-padded", "nbhelpers/demo-llm-draft"),
}


# EAGLE-3 draft heads, by the target whose hidden states they read (a head fits that one target only).
EAGLE3_HEADS: dict[str, str] = {"Qwen/Qwen3-1.7B": "AngelSlim/Qwen3-1.7B_eagle3",
                                "nbhelpers/demo-llm-padded": "nbhelpers/demo-llm-eagle3"}


def default_pair() -> str:
    """Return the label of the default speculative pair: the Qwen3 pair, or the demo pair when offline."""
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


def timing_model(name: str) -> str:
    """Return the model to time in place of `name`: `name` itself, unless it is a demo whose timings would be mostly
    overhead; then the random-weight model of realistic size of its kind (demo-llm -> demo-llm-100m)."""
    costs = {spec.demo: ROLES[spec.cost].demo for spec in ROLES.values() if spec.cost}
    return costs.get(name, name)


def why(name: str) -> str:
    """Return one sentence saying which model is used and why (for the notebook to print)."""
    if name in DEMOS and DEMOS[name].committed:
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

    Demo models also carry their recipe version; committed demos a digest of what their export is made from (weights,
    configs, tokenizer, chat template), so a new commit of any of them gets new exports instead of stale cached ones.
    """
    safe = name.replace("/", "--")
    if name in DEMOS and DEMOS[name].committed:
        return f"{safe}-{committed_digest(name)}"
    return f"{safe}-r{DEMO_RECIPE}" if is_demo(name) else safe


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
    known |= {n for pair in SPECULATIVE_PAIRS.values() for n in pair}
    if name not in known:
        raise UnknownModelError(f"unknown model {name!r}; choose one of: {', '.join(sorted(known))}")
    if not is_demo(name):
        if is_offline() and not _in_hub_cache(name):
            raise OfflineError(
                f"{name} is not in the Hugging Face cache and offline mode is on; choose a demo model "
                "(nbhelpers/...), or go online once (unset NBHELPERS_OFFLINE and HF_HUB_OFFLINE) to download it."
            )
        return name
    demo = DEMOS[name]
    if demo.committed:  # trained once and committed: used where it is
        hint = "It is committed with nbhelpers; restore it with `git checkout nbhelpers/demos/data`."
        return str(require_model_dir(committed_dir(name), demo.required, hint=hint))
    return str(build_once(snapshot_dir(name), demo.build, required=demo.required))


def _in_hub_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    # transformers models have a config.json at the top; diffusers pipelines a model_index.json
    return any(isinstance(try_to_load_from_cache(name, f), str) for f in ("config.json", "model_index.json"))


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

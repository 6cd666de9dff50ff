"""Checks for LoRA files before trusting them in OpenVINO GenAI.

GenAI matches a LoRA file's tensor names against the model's layers when a pipeline is built with the
adapter. Layers that match nothing are not an error: GenAI prints one `Unused LoRA tensor: <name>`
line per layer (its A and B pair, under GenAI's own prefixed name) to the process's standard error,
from C++ so Python cannot catch it, and goes on without them. `unused_lora_tensors` builds the
pipeline in a child process and returns those names, so a notebook can assert that an adapter was
applied in full; `unrecognised_lora_keys` finds tensors of kinds GenAI skips without any message.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

_UNUSED = re.compile(r"Unused LoRA tensor: (\S+)")
_SCRIPT = """
import sys
import openvino_genai as ov_genai
pipeline = getattr(ov_genai, sys.argv[1])
adapter = ov_genai.Adapter(sys.argv[3])
pipeline(sys.argv[2], sys.argv[4], adapters=ov_genai.AdapterConfig(adapter))
print("built")
"""


def unused_lora_tensors(model_dir: Path | str, adapter_file: Path | str, device: str = "CPU",
                        pipeline: str = "Text2ImagePipeline") -> list[str]:
    """Return GenAI's names of the layers in `adapter_file` that `pipeline` cannot place in `model_dir`.

    An empty list means every A/B pair found a layer. Raises RuntimeError (with GenAI's message) if the
    pipeline cannot be built with the adapter at all, for example for an unsupported tensor type.
    """
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, pipeline, str(model_dir), str(adapter_file), device],
        capture_output=True, text=True,
    )
    if result.returncode != 0 or "built" not in result.stdout:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(f"{pipeline} could not load {adapter_file}: {lines[-1] if lines else 'no output'}")
    return _UNUSED.findall(result.stdout + result.stderr)


_KNOWN_KINDS = re.compile(r"\.(lora_(A|B|down|up)\.weight|alpha)$")


def unrecognised_lora_keys(tensor_names: Iterable[str]) -> list[str]:
    """Return the names that are not a LoRA A/B (or down/up) matrix or an alpha: GenAI skips those silently.

    Such tensors come from other adapter types (DoRA magnitudes, LoHa/LoKr factors, biases) that
    GenAI does not apply, and it does not report them as unused either.
    """
    return [name for name in tensor_names if not _KNOWN_KINDS.search(name)]

"""Checks for LoRA files before trusting them in OpenVINO GenAI.

GenAI matches a LoRA file's tensor names against the model's layers when a pipeline is built with the
adapter. Tensors that match nothing are not an error: GenAI prints one `Unused LoRA tensor: <name>`
line per tensor to the process's standard error (from C++, so Python cannot catch it) and goes on
without them. `unused_lora_tensors` builds the pipeline in a child process and returns those names,
so a notebook can assert that an adapter was applied in full.
"""

from __future__ import annotations

import re
import subprocess
import sys
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
    """Return the names of the tensors in `adapter_file` that GenAI's `pipeline` does not apply to `model_dir`.

    An empty list means every tensor found a layer. Raises RuntimeError (with GenAI's message) if the
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

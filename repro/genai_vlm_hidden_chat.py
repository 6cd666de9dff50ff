"""Reproduction: after a `ChatHistory` call, string prompts on a VLMPipeline join a hidden chat (GenAI 2026.4.1).

Once `VLMPipeline.generate` has run with a `ChatHistory`, later calls with a plain *string* prompt are appended to a
conversation of their own: each single question silently carries the previous ones, and the prompt grows call by
call until the deprecated `finish_chat()`. This script asks one chat turn, then the same string question with the
same picture three times, and prints the prompt tokens of each; it exits 1 if they grow (the problem is there), 0
if they stay equal. The workaround notebook 06 teaches: ask single questions as a one-message `ChatHistory` too.

    python repro/genai_vlm_hidden_chat.py [VLM_DIR]

Without an argument it uses the project's demo LLaVA, exported through nbhelpers (run from the project root).
"""

from __future__ import annotations

import sys

import numpy as np
import openvino as ov
import openvino_genai as ov_genai


def main(model_dir: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    pipe = ov_genai.VLMPipeline(model_dir, "CPU")
    config = ov_genai.GenerationConfig(max_new_tokens=8)
    picture = ov.Tensor(np.full((1, 64, 64, 3), 200, np.uint8))
    chat = ov_genai.ChatHistory([{"role": "user", "content": "describe the image."}])
    pipe.generate(chat, images=[picture], generation_config=config)
    tokens = [pipe.generate("describe the image.", images=[picture], generation_config=config)
              .perf_metrics.get_num_input_tokens() for _ in range(3)]
    print("prompt tokens of the same string question, three times after a chat:", tokens)
    grows = len(set(tokens)) > 1
    print("hidden chat:", "present (the prompt grows)" if grows else "not seen (the prompt stays the same)")
    return 1 if grows else 0


if __name__ == "__main__":
    if len(sys.argv) == 2:
        folder = sys.argv[1]
    else:
        from nbhelpers.export import export_vlm

        folder = str(export_vlm("nbhelpers/demo-vlm"))
    raise SystemExit(main(folder))

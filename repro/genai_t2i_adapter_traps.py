"""Reproduction: two traps of dynamic LoRA adapters in openvino-genai's Text2ImagePipeline (seen in 2026.4.1).

1. Reusing the same `Adapter` objects and changing only the alphas between calls can give the previous call's image.
2. A call with an empty `AdapterConfig()` between two calls with the same adapters can make the second draw a blank
   (all-zero) image; seen with bf16 compute, the CPU default where AVX-512 BF16 or AMX exists.

A pipeline with two adapters registered runs a fixed sequence of alpha pairs three ways (shared objects; new objects
with `AdapterConfig()` for "none"; new objects with every adapter listed). Each picture is compared with the same
call on a freshly built pipeline (two steps, a fixed seed). Prints a table and exits 1 if the first two ways show a
trap, 0 if not (the third way is the workaround notebook 09 teaches and must always be right).

    python repro/genai_t2i_adapter_traps.py [MODEL_DIR ADAPTER_1 ADAPTER_2]

Needs an exported text-to-image folder and two LoRA files in names GenAI reads; without arguments it uses the
project's demo model and its two adapters, renamed to GenAI's prefixes (run from the project root after `make install`).
"""

from __future__ import annotations

import sys

import numpy as np
import openvino_genai as ov_genai

SEQUENCE = [(1.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.0), (0.5, 0.5), (0.0, 1.0), (1.0, 1.0)]
PROMPT = "a red circle"


def main(model_dir: str, first: str, second: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    shared = [ov_genai.Adapter(first), ov_genai.Adapter(second)]

    def registered() -> ov_genai.Text2ImagePipeline:
        return ov_genai.Text2ImagePipeline(model_dir, "CPU", adapters=ov_genai.AdapterConfig(shared))

    def all_listed(alphas: tuple[float, float]) -> ov_genai.AdapterConfig:
        return ov_genai.AdapterConfig([(ov_genai.Adapter(first), alphas[0]), (ov_genai.Adapter(second), alphas[1])])

    ways = {"same objects": lambda a: ov_genai.AdapterConfig(list(zip(shared, a, strict=True))),
            "AdapterConfig() for none": lambda a: ov_genai.AdapterConfig(
                [(ov_genai.Adapter(f), x) for f, x in zip((first, second), a, strict=True) if x]),
            "new objects, all listed": all_listed}
    pipes = {way: registered() for way in ways}

    def picture(pipe: ov_genai.Text2ImagePipeline, config: ov_genai.AdapterConfig) -> np.ndarray:
        return pipe.generate(PROMPT, num_inference_steps=2, generator=ov_genai.TorchGenerator(42),
                             adapters=config).data[0].copy()

    seen: dict[str, set[str]] = {way: set() for way in ways}
    previous: dict[str, np.ndarray] = {}
    for alphas in SEQUENCE:
        expected = picture(registered(), all_listed(alphas))
        cells = []
        for way, make in ways.items():
            image = picture(pipes[way], make(alphas))
            verdict = ("correct" if np.array_equal(image, expected) else "blank" if image.max() == 0 else
                       "previous" if way in previous and np.array_equal(image, previous[way]) else "wrong")
            previous[way] = image
            seen[way].add(verdict)
            cells.append(f"{way}: {verdict}")
        print(f"alphas {alphas}: " + "; ".join(cells))
    traps = {way: sorted(v - {"correct"}) for way, v in seen.items()}
    print("traps seen:", traps)
    return 1 if traps["same objects"] or traps["AdapterConfig() for none"] else 0


if __name__ == "__main__":
    if len(sys.argv) == 4:
        arguments = sys.argv[1:]
    else:
        import tempfile
        from pathlib import Path

        from safetensors.torch import load_file, save_file

        from nbhelpers.demos.sd import ADAPTERS
        from nbhelpers.export import export_text2image

        folder = Path(tempfile.mkdtemp())
        arguments = [str(export_text2image("nbhelpers/demo-sd"))]
        for style in ("outline", "striped"):  # diffusers saves `unet.`; GenAI reads `lora_unet.` (see notebook 09)
            renamed = {"lora_" + k: v for k, v in load_file(ADAPTERS / f"{style}.safetensors").items()}
            save_file(renamed, folder / f"{style}.safetensors")
            arguments.append(str(folder / f"{style}.safetensors"))
    raise SystemExit(main(*arguments))

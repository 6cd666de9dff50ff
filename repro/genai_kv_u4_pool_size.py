"""Reproduction: with a u4 KV cache, GenAI reports the paged KV pool at twice the bytes its tensors hold
(OpenVINO GenAI 2026.4.1, CPU).

`ContinuousBatchingPipeline.get_metrics().cache_size_in_bytes` is the pool's size: blocks x bytes per block. GenAI
computes the bytes per block from each layer's key and value cache shape times `element_type.size()`, and OpenVINO
gives 1 (byte) as the size of u4, whose elements take half a byte (`ov.Type.u4.size == 1`, while a u4 tensor of 2
elements has `byte_size` 1). So for u4 the figure is twice what the cache tensors hold; for f16 and u8 it is exact.
This script reads the cache tensors' real layout from the CPU plugin (the model compiled with paged attention, as
GenAI compiles it), computes their bytes per block, and compares with what GenAI reports. Exit 1 while the u4 figure
is twice the tensors' bytes (the bug is there), 0 if it equals them.

    python repro/genai_kv_u4_pool_size.py [LLM_OV_DIR]

Without an argument it exports the demo LLM (nbhelpers/demo-llm) as notebook 00 does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openvino as ov
import openvino_genai as ov_genai

BLOCKS = 16
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def reported_block_bytes(model_dir: Path, precision: str) -> float:
    """GenAI's pool bytes per block, with keys and values in `precision`."""
    scheduler = ov_genai.SchedulerConfig()
    scheduler.num_kv_blocks = BLOCKS
    props = {"KEY_CACHE_PRECISION": precision, "VALUE_CACHE_PRECISION": precision, **F32}
    pipe = ov_genai.ContinuousBatchingPipeline(model_dir, scheduler, "CPU", props)
    pipe.generate(["hello"], [ov_genai.GenerationConfig(max_new_tokens=1)])
    return pipe.get_metrics().cache_size_in_bytes / BLOCKS


def tensor_block_bytes(model_dir: Path, precision: str) -> float:
    """The bytes one block takes in the CPU plugin's key and value cache tensors (all layers), from their layout."""
    from openvino._offline_transformations import paged_attention_transformation

    core = ov.Core()
    model = core.read_model(model_dir / "openvino_model.xml")
    paged_attention_transformation(model)
    compiled = core.compile_model(model, "CPU", {"KEY_CACHE_PRECISION": precision,
                                                 "VALUE_CACHE_PRECISION": precision, **F32})
    total = 0.0
    for port in compiled.inputs:
        if port.get_any_name().startswith(("key_cache.", "value_cache.")):
            shape = port.get_partial_shape()  # [blocks (dynamic), kv heads, rows, columns]
            elements = shape[1].get_length() * shape[2].get_length() * shape[3].get_length()
            total += elements * port.get_element_type().bitwidth / 8
    return total


def main(model_dir: Path) -> int:
    ratios = {}
    for precision in ("f16", "u8", "u4"):
        reported, real = reported_block_bytes(model_dir, precision), tensor_block_bytes(model_dir, precision)
        ratios[precision] = reported / real
        print(f"{precision}: GenAI reports {reported:,.0f} bytes per block; the cache tensors hold {real:,.0f}")
    broken = ratios["u4"] == 2 and ratios["f16"] == ratios["u8"] == 1
    print(f"openvino-genai {ov_genai.get_version()}: " + ("the bug is there (u4 pool reported at twice its size)"
                                                         if broken else "the bug is gone"))
    return 1 if broken else 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        folder = Path(sys.argv[1])
    else:
        from nbhelpers.export import export_llm

        folder = export_llm("nbhelpers/demo-llm")
    raise SystemExit(main(folder))

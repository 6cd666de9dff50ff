"""The engines a benchmark compares, behind one interface: PyTorch + transformers, OpenVINO GenAI, llama.cpp.

Each engine takes a list of prompt token ids and a number of new tokens, generates greedily without
stopping at EOS (the models have random weights: speed does not depend on them), and returns the
time to first token and the decode rate. Prompts are token ids, so every engine processes exactly the
same tokens. Each engine also says what its kernels were built or configured with (`build_info`).
The benchmark builds each one in its own worker process from an `EngineSpec` (see workers.py).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nbhelpers.cache import build_once
from nbhelpers.demos.llm import LlamaShape

# Sizes of the random-weight Llama models (vocabulary 32 000, untied embeddings).
SIZES: dict[str, LlamaShape] = {
    "tiny": LlamaShape(128, 256, 2, 2, 1, max_position_embeddings=2048),
    "125m": LlamaShape(768, 2048, 12, 12, 4, max_position_embeddings=2048),
    "0.5b": LlamaShape(1280, 3584, 24, 16, 4, max_position_embeddings=2048),
    "1.5b": LlamaShape(2048, 5632, 32, 16, 4, max_position_embeddings=2048),  # 1.57 B parameters
    "3b": LlamaShape(3072, 8192, 28, 24, 8, max_position_embeddings=2048),  # 3.0 B, Llama 3.2 3B's shape
}
# Candidates for the size "large", smallest first: its int4 weights must not fit in the caches (see pick_large_size).
LARGE_SIZES = ("1.5b", "3b")
VOCAB = 32000
EOS_ID = 2


@dataclass(frozen=True)
class Timing:
    """One generation: time to first token (ms) and decode rate after it (tokens/s)."""

    ttft_ms: float
    tokens_per_s: float


class Engine(Protocol):
    """A model loaded in one engine at one precision."""

    engine: str
    precision: str
    weight_bytes: int  # bytes of weights read per generated token (all but the input embedding table)

    def generate(self, prompt: list[int], new_tokens: int) -> Timing: ...


def build_model(size: str, folder: Path) -> Path:
    """Save a random-weight Llama of `size` (one of SIZES) as a hub snapshot in `folder` (cached); return it.

    The tokenizer is the committed demo LLM's byte-level BPE (its vocabulary is smaller than the model's: prompts
    are token ids, so it only has to exist for the exporters).
    """

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoTokenizer

        from nbhelpers.demos import committed_dir
        from nbhelpers.demos.llm import make_llama

        tokenizer = AutoTokenizer.from_pretrained(committed_dir("nbhelpers/demo-llm"))
        previous = torch.get_default_dtype()
        if size in LARGE_SIZES:  # initialise in bf16: an fp32 copy of the 3b model alone would take 12 GB
            torch.set_default_dtype(torch.bfloat16)
        try:
            model = make_llama(SIZES[size], VOCAB, EOS_ID, seed=0)
        finally:
            torch.set_default_dtype(previous)
        model.generation_config.do_sample = False
        model.to(dtype=torch.bfloat16).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return build_once(folder, build, required=("config.json", "model.safetensors"))


def export_openvino(source: Path, out: Path, weight_format: str, *extra: str) -> Path:
    """Export `source` with optimum-cli (`fp32`, `fp16`, `int8` or `int4` weights), cached; return the folder."""

    from nbhelpers.export import OV_LLM_FILES, export_command

    def export(tmp: Path) -> None:
        subprocess.run(export_command(str(source), tmp, weight_format, *extra), check=True, stdout=subprocess.DEVNULL)

    return build_once(out, export, required=OV_LLM_FILES)


def parameter_count(shape: LlamaShape, vocab: int = VOCAB) -> int:
    """Return the parameter count of a Llama of `shape` with untied embeddings."""
    head_dim = shape.hidden_size // shape.num_attention_heads
    attention = shape.hidden_size * head_dim * (2 * shape.num_attention_heads + 2 * shape.num_key_value_heads)
    mlp = 3 * shape.hidden_size * shape.intermediate_size
    layer = attention + mlp + 2 * shape.hidden_size
    return shape.num_hidden_layers * layer + 2 * vocab * shape.hidden_size + shape.hidden_size


def int4_weight_bytes(size: str) -> int:
    """Estimate the bytes of int4 weights read per token for `size`: all but the input embedding table at 4.5
    bits per weight (llama.cpp's q4_0: 18 bytes per block of 32; OpenVINO's int4 comes within about 5 %)."""
    shape = SIZES[size]
    return (parameter_count(shape) - VOCAB * shape.hidden_size) * 18 // 32


def pick_large_size(cache_resident_mib: float) -> str:
    """Return the smallest of LARGE_SIZES whose int4 weights read per token are at least twice
    `cache_resident_mib` (the working set below which reads come from the caches), or the largest if none is."""
    for size in LARGE_SIZES:
        if int4_weight_bytes(size) >= 2 * cache_resident_mib * 2**20:
            return size
    return LARGE_SIZES[-1]


class TorchEngine:
    """PyTorch + transformers `generate` (greedy), fp32 or bf16, on the CPU."""

    engine = "pytorch"

    def __init__(self, source: Path, precision: str = "fp32", threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        if threads:
            torch.set_num_threads(threads)
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
        self.precision = precision
        self.model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).eval()
        self.weight_bytes = sum(p.numel() * p.element_size() for name, p in self.model.named_parameters()
                                if "embed_tokens" not in name)

    def build_info(self) -> dict[str, Any]:
        """Return the CPU kernels ATen dispatches to (`torch.backends.cpu.get_cpu_capability()`) and the threads."""
        import torch

        return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}

    def generate(self, prompt: list[int], new_tokens: int) -> Timing:
        import torch
        from transformers.generation.streamers import BaseStreamer

        class Clock(BaseStreamer):  # generate() calls put() with the prompt, then once per new token
            def __init__(self) -> None:
                self.times: list[float] = []

            def put(self, value: Any) -> None:
                self.times.append(time.perf_counter())

            def end(self) -> None:
                pass

        clock = Clock()
        ids = torch.tensor([prompt])
        start = time.perf_counter()
        with torch.inference_mode():
            self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                min_new_tokens=new_tokens, do_sample=False, pad_token_id=EOS_ID, streamer=clock)
        first, last = clock.times[1], clock.times[-1]
        return Timing((first - start) * 1000, (len(clock.times) - 2) / (last - first))


def ir_weight_bytes(model_dir: Path) -> int:
    """Return the bytes of the IR's weight constants, without the input embedding table."""
    import openvino as ov

    model = ov.Core().read_model(Path(model_dir) / "openvino_model.xml")
    total = 0
    for op in model.get_ops():
        if op.get_type_name() == "Constant" and "embed_tokens" not in op.get_friendly_name():
            total += op.get_byte_size()
    return total


class GenAIEngine:
    """OpenVINO GenAI `LLMPipeline` on an exported model; `properties` are passed to the pipeline."""

    engine = "openvino"

    def __init__(self, model_dir: Path, precision: str, device: str = "CPU", **properties: Any) -> None:
        import openvino_genai as ov_genai

        self.precision = precision
        # read before the pipeline exists, so that only one compiled copy is in memory at a time
        self.build = _compiled_properties(Path(model_dir), device, properties)
        self.pipe = ov_genai.LLMPipeline(model_dir, device, **properties)
        self.weight_bytes = ir_weight_bytes(model_dir)

    def build_info(self) -> dict[str, Any]:
        """Return the device's OPTIMIZATION_CAPABILITIES and the INFERENCE_PRECISION_HINT the compiled model reports."""
        return self.build

    def generate(self, prompt: list[int], new_tokens: int) -> Timing:
        import numpy as np
        import openvino as ov
        import openvino_genai as ov_genai

        config = ov_genai.GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, ignore_eos=True,
                                           do_sample=False)
        result = self.pipe.generate(ov.Tensor(np.array([prompt], dtype=np.int64)), config)
        metrics = result.perf_metrics
        return Timing(metrics.get_ttft().mean, 1000 / metrics.get_tpot().mean)


def _compiled_properties(model_dir: Path, device: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Compile the IR with `properties` alone (LLMPipeline does not expose its compiled model) and read back what
    the plugin chose; return it with the device's OPTIMIZATION_CAPABILITIES."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(model_dir / "openvino_model.xml", device, {k: str(v) for k, v in properties.items()})
    precision = compiled.get_property("INFERENCE_PRECISION_HINT")
    return {"OPTIMIZATION_CAPABILITIES": list(core.get_property(device, "OPTIMIZATION_CAPABILITIES")),
            "INFERENCE_PRECISION_HINT": precision.get_type_name() if hasattr(precision, "get_type_name")
            else str(precision)}

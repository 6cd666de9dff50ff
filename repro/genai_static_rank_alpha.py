"""Reproduction: `AdapterConfig.MODE_STATIC_RANK` ignores a per-call alpha at bf16 compute (GenAI 2026.4.1).

In `MODE_STATIC_RANK` the adapter's rank is fixed when the pipeline is built while A, B and alpha stay inputs of
the model, so by GenAI's source (`lora/adapter.cpp`) a call may change alpha, as in `MODE_DYNAMIC`. This script
builds both modes with one LoRA adapter at alpha 1 and asks the same prompt with alpha 1, 0 and 2, at the CPU's
default inference precision and at f32. Seen with 2026.4.1 on an AMD EPYC (AVX-512 BF16, bf16 by default): at f32
both modes change their answer with alpha; at bf16 `MODE_DYNAMIC` does and `MODE_STATIC_RANK` answers as at
alpha 1 whatever the alpha. It exits 1 if `MODE_STATIC_RANK` ignores alpha where `MODE_DYNAMIC` follows it, 0 if
not. The workaround notebook 04 teaches: switch alphas per call in `MODE_DYNAMIC` (what `MODE_AUTO` picks).

    python repro/genai_static_rank_alpha.py [LLM_DIR ADAPTER_SAFETENSORS]

Without arguments it uses the project's 100 M-parameter demo model and a random rank-16 LoRA adapter for it, as
notebook 04 builds them (run from the project root).
"""

from __future__ import annotations

import sys

import openvino as ov
import openvino_genai as ov_genai

PROMPT = "Tell me a story about Otto the frog."


def answers(model_dir: str, adapter: ov_genai.Adapter, mode: ov_genai.AdapterConfig.Mode,
            properties: dict[str, str]) -> dict[float, str]:
    pipe = ov_genai.LLMPipeline(model_dir, "CPU", adapters=ov_genai.AdapterConfig(adapter, 1.0, mode), **properties)
    config = ov_genai.GenerationConfig(max_new_tokens=12, ignore_eos=True, apply_chat_template=False)
    return {alpha: pipe.generate([PROMPT], config, adapters=ov_genai.AdapterConfig(adapter, alpha)).texts[0]
            for alpha in (1.0, 0.0, 2.0)}


def main(model_dir: str, adapter_file: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    default = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
    adapter, Mode = ov_genai.Adapter(adapter_file), ov_genai.AdapterConfig.Mode
    problem = False
    for label, properties in {f"default ({default})": {}, "f32": {"INFERENCE_PRECISION_HINT": "f32"}}.items():
        follows = {mode.name: len(set(answers(model_dir, adapter, mode, properties).values())) == 3
                   for mode in (Mode.MODE_DYNAMIC, Mode.MODE_STATIC_RANK)}
        print(f"  {label:16} answers change with alpha: {follows}")
        problem |= follows["MODE_DYNAMIC"] and not follows["MODE_STATIC_RANK"]
    print("MODE_STATIC_RANK", "ignores a per-call alpha (the problem is there)" if problem else "follows alpha")
    return 1 if problem else 0


def demo_inputs() -> tuple[str, str]:
    """The 100 M demo's fp16 export and a random rank-16 adapter for it, built as notebook 04 builds them."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from nbhelpers.cache import build_once
    from nbhelpers.export import export_llm
    from nbhelpers.models import model_source
    from nbhelpers.settings import cache_dir

    name = "nbhelpers/demo-llm-100m"
    lora = LoraConfig(r=16, lora_alpha=16, init_lora_weights=False, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

    def random_adapter(out_dir) -> None:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(model_source(name), dtype=torch.float32)
        get_peft_model(model, lora).save_pretrained(out_dir)

    folder = build_once(cache_dir() / "adapters" / f"{name.replace('/', '--')}-rank16-random", random_adapter)
    return str(export_llm(name, "fp16")), str(folder / "adapter_model.safetensors")


if __name__ == "__main__":
    raise SystemExit(main(*(sys.argv[1:3] if len(sys.argv) == 3 else demo_inputs())))

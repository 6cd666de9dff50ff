"""Measurements beyond plain decoding: speculative decoding, LoRA adapter overhead, KV-cache per-token cost."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.bench import engines as eng
from nbhelpers.cache import build_once
from nbhelpers.settings import cache_dir
from nbhelpers.timing import interleaved

if TYPE_CHECKING:
    from nbhelpers.bench.run import BenchConfig


def speculative(target_dir: Path, draft_dir: Path, prompts: list[str], new_tokens: int = 64,
                assistant_tokens: int = 4, repeats: int = 3, per_run: int = 8) -> dict[str, Any]:
    """Time greedy decoding with and without a draft model on the same prompts, in f32; check the outputs.

    f32 on both models, so that the multi-token verification rounds exactly as plain decoding does
    (in bf16 near-ties can flip). Each run takes the next `per_run` prompts (both variants the same
    ones), so no prompt repeats in a pipeline and prefix caching cannot help. Returns {speedup,
    acceptance, identical_output, plain_tps, speculative_tps, assistant_tokens}; speeds are medians
    over `repeats` interleaved runs.
    """
    import openvino_genai as ov_genai

    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    plain = ov_genai.LLMPipeline(target_dir, "CPU", **f32)
    spec = ov_genai.LLMPipeline(target_dir, "CPU", draft_model=ov_genai.draft_model(draft_dir, "CPU", **f32), **f32)
    greedy = ov_genai.GenerationConfig(max_new_tokens=new_tokens, do_sample=False)
    drafted = ov_genai.GenerationConfig(max_new_tokens=new_tokens, do_sample=False,
                                        num_assistant_tokens=assistant_tokens)
    texts: dict[str, list[str]] = {"plain": [], "speculative": []}
    accepted = offered = 0

    def run(name: str, rep: int) -> float:
        nonlocal accepted, offered
        pipe, config = (plain, greedy) if name == "plain" else (spec, drafted)
        tokens, seconds = 0, 0.0
        start = (rep * per_run) % len(prompts)
        for prompt in (prompts * 2)[start:start + per_run]:
            result = pipe.generate([prompt], config)
            tokens += result.perf_metrics.get_num_generated_tokens()
            seconds += result.perf_metrics.get_generate_duration().mean / 1000
            if rep == 0:  # the warm-up run: keep the texts and acceptance
                texts[name].append(result.texts[0])
                if name == "speculative":
                    offered += result.extended_perf_metrics.get_num_draft_tokens()
                    accepted += result.extended_perf_metrics.get_num_accepted_tokens()
        return tokens / seconds

    runs = interleaved({"plain": lambda rep: run("plain", rep), "speculative": lambda rep: run("speculative", rep)},
                       repeats=repeats, warmup=1)
    plain_tps, spec_tps = statistics.median(runs["plain"]), statistics.median(runs["speculative"])
    return {
        "speedup": spec_tps / plain_tps,
        "acceptance": accepted / offered if offered else 0.0,
        "identical_output": texts["plain"] == texts["speculative"],
        "plain_tps": plain_tps,
        "speculative_tps": spec_tps,
        "assistant_tokens": assistant_tokens,
    }


def make_random_adapter(source: Path, out: Path, rank: int = 16) -> Path:
    """Save a PEFT LoRA of `rank` with random A and B on every linear layer of the Llama at `source`.

    Returns the adapter's safetensors file.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    get_peft_model(AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32), config).save_pretrained(out)
    return Path(out) / "adapter_model.safetensors"


# GenAI's adapter modes, from most to least flexible: AUTO/DYNAMIC switch adapters and alphas per call;
# STATIC_RANK fixes the adapters' ranks; STATIC fixes adapters and alphas at build time; FUSE adds B·A into
# the weights when the pipeline is built (no switching at all).
LORA_MODES = ("MODE_AUTO", "MODE_DYNAMIC", "MODE_STATIC_RANK", "MODE_STATIC", "MODE_FUSE")


def lora_overhead(model_dir: Path, adapter_file: Path, prompt_sets: list[list[int]], new_tokens: int = 64,
                  repeats: int = 3) -> dict[str, Any]:
    """Time per output token of the base pipeline and of pipelines with `adapter_file` in each GenAI adapter mode.

    Returns {dynamic_overhead: the default mode's (AUTO) extra time per token as a fraction (0.10 = 10 %
    slower), base_tpot_ms, adapter_tpot_ms, modes: {mode: overhead}}; all from one interleaved run.
    """
    import openvino as ov
    import openvino_genai as ov_genai

    adapter = ov_genai.Adapter(adapter_file)
    config = ov_genai.GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, ignore_eos=True)
    pipes: dict[str, tuple[Any, dict[str, Any]]] = {"base": (ov_genai.LLMPipeline(model_dir, "CPU"), {})}
    for name in LORA_MODES:
        mode = getattr(ov_genai.AdapterConfig.Mode, name)
        pipe = ov_genai.LLMPipeline(model_dir, "CPU", adapters=ov_genai.AdapterConfig(adapter, mode))
        per_call = {} if name == "MODE_FUSE" else {"adapters": ov_genai.AdapterConfig(adapter, 1.0, mode)}
        pipes[name] = (pipe, per_call)

    def tpot(name: str, rep: int) -> float:
        pipe, kwargs = pipes[name]
        ids = ov.Tensor(np.array([prompt_sets[rep % len(prompt_sets)]], dtype=np.int64))
        return pipe.generate(ids, config, **kwargs).perf_metrics.get_tpot().mean

    runs = interleaved({name: (lambda rep, n=name: tpot(n, rep)) for name in pipes}, repeats=repeats, warmup=1)
    ms = {name: statistics.median(values) for name, values in runs.items()}
    return {"dynamic_overhead": ms["MODE_AUTO"] / ms["base"] - 1, "base_tpot_ms": ms["base"],
            "adapter_tpot_ms": ms["MODE_AUTO"], "modes": {name: ms[name] / ms["base"] - 1 for name in LORA_MODES}}


def kv_cache_step(stateful_dir: Path, stateless_dir: Path, context: int = 1024, steps: int = 8) -> dict[str, Any]:
    """Per-token latency (ms, median of `steps`) with `context` tokens already seen, three ways, with raw InferRequests.

    - stateful: the cache lives in the model's state (prefilled once, then one token per call);
    - stateless: the application passes the cache in as `past_key_values.*` tensors and gets `present.*` back;
    - no cache: the whole context plus the new token is recomputed for every token.
    """
    import openvino as ov

    core = ov.Core()
    rng = np.random.default_rng(0)

    def step_inputs(ids: np.ndarray, past: int) -> dict[str, np.ndarray]:
        n = ids.shape[1]
        return {"input_ids": ids, "attention_mask": np.ones((1, past + n), np.int64),
                "position_ids": np.arange(past, past + n, dtype=np.int64)[None]}

    def median_ms(fn: Any) -> float:
        times = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times[1:])  # the first call warms up

    tokens = rng.integers(3, 900, size=(1, context + steps + 2), dtype=np.int64)
    stateful = core.compile_model(Path(stateful_dir) / "openvino_model.xml", "CPU").create_infer_request()
    stateful.reset_state()
    stateful.infer({**step_inputs(tokens[:, :context], 0), "beam_idx": np.zeros(1, np.int32)})
    position = [context]

    def stateful_step() -> None:
        stateful.infer({**step_inputs(tokens[:, position[0]:position[0] + 1], position[0]),
                        "beam_idx": np.zeros(1, np.int32)})
        position[0] += 1

    compiled = core.compile_model(Path(stateless_dir) / "openvino_model.xml", "CPU")
    stateless = compiled.create_infer_request()
    past = {}
    for port in compiled.inputs:
        name = port.get_any_name()
        if name.startswith("past_key_values"):
            _, heads, _, head_dim = port.get_partial_shape()
            shape = (1, heads.get_length(), context, head_dim.get_length())
            past[name] = rng.standard_normal(shape).astype(port.get_element_type().to_dtype())
    new_token = tokens[:, context:context + 1]
    empty = {name: np.zeros((1, v.shape[1], 0, v.shape[3]), v.dtype) for name, v in past.items()}
    return {
        "context": context,
        "stateful_ms": median_ms(stateful_step),
        "stateless_ms": median_ms(lambda: stateless.infer({**step_inputs(new_token, context), **past})),
        "no_cache_ms": median_ms(lambda: stateless.infer({**step_inputs(tokens[:, :context + 1], 0), **empty})),
    }


def run_extras(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure speculative decoding, LoRA overhead and the KV-cache as the benchmark's config asks; return
    {"speculative", "lora", "kv_cache"} for the results (on the tiny model with `config.quick`)."""
    size = "tiny" if config.quick else "125m"
    root = cache_dir() / "bench" / size
    source = eng.build_model(size, root / "hf")
    fp16 = eng.export_openvino(source, root / "ov-fp16", "fp16")
    out: dict[str, Any] = {}
    rng = np.random.default_rng(1)
    prompt_sets = [[int(t) for t in rng.integers(3, 900, config.short_prompt)] for _ in range(8)]

    log("speculative decoding on the demo pair")
    if config.quick:  # the tiny model drafts for itself: exercises the code, not the speed-up
        target, draft, name, prompts = fp16, fp16, f"{size} model drafting for itself", ["Hello", "Tell me a story"]
    else:
        from nbhelpers.demos.corpus import chat_corpus
        from nbhelpers.export import llm_dir

        target, draft = llm_dir("nbhelpers/demo-llm-padded"), llm_dir("nbhelpers/demo-llm-draft")
        name = "demo target padded to ~100 M + demo draft (notebook 03)"
        prompts = [c.user for c in chat_corpus("heldout")]
    sweep = {k: speculative(target, draft, prompts, new_tokens=config.new_tokens, assistant_tokens=k,
                            repeats=config.repeats) for k in ((4,) if config.quick else (2, 3, 4, 5, 6))}
    best = max(sweep, key=lambda k: sweep[k]["speedup"])
    out["speculative"] = {"model": name, **sweep[best], "median_over_sweep": statistics.median(
                              v["speedup"] for v in sweep.values()),
                          "sweep": {k: {"speedup": v["speedup"], "acceptance": v["acceptance"],
                                        "identical_output": v["identical_output"]} for k, v in sweep.items()}}
    log("LoRA adapter overhead")
    adapter = build_once(root / "lora-rank16", lambda tmp: make_random_adapter(source, tmp),
                         required=("adapter_model.safetensors",)) / "adapter_model.safetensors"
    out["lora"] = {"model": f"{size} random Llama, fp16 IR", "rank": 16,
                   **lora_overhead(fp16, adapter, prompt_sets, new_tokens=config.new_tokens,
                                   repeats=max(config.repeats, 3))}
    log("KV-cache: stateful vs stateless vs no cache")
    stateless = eng.export_openvino(source, root / "ov-fp16-stateless", "fp16", "--disable-stateful")
    out["kv_cache"] = {"model": f"{size} random Llama, fp16 IR",
                       **kv_cache_step(fp16, stateless, context=config.long_prompt)}
    return out

"""The offline demo LLMs: the committed trained family (target and draft) and the random-weight cost models.

The family is a byte-level BPE tokenizer with a chat template, a small Llama target trained on the corpus in
`nbhelpers.demos.corpus`, and a draft distilled from it; `python -m tools.train_demo_llm` trained them (seed 0,
about 3 minutes on two cores) into `DATA`. The cost models are built here on first use, in seconds: random weights
at a realistic size, or the trained target padded to a realistic cost. Everything is saved as a Hugging Face hub
snapshot would be, so the notebooks load and export it with the code they use for a real hub model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import model_card

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

# The committed family (target/ and draft/). Committed rather than trained on each machine: PyTorch's kernels
# differ between CPUs, so the same recipe trained on two CPUs gives two different models, and every check on the
# demo would have to hold for models nobody measured.
DATA = Path(__file__).parent / "data" / "demo-llm"
EOS = "<|endoftext|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
# A small ChatML-like template: the prompt ends with the assistant tag, the answer ends with EOS.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}" + USER + "\n{{ m['content'] }}\n"
    "{% elif m['role'] == 'assistant' %}" + ASSISTANT + "\n{{ m['content'] }}" + EOS + "\n"
    "{% else %}{{ m['content'] }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "\n{% endif %}"
)


@dataclass(frozen=True)
class LlamaShape:
    """The size of a Llama-architecture model. Hidden sizes are multiples of 128 (int4 group size)."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int = 2048


# The trained target: ~2.5 M parameters; the draft: ~0.5 M (distilled from the target).
TARGET_SHAPE = LlamaShape(256, 512, 3, 4, 2)
DRAFT_SHAPE = LlamaShape(128, 256, 1, 2, 1)
# Random weights at a realistic cost (~100 M parameters) for lessons that time something.
COST_SHAPE = LlamaShape(768, 3072, 12, 12, 4, max_position_embeddings=4096)


def make_llama(shape: LlamaShape, vocab_size: int, eos_token_id: int, seed: int) -> LlamaForCausalLM:
    """Return a freshly initialised `LlamaForCausalLM` of `shape` (deterministic in `seed`)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def save_snapshot(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, out: Path,
                  card: str, report: dict[str, Any] | None = None) -> None:
    """Write `model` and `tokenizer` to `out` as a hub snapshot (safetensors, configs, model card)."""
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 64
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(card, encoding="utf-8")
    if report is not None:
        (out / "training_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


def build_cost_model(out: Path, tokenizer_source: Path, shape: LlamaShape | None = None, seed: int = 0) -> int:
    """Save a random-weight Llama of `shape` (default `COST_SHAPE`) with the tokenizer from `tokenizer_source`.

    Its outputs are meaningless, but its per-token cost is that of a real model of its size. Returns
    the parameter count.
    """
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    model = make_llama(shape or COST_SHAPE, len(tokenizer), tokenizer.convert_tokens_to_ids(EOS), seed)
    n_params = sum(p.numel() for p in model.parameters())
    save_snapshot(model.to(dtype=torch.bfloat16), tokenizer, out, model_card(
        "nbhelpers cost-realistic LLM (random weights)",
        f"A {n_params / 1e6:.0f} M-parameter Llama-architecture model with random weights. Its text is noise; "
        "it exists so that timings reflect the cost of a real model of this size, not Python overhead.",
    ))
    return n_params



def pad_for_cost(source: Path, out: Path, extra_layers: int = 12, intermediate_size: int = 8192,
                 seed: int = 0) -> int:
    """Save a copy of the Llama at `source` that computes the same logits at a realistic cost (~100 M parameters).

    Every MLP is widened to `intermediate_size`: the new hidden units meet all-zero columns of `down_proj`,
    so they add nothing. Then `extra_layers` decoder layers are appended whose output projections
    (`o_proj`, `down_proj`) are zero: each adds exactly zero to the residual stream. The weights are
    saved in float16, as the export would store them anyway. Returns the parameter count.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    small = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    cfg = small.config
    if intermediate_size < cfg.intermediate_size:
        raise ValueError(f"intermediate_size {intermediate_size} is smaller than the model's {cfg.intermediate_size}")
    shape = LlamaShape(cfg.hidden_size, intermediate_size, cfg.num_hidden_layers + extra_layers,
                       cfg.num_attention_heads, cfg.num_key_value_heads, cfg.max_position_embeddings)
    big = make_llama(shape, cfg.vocab_size, cfg.eos_token_id, seed)
    n = cfg.intermediate_size
    with torch.no_grad():
        for name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
            big.get_parameter(name).copy_(small.get_parameter(name))
        for i, layer in enumerate(big.model.layers):
            if i < cfg.num_hidden_layers:
                old = small.model.layers[i]
                layer.self_attn.load_state_dict(old.self_attn.state_dict())
                layer.input_layernorm.load_state_dict(old.input_layernorm.state_dict())
                layer.post_attention_layernorm.load_state_dict(old.post_attention_layernorm.state_dict())
                layer.mlp.gate_proj.weight[:n] = old.mlp.gate_proj.weight
                layer.mlp.up_proj.weight[:n] = old.mlp.up_proj.weight
                layer.mlp.down_proj.weight.zero_()
                layer.mlp.down_proj.weight[:, :n] = old.mlp.down_proj.weight
            else:
                layer.self_attn.o_proj.weight.zero_()
                layer.mlp.down_proj.weight.zero_()
    n_params = sum(p.numel() for p in big.parameters())
    save_snapshot(big.to(dtype=torch.float16), AutoTokenizer.from_pretrained(source), out, model_card(
        "nbhelpers demo LLM, padded to a realistic cost",
        f"The demo target widened and deepened to {n_params / 1e6:.0f} M parameters with zero output projections: "
        "it computes the same logits as the demo target, at the cost of a model of this size. "
        "For timing speculative decoding, where the draft must be much cheaper than the target.",
    ))
    return n_params

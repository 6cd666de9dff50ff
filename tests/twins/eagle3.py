"""Random-weight twins of notebook 03's real EAGLE-3 pair: `Qwen/Qwen3-1.7B` and its head
`AngelSlim/Qwen3-1.7B_eagle3`.

Real: the target's config.json values (Qwen3ForCausalLM, width 2048, 16 heads and 8 KV heads of head_dim 128,
vocabulary 151936, tied embeddings, rope theta 1e6) with Qwen3's tokenizer, chat template and generation config (the
Qwen3-0.6B twin's: tests/twins/qwen3.py; the two models share them). The head's config.json values as the public
notes below record them: `LlamaForCausalLMEagle3`, model_type llama, one decoder layer of the target's width,
intermediate 6144, a 32000-token draft vocabulary mapped into the target's by `d2t` offsets (target id = draft id +
d2t[draft id]), `t2d` over the target's vocabulary, no embedding table of its own (GenAI uses the target's) and no
layer list in its config (GenAI picks the target's layers 2, N/2 and N-3), weights as fp16 `pytorch_model.bin` with
keys without a `model.` prefix. Shrunk: the target to 10 decoder layers (the fewest GenAI picks layers for itself)
with intermediate size 512; the head is not shrunk.

Sources (no hub access here): the target's values from a re-saved public copy of Qwen3-1.7B's config.json (the
order and `torch_dtype` as the official Qwen3 configs have them); the head's from public notes of someone who
downloaded it (15 fp16 tensors, 274,132,734 bytes, which the shapes here add up to within the pickle overhead), from
AngelSlim's own trainer template for it (Tencent/AngelSlim, configs/qwen3-1.7b-eagle3.json), and from optimum-intel's
change that added EAGLE-3 export against this head (it matches `LlamaForCausalLMEagle3` exactly). Not confirmed: the
head file's byte layout and field order, the draft vocabulary's ids (here: the lowest 32000 ids of the target's
vocabulary plus every added token, so special tokens can be drafted), and the weights.

`identity_head` builds a head that is given the target's own features: it passes the target's last tapped layer
through unchanged and reads it with the target's own final norm and output embedding. On a target whose layers after
that tap add nothing (`zero_layers_after`), it drafts the token the target has just chosen again: a target that
repeats itself accepts every draft.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.twins import qwen3, repo_dir

TARGET = "Qwen/Qwen3-1.7B"
HEAD = "AngelSlim/Qwen3-1.7B_eagle3"

# config.json of Qwen/Qwen3-1.7B (sources above)
TARGET_CONFIG: dict[str, Any] = {
    **qwen3.REAL_CONFIG, "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28,
    "tie_word_embeddings": True,
}
TARGET_SHRUNK = {"num_hidden_layers": 10, "intermediate_size": 512}
TAPS = (2, 5, 7)  # GenAI's choice for a 10-layer target: 2, N/2, N-3

# config.json of AngelSlim/Qwen3-1.7B_eagle3 (sources above)
HEAD_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLMEagle3"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 6144, "max_position_embeddings": 40960,
    "max_window_layers": 28, "model_type": "llama", "num_attention_heads": 16, "num_hidden_layers": 1,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
    "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936, "draft_vocab_size": 32000,
}


def build_target(root: Path, zero_layers_after: int | None = None, tokenizer: Any = None) -> Path:
    """Save the Qwen3-1.7B twin in `root` and return its folder. With `zero_layers_after=i`, the decoder layers
    after layer i get zero output projections (attention and MLP), so layer i's output is the final residual; with
    -1 no layer adds anything, and the twin (tied embeddings) repeats the last token it reads."""
    import torch
    from transformers import AutoModelForCausalLM

    out = qwen3.build(root, tokenizer=tokenizer, name=TARGET, real_config=TARGET_CONFIG, shrunk=TARGET_SHRUNK)
    if zero_layers_after is not None:
        model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16)
        with torch.no_grad():
            for layer in model.model.layers[zero_layers_after + 1:]:
                layer.self_attn.o_proj.weight.zero_()
                layer.mlp.down_proj.weight.zero_()
        model.save_pretrained(out)
    return out


def draft_ids() -> list[int]:
    """The target ids of the twin head's draft vocabulary: the lowest ids, then every added token."""
    added = sorted(qwen3.TOKEN_IDS.values())
    return list(range(HEAD_CONFIG["draft_vocab_size"] - len(added))) + added


def build_head(root: Path, target: Path | None = None, seed: int = 0) -> Path:
    """Save the head twin in `root` (AngelSlim's layout) and return its folder. Random weights, or, given the
    `target` twin's folder, `identity_head`'s."""
    import torch

    out = repo_dir(root, HEAD if target is None else HEAD + "-identity")
    torch.manual_seed(seed)
    h, inter, heads, kv, hd = (HEAD_CONFIG[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads",
                                                         "num_key_value_heads", "head_dim"))
    vocab, draft = HEAD_CONFIG["vocab_size"], HEAD_CONFIG["draft_vocab_size"]
    shapes = {"midlayer.self_attn.q_proj.weight": (heads * hd, 2 * h),
              "midlayer.self_attn.k_proj.weight": (kv * hd, 2 * h),
              "midlayer.self_attn.v_proj.weight": (kv * hd, 2 * h),
              "midlayer.self_attn.o_proj.weight": (h, heads * hd), "midlayer.mlp.gate_proj.weight": (inter, h),
              "midlayer.mlp.up_proj.weight": (inter, h), "midlayer.mlp.down_proj.weight": (h, inter),
              "fc.weight": (h, 3 * h), "lm_head.weight": (draft, h)}
    state = {k: torch.randn(shape) * HEAD_CONFIG["initializer_range"] for k, shape in shapes.items()}
    for norm in ("midlayer.hidden_norm", "midlayer.input_layernorm", "midlayer.post_attention_layernorm", "norm"):
        state[f"{norm}.weight"] = torch.ones(h)
    ids = torch.tensor(draft_ids())
    state["d2t"] = ids - torch.arange(draft)  # offsets: target id = draft id + d2t[draft id]
    state["t2d"] = torch.zeros(vocab, dtype=torch.bool).index_fill_(0, ids, True)
    if target is not None:
        state.update(identity_head(target, ids))
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, out / "pytorch_model.bin")
    (out / "config.json").write_text(json.dumps(HEAD_CONFIG, indent=2) + "\n", encoding="utf-8")
    return out


def identity_head(target: Path, ids: Any) -> dict[str, Any]:
    """The weights that make the head return the target's own prediction from its last tapped layer: `fc` keeps the
    third tap, the layer adds nothing (zero output projections), and the head reads the result with the target's
    final norm and (tied) output embedding, restricted to the draft vocabulary `ids`."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(target / "model.safetensors"))
    h = HEAD_CONFIG["hidden_size"]
    fc = torch.zeros(h, 3 * h)
    fc[:, 2 * h:] = torch.eye(h)
    return {"fc.weight": fc, "midlayer.self_attn.o_proj.weight": torch.zeros(h, h),
            "midlayer.mlp.down_proj.weight": torch.zeros(h, HEAD_CONFIG["intermediate_size"]),
            "norm.weight": weights["model.norm.weight"].float(),
            "lm_head.weight": weights["model.embed_tokens.weight"].float()[ids]}

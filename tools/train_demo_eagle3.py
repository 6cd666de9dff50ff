"""Train the EAGLE-3 draft head of the demo target (`nbhelpers/demo-llm-eagle3`) and write it as a hub snapshot.

    python -m tools.train_demo_eagle3 --out nbhelpers/demos/data/demo-llm/eagle3

An EAGLE-3 head is one decoder layer that drafts from the target's own hidden states: the outputs of three of the
target's decoder layers (here 0, 1 and 2, all of the demo target's) are concatenated, fused by a linear layer (`fc`),
joined with the embedding of the next token and run through the layer; its output predicts the token after that. To
draft further it feeds its own output back in place of the target's features, so training unrolls that loop (the
paper's "training-time test"): step k sees the head's output of step k-1 and attends to the target-feature
positions before it and to its own earlier steps, as it will while drafting.

Trained on the target's own answers (greedy and sampled) to the demo corpus's training prompts, labels the target's
greedy choices, the target's embeddings frozen (GenAI swaps in the target's table at load). The modules are
optimum-intel's own EAGLE-3 classes, so what optimum-cli exports computes what was trained.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import committed_dir, model_card
from nbhelpers.demos.corpus import chat_corpus
from tools.training import lr_at, publish

if TYPE_CHECKING:
    import torch

TAPS = (0, 1, 2)  # the target's decoder layers the head reads (GenAI's `hidden_layers_list`)
STEPS = 3600
BATCH = 16
LR = 2e-3
UNROLL = 5  # drafting steps trained: GenAI's chain drafts num_assistant_tokens (default 5) in a row
DECAY = 0.8  # the loss weight of unrolled step k is DECAY ** (k - 1)
MAX_NEW_TOKENS = 64
SAMPLED = 6  # answers sampled from the target per prompt (T = 1), besides its greedy one: more paths to learn


def head_config(target_config: Any) -> Any:
    """Return the config of an EAGLE-3 head for `target_config`: one Llama layer of the target's width, the full
    vocabulary (so `d2t` is all zeros), and the architecture name optimum-intel's exporter recognises."""
    from transformers import LlamaConfig

    t = target_config
    cfg = LlamaConfig(
        architectures=["LlamaForCausalLMEagle3"], hidden_size=t.hidden_size, intermediate_size=t.intermediate_size,
        num_attention_heads=t.num_attention_heads, num_key_value_heads=t.num_key_value_heads, head_dim=t.head_dim,
        num_hidden_layers=1, vocab_size=t.vocab_size, max_position_embeddings=t.max_position_embeddings,
        rms_norm_eps=t.rms_norm_eps, rope_parameters=t.rope_parameters, hidden_act=t.hidden_act,
        tie_word_embeddings=False, bos_token_id=t.bos_token_id, eos_token_id=t.eos_token_id,
        pad_token_id=t.pad_token_id)
    cfg.draft_vocab_size = t.vocab_size
    cfg.target_hidden_size = t.hidden_size
    return cfg


def target_sequences(target: Any, tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Return each prompt (through the chat template) followed by the target's greedy answer and by SAMPLED answers
    sampled from it, as token ids. The labels are the target's greedy choices at every position either way."""
    import torch

    out = []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            return_dict=True, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out.append(target.generate(ids, attention_mask=ids.ne(-1), max_new_tokens=MAX_NEW_TOKENS,
                                       do_sample=False)[0].tolist())
            seqs = target.generate(ids.expand(SAMPLED, -1), attention_mask=ids.ne(-1).expand(SAMPLED, -1),
                                   max_new_tokens=MAX_NEW_TOKENS, do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
        out.extend(_through_eos(s.tolist(), ids.shape[1], target.config.eos_token_id) for s in seqs)
    return out


def _through_eos(ids: list[int], start: int, eos: int) -> list[int]:
    """Return `ids` up to and including the first `eos` at or after `start` (generate pads a batch with it)."""
    return ids[: ids.index(eos, start) + 1] if eos in ids[start:] else ids


def target_features(target: Any, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the target; return (the outputs of the TAPS decoder layers concatenated [b, s, 3H], its greedy choice at
    every position [b, s]). A forward hook reads each layer's output (the residual stream after the layer, before
    the final norm: what GenAI taps in the IR)."""
    import torch

    seen: dict[int, torch.Tensor] = {}
    hooks = [target.model.layers[i].register_forward_hook(
        lambda _m, _inp, out, i=i: seen.__setitem__(i, out[0] if isinstance(out, tuple) else out)) for i in TAPS]
    try:
        with torch.no_grad():
            logits = target(input_ids=ids, attention_mask=mask).logits
    finally:
        for h in hooks:
            h.remove()
    return torch.cat([seen[i] for i in TAPS], dim=-1), logits.argmax(-1)


class _Keys:
    """The keys and values of the head's earlier passes (the `past_key_values` its attention updates)."""

    k: Any = None
    v: Any = None

    def update(self, k: torch.Tensor, v: torch.Tensor, *_: Any, **__: Any) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v


def unrolled_logits(head: Any, ids: torch.Tensor, feats: torch.Tensor, valid: torch.Tensor, unroll: int
                    ) -> list[torch.Tensor]:
    """Run the head's training-time test over `unroll` drafting steps; return each step's logits [b, n, vocab].

    Base position t (0 <= t < n = s - 1) stands for "the target has written up to token t+1 and has features up to
    t". Step 1 reads (token t+1, fused target features at t) at position t; step k reads (token t+k, the head's own
    output of step k-1 for base t) at position t+k-1 and predicts token t+k+1. Step 1 attends causally to step-1
    entries; step k to step-1 entries of bases <= t and to its own steps 2..k of base t: what drafting sees.
    """
    import torch

    m, (b, s) = head.model, ids.shape
    n = s - 1
    state, keys, out, base = m.fc(feats[:, :n]), _Keys(), [], torch.arange(n)
    first = (base[None, :] <= base[:, None]) & valid[:, None, None, :n].bool()  # [b, 1, n, n]
    for k in range(1, unroll + 1):
        tokens = torch.full((b, n), int(head.config.pad_token_id or 0))
        tokens[:, : s - k] = ids[:, k:]
        pos = (base + k - 1)[None, :].expand(b, n)
        allowed = [first] + [torch.eye(n, dtype=torch.bool).expand(b, 1, n, n)] * (k - 1)
        bias = torch.zeros(b, 1, n, n * k).masked_fill(~torch.cat(allowed, dim=-1), torch.finfo(torch.float32).min)
        state = m.midlayer(input_emb=m.embed_tokens(tokens), hidden_states=state, attention_mask=bias,
                           position_ids=pos, past_key_values=keys, position_embeddings=m.rotary_emb(state, pos),
                           use_cache=True)
        out.append(m.lm_head(m.norm(state)))
    return out


def train_head(head: Any, target: Any, sequences: list[list[int]], steps: int, seed: int) -> float:
    """Train `head` on batches of `sequences`; return the last loss."""
    import torch
    import torch.nn.functional as F

    from tools.training import optimizer_step, pad_examples

    rng = random.Random(seed)
    params = [p for name, p in head.named_parameters() if "embed_tokens" not in name]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0, betas=(0.9, 0.98))
    head.train()
    loss_value = math.nan
    for step in range(steps):
        opt.param_groups[0]["lr"] = lr_at(step, steps, LR)
        ids, _, mask = pad_examples([(x, x) for x in rng.sample(sequences, BATCH)], head.config.pad_token_id)
        feats, greedy = target_features(target, ids, mask)
        loss = torch.zeros(())
        for k, logits in enumerate(unrolled_logits(head, ids, feats, mask, UNROLL), start=1):
            label = torch.full(greedy[:, :-1].shape, -100)
            label[:, : ids.shape[1] - 1 - k] = greedy[:, k: ids.shape[1] - 1]
            label[mask[:, 1:].roll(-k, dims=1).eq(0) | (torch.arange(label.shape[1]) >= ids.shape[1] - 1 - k)] = -100
            loss = loss + DECAY ** (k - 1) * F.cross_entropy(logits.flatten(0, 1), label.flatten(), ignore_index=-100)
        loss_value = optimizer_step(opt, loss, head)
        print(f"step {step + 1}/{steps} loss {loss_value:.3f}", end="\r", flush=True)
    head.eval()
    return loss_value


def save_head(head: Any, out: Path) -> None:
    """Write the head as a hub snapshot (config.json, model.safetensors) directly: optimum-intel 2.2.0's own
    `save_pretrained` fails under transformers 5.5.4 (its `_tied_weights_keys` is a list)."""
    from safetensors.torch import save_file

    head.config.save_pretrained(out)  # creates `out`
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})


def export_head(hf_dir: Path, out: Path) -> None:
    """Export the head with optimum-cli (as any public EAGLE-3 draft: `--trust-remote-code` lets transformers load
    optimum-intel's own head class that the exporter names in the config) and write TAPS into the IR's rt_info."""
    import openvino as ov

    from nbhelpers.export import export_command

    subprocess.run(export_command(str(hf_dir), out, "fp16", "--trust-remote-code"), check=True, capture_output=True)
    model = ov.Core().read_model(out / "openvino_model.xml")
    model.set_rt_info(list(TAPS), "hidden_layers_list")
    ov.save_model(model, out / "openvino_model.tmp.xml")
    for suffix in ("xml", "bin"):
        (out / f"openvino_model.tmp.{suffix}").replace(out / f"openvino_model.{suffix}")


def measure(target_ov: Path, head_ov: Path, prompts: Sequence[str]) -> dict[str, float]:
    """Run GenAI's LLMPipeline with the head at f32 on `prompts`, chain drafting 3 and 5 tokens; return the tokens
    each target pass yields (its accepted drafts and one of its own) and the share of outputs equal to the target's."""
    import openvino_genai as ov_genai

    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    plain = ov_genai.LLMPipeline(str(target_ov), "CPU", **f32)
    spec = ov_genai.LLMPipeline(str(target_ov), "CPU", draft_model=ov_genai.draft_model(str(head_ov), "CPU", **f32),
                                **f32)
    result, same = {}, []
    for k in (3, 5):
        accepted = generated = 0
        for prompt in prompts:
            want = plain.generate([prompt], max_new_tokens=MAX_NEW_TOKENS)
            got = spec.generate([prompt], max_new_tokens=MAX_NEW_TOKENS, num_assistant_tokens=k)
            same.append(want.texts == got.texts)
            accepted += got.extended_perf_metrics.get_num_accepted_tokens()
            generated += got.perf_metrics.get_num_generated_tokens()
        result[f"tokens_per_pass_k{k}"] = round(generated / (generated - accepted), 3)
    return {"same_as_target": sum(same) / len(same), **result}


def build(out: Path, steps: int = STEPS, seed: int = 0) -> dict[str, Any]:
    """Train the head, save its snapshot into `out` (through a sibling folder renamed at the end), export it and
    measure it with GenAI; return the training report."""
    import torch
    from optimum.exporters.openvino.model_patcher import LlamaEagle3ForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nbhelpers.export import export_command

    torch.manual_seed(seed)
    source = committed_dir("nbhelpers/demo-llm")
    tokenizer = AutoTokenizer.from_pretrained(source)
    target = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).eval()
    head = LlamaEagle3ForCausalLM(head_config(target.config))
    head.config._attn_implementation = "sdpa"
    with torch.no_grad():
        head.model.embed_tokens.weight.copy_(target.model.embed_tokens.weight)
        head.model.lm_head.weight.copy_(target.lm_head.weight)
        head.model.t2d.fill_(True)
    sequences = target_sequences(target, tokenizer, [c.user for c in chat_corpus("train", seed=seed)])
    start = time.perf_counter()
    final_loss = train_head(head, target, sequences, steps, seed)
    minutes = (time.perf_counter() - start) / 60
    print()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    save_head(head, partial)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(export_command(str(source), Path(tmp) / "target", "fp16"), check=True, capture_output=True)
        export_head(partial, Path(tmp) / "head")
        measured = measure(Path(tmp) / "target", Path(tmp) / "head", [c.user for c in chat_corpus("heldout")])
    n_params = sum(p.numel() for n, p in head.named_parameters() if "embed_tokens" not in n)
    result = {"source": "nbhelpers/demo-llm", "taps": list(TAPS), "steps": steps, "batch": BATCH, "lr": LR,
              "unroll": UNROLL, "sampled_per_prompt": SAMPLED, "seed": seed, "sequences": len(sequences), "minutes":
              round(minutes, 1), "final_loss": round(final_loss, 4), "parameters_m": round(n_params / 1e6, 2),
              "genai_f32_heldout_chain": measured}
    publish(partial, out, result, card(result))
    return result


def card(report: dict[str, Any]) -> str:
    """Return the model card for `report`."""
    m = report["genai_f32_heldout_chain"]
    return model_card("nbhelpers/demo-llm-eagle3", f"""
An EAGLE-3 draft head for the demo target (`nbhelpers/demo-llm`): one decoder layer, {report['parameters_m']} M
parameters besides the embedding table it shares with the target, reading the outputs of the target's decoder
layers {report['taps']}. Trained by `tools.train_demo_eagle3` ({report['steps']} steps, batch {report['batch']},
{report['unroll']} unrolled drafting steps, seed {report['seed']}, {report['minutes']} minutes on two CPU cores) on
the target's own answers (greedy, and {report['sampled_per_prompt']} sampled per prompt) to the demo corpus's
training prompts. Export it as any EAGLE-3 draft, then name the layers it reads in the IR's rt_info as
`hidden_layers_list` (GenAI picks layers itself only for targets of 10 layers or more):

    optimum-cli export openvino --model <this folder> --task text-generation-with-past --trust-remote-code out/

Measured through OpenVINO GenAI's `LLMPipeline` at f32 on the demo corpus's held-out prompts, chain drafting of 3
(5) tokens: {m['tokens_per_pass_k3']} ({m['tokens_per_pass_k5']}) tokens per target pass, output equal to the
target's own greedy output on {m['same_as_target']:.0%} of the prompts.
""", tags=["llama", "eagle3", "speculative-decoding"])


def main(argv: Sequence[str] | None = None) -> int:
    """Train the demo target's EAGLE-3 head (the committed one: `--out nbhelpers/demos/data/demo-llm/eagle3`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_eagle3", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.out, args.steps), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

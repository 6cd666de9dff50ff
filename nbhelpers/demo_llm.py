"""Offline demo LLMs: a byte-level BPE tokenizer, a trained Llama target, a distilled draft, a cost model.

Everything is built locally from the corpus in `nbhelpers.corpus` and saved as a Hugging Face hub
snapshot would be (`config.json`, `model.safetensors`, `generation_config.json`, tokenizer files with
a chat template, a short `README.md`), so the notebooks load and export them with exactly the code
they use for a real hub model. Nothing here touches the network.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nbhelpers.corpus import Conversation, chat_corpus

if TYPE_CHECKING:
    import torch
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

# The committed family (target/ and draft/), trained once by `python -m nbhelpers.demo_llm` (its default --out).
# Committed rather than trained on each machine: PyTorch's kernels differ between CPUs, so the same recipe trained
# on two CPUs gives two different models, and every check on the demo would have to hold for models nobody measured.
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


@dataclass
class TrainReport:
    """What a demo build measured: steps, final loss, seconds, and (for a draft) agreement with its target."""

    steps: int
    final_loss: float
    seconds: float
    parameters: int
    extra: dict[str, float] = field(default_factory=dict)


def train_bpe(texts: Iterable[str], vocab_size: int, chat_template: str, extra_special: str | None = None,
              model_max_length: int = 2048) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `texts`; return it with EOS, the chat markers and `chat_template`.

    `extra_special` (for example "<image>") becomes one more special token, named `image_token`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, USER, ASSISTANT, *([extra_special] if extra_special else [])],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS, unk_token=None,
        model_max_length=model_max_length,
        **({"extra_special_tokens": {"image_token": extra_special}} if extra_special else {}),
    )
    fast.chat_template = chat_template
    return fast


def build_tokenizer(corpus: list[Conversation], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `corpus` and return it with a chat template and EOS set."""
    return train_bpe((f"{c.user}\n{c.assistant}" for c in corpus), vocab_size, CHAT_TEMPLATE,
                     model_max_length=COST_SHAPE.max_position_embeddings)


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


def encode_chat(tokenizer: PreTrainedTokenizerFast, conv: Conversation) -> tuple[list[int], list[int]]:
    """Tokenise one conversation; return (input_ids, labels) with -100 on every non-assistant token."""
    prompt = tokenizer.apply_chat_template(conv.as_messages()[:1], tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(conv.assistant + EOS, add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def _batches(
    examples: list[tuple[list[int], list[int]]], batch_size: int, steps: int, pad_id: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(examples), (batch_size,), generator=gen).tolist()
        longest = max(len(examples[i][0]) for i in idx)
        ids = torch.full((batch_size, longest), pad_id)
        labels = torch.full((batch_size, longest), -100)
        mask = torch.zeros((batch_size, longest), dtype=torch.long)
        for row, i in enumerate(idx):
            x, y = examples[i]
            ids[row, : len(x)] = torch.tensor(x)
            labels[row, : len(y)] = torch.tensor(y)
            mask[row, : len(x)] = 1
        yield ids, labels, mask


def _lr(step: int, steps: int, peak: float) -> float:
    warm = max(1, steps // 20)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def train(
    model: LlamaForCausalLM,
    examples: list[tuple[list[int], list[int]]],
    steps: int,
    pad_id: int,
    teacher: LlamaForCausalLM | None = None,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> TrainReport:
    """Train `model` on assistant tokens; with a `teacher`, distil (KL to its logits plus the usual loss).

    Returns a `TrainReport`. `progress(step, loss)` is called after every step if given.
    """
    import torch
    import torch.nn.functional as F

    start = time.perf_counter()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    loss_value = float("nan")
    for step, (ids, labels, mask) in enumerate(_batches(examples, batch_size, steps, pad_id, seed)):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, lr)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        target = labels[:, 1:]
        keep = target != -100
        loss = F.cross_entropy(logits[keep], target[keep])
        if teacher is not None:
            with torch.no_grad():
                teacher_logits = teacher(input_ids=ids, attention_mask=mask).logits[:, :-1][keep]
            kd = F.kl_div(F.log_softmax(logits[keep], -1), F.log_softmax(teacher_logits, -1),
                          log_target=True, reduction="batchmean")
            loss = 0.5 * loss + kd
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()
        if progress is not None:
            progress(step, loss_value)
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    return TrainReport(steps, loss_value, time.perf_counter() - start, n_params)


def token_agreement(draft: LlamaForCausalLM, target: LlamaForCausalLM,
                    examples: list[tuple[list[int], list[int]]]) -> float:
    """Return how often the draft's next-token argmax equals the target's on the answer tokens (0..1)."""
    import torch

    agree = total = 0
    with torch.no_grad():
        for ids, labels in examples:
            x = torch.tensor([ids])
            keep = torch.tensor(labels[1:]) != -100
            a = draft(input_ids=x).logits[0, :-1].argmax(-1)[keep]
            b = target(input_ids=x).logits[0, :-1].argmax(-1)[keep]
            agree += int((a == b).sum())
            total += int(keep.sum())
    return agree / max(1, total)


def save_snapshot(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, out: Path,
                  card: str, report: TrainReport | None = None) -> None:
    """Write `model` and `tokenizer` to `out` as a hub snapshot (safetensors, configs, model card)."""
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 64
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(card, encoding="utf-8")
    if report is not None:
        (out / "training_report.json").write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")


def _card(title: str, body: str) -> str:
    front = "---\nlicense: apache-2.0\nlibrary_name: transformers\ntags: [nbhelpers-demo, offline]\n---\n"
    return f"{front}# {title}\n\n{body}\n"


def build_family(
    target_dir: Path,
    draft_dir: Path,
    target_steps: int = 600,
    draft_steps: int = 400,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[TrainReport, TrainReport]:
    """Build the demo tokenizer, train the target, distil the draft; save both as hub snapshots.

    `progress(phase, step, total)` is called during training. Returns the two `TrainReport`s; the
    draft's `extra["agreement"]` is its next-token agreement with the target on held-out stories.
    """
    train_set = chat_corpus("train", seed=seed)
    heldout = chat_corpus("heldout", seed=seed)
    tokenizer = build_tokenizer(train_set)
    eos = tokenizer.convert_tokens_to_ids(EOS)
    examples = [encode_chat(tokenizer, c) for c in train_set]
    held_examples = [encode_chat(tokenizer, c) for c in heldout]

    def _report(phase: str, total: int) -> Callable[[int, float], None] | None:
        if progress is None:
            return None
        return lambda step, _loss: progress(phase, step + 1, total)

    target = make_llama(TARGET_SHAPE, len(tokenizer), eos, seed)
    t_report = train(target, examples, target_steps, eos, seed=seed, progress=_report("target", target_steps))
    draft = make_llama(DRAFT_SHAPE, len(tokenizer), eos, seed + 1)
    d_report = train(draft, examples, draft_steps, eos, teacher=target, seed=seed + 1,
                     progress=_report("draft", draft_steps))
    d_report.extra["agreement"] = token_agreement(draft, target, held_examples)
    t_report.extra["heldout_loss"] = _mean_loss(target, held_examples)

    save_snapshot(target, tokenizer, target_dir, _card(
        "nbhelpers demo LLM (target)",
        f"A {t_report.parameters / 1e6:.1f} M-parameter Llama-architecture chat model trained for "
        f"{target_steps} steps on the nbhelpers demo corpus (capitals, animal sounds, colours, tiny stories). "
        "It answers prompts like 'What is the capital of France?' and 'Tell me a story about Mia the cat.'",
    ), t_report)
    save_snapshot(draft, tokenizer, draft_dir, _card(
        "nbhelpers demo LLM (draft)",
        f"A {d_report.parameters / 1e6:.1f} M-parameter Llama-architecture draft distilled from the demo target "
        f"(next-token agreement on held-out stories: {d_report.extra['agreement']:.2f}). Shares its tokenizer.",
    ), d_report)
    return t_report, d_report


def _mean_loss(model: LlamaForCausalLM, examples: list[tuple[list[int], list[int]]]) -> float:
    import torch
    import torch.nn.functional as F

    losses = []
    with torch.no_grad():
        for ids, labels in examples:
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
            losses.append(float(F.cross_entropy(logits, torch.tensor(labels[1:]), ignore_index=-100)))
    return sum(losses) / max(1, len(losses))


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
    save_snapshot(model.to(dtype=torch.bfloat16), tokenizer, out, _card(
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
    save_snapshot(big.to(dtype=torch.float16), AutoTokenizer.from_pretrained(source), out, _card(
        "nbhelpers demo LLM, padded to a realistic cost",
        f"The demo target widened and deepened to {n_params / 1e6:.0f} M parameters with zero output projections: "
        "it computes the same logits as the demo target, at the cost of a model of this size. "
        "For timing speculative decoding, where the draft must be much cheaper than the target.",
    ))
    return n_params


def main(argv: list[str] | None = None) -> int:
    """Train the demo family into OUT/target and OUT/draft (about 3 minutes on two cores)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=DATA, help="folder for target/ and draft/ (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for member in ("target", "draft"):
        (args.out / member).mkdir(parents=True, exist_ok=True)
    target, draft = build_family(args.out / "target", args.out / "draft", seed=args.seed,
                                 progress=lambda phase, step, total: print(f"{phase} {step}/{total}", end="\r"))
    print(f"target: loss {target.final_loss:.3f} in {target.seconds:.0f} s; draft agreement "
          f"{draft.extra['agreement']:.2f} in {draft.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

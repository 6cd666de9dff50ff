"""Train the demo LLM family committed in nbhelpers/demos/data/demo-llm: a byte-level BPE tokenizer, a small Llama
target trained on the demo corpus, and a draft distilled from it.

    python -m tools.train_demo_llm [--out nbhelpers/demos/data/demo-llm] [--seed 0]

About 3 minutes on two cores. The result depends on the CPU's kernels: retrain only to change the recipe, then
re-run the checks of the notebooks that use the family (00-04, 07).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from nbhelpers.demos.corpus import Conversation, chat_corpus
from nbhelpers.demos.llm import (
    ASSISTANT,
    CHAT_TEMPLATE,
    COST_SHAPE,
    DATA,
    DRAFT_SHAPE,
    EOS,
    TARGET_SHAPE,
    USER,
    LlamaShape,
    make_llama,
    save_snapshot,
)
from tools.training import TrainReport, lr_at, model_card, optimizer_step, pad_examples, train_bpe

if TYPE_CHECKING:
    import torch
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast


def build_tokenizer(corpus: list[Conversation], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `corpus` and return it with a chat template and EOS set."""
    return train_bpe((f"{c.user}\n{c.assistant}" for c in corpus), vocab_size, CHAT_TEMPLATE, [EOS, USER, ASSISTANT],
                     model_max_length=COST_SHAPE.max_position_embeddings)


def encode_chat(tokenizer: PreTrainedTokenizerFast, conv: Conversation) -> tuple[list[int], list[int]]:
    """Tokenise one conversation; return (input_ids, labels) with -100 on every non-assistant token."""
    prompt = tokenizer.apply_chat_template(conv.as_messages()[:1], tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(conv.assistant + EOS, add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def _batches(examples: list[tuple[list[int], list[int]]], batch_size: int, steps: int, pad_id: int, seed: int
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(examples), (batch_size,), generator=gen).tolist()
        yield pad_examples([examples[i] for i in idx], pad_id)


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
            group["lr"] = lr_at(step, steps, lr)
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
        loss_value = optimizer_step(opt, loss, model)
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


def build_family(
    target_dir: Path,
    draft_dir: Path,
    target_steps: int = 600,
    draft_steps: int = 400,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    target_shape: LlamaShape = TARGET_SHAPE,
    draft_shape: LlamaShape = DRAFT_SHAPE,
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

    target = make_llama(target_shape, len(tokenizer), eos, seed)
    t_report = train(target, examples, target_steps, eos, seed=seed, progress=_report("target", target_steps))
    draft = make_llama(draft_shape, len(tokenizer), eos, seed + 1)
    d_report = train(draft, examples, draft_steps, eos, teacher=target, seed=seed + 1,
                     progress=_report("draft", draft_steps))
    d_report.extra["agreement"] = token_agreement(draft, target, held_examples)
    t_report.extra["heldout_loss"] = _mean_loss(target, held_examples)

    save_snapshot(target, tokenizer, target_dir, model_card(
        "nbhelpers demo LLM (target)",
        f"A {t_report.parameters / 1e6:.1f} M-parameter Llama-architecture chat model trained for "
        f"{target_steps} steps on the nbhelpers demo corpus (capitals, animal sounds, colours, tiny stories). "
        "It answers prompts like 'What is the capital of France?' and 'Tell me a story about Mia the cat.'",
    ), asdict(t_report))
    save_snapshot(draft, tokenizer, draft_dir, model_card(
        "nbhelpers demo LLM (draft)",
        f"A {d_report.parameters / 1e6:.1f} M-parameter Llama-architecture draft distilled from the demo target "
        f"(next-token agreement on held-out stories: {d_report.extra['agreement']:.2f}). Shares its tokenizer.",
    ), asdict(d_report))
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

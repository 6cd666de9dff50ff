"""Pieces the demo training programs share: a report, the learning-rate schedule, batch padding, model cards and
the byte-level BPE tokenizer recipe (model cards come from nbhelpers.demos.model_card)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import model_card  # noqa: F401  (re-exported: one card format for committed and built demos)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerFast


@dataclass
class TrainReport:
    """What a training run measured: steps, final loss, seconds, parameters, and anything else in `extra`."""

    steps: int
    final_loss: float
    seconds: float
    parameters: int
    extra: dict[str, float] = field(default_factory=dict)


def lr_at(step: int, steps: int, peak: float) -> float:
    """Return the learning rate at `step` of `steps`: linear warm-up over the first 5 %, then cosine decay to 0."""
    warm = max(1, steps // 20)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, model: torch.nn.Module) -> float:
    """Back-propagate `loss`, clip the gradient norm to 1 and take one optimizer step; return the loss value."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


def pad_examples(examples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad (input_ids, labels) pairs to the longest; return (ids, labels, attention_mask) tensors.

    Padding is `pad_id` in the ids, -100 (ignored by the loss) in the labels and 0 in the mask.
    """
    import torch

    longest = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), longest), pad_id)
    labels = torch.full((len(examples), longest), -100)
    mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for row, (x, y) in enumerate(examples):
        ids[row, : len(x)] = torch.tensor(list(x))
        labels[row, : len(y)] = torch.tensor(list(y))
        mask[row, : len(x)] = 1
    return ids, labels, mask


def weighted_loss(model: torch.nn.Module, rows: Sequence[tuple[Sequence[int], Sequence[int], Sequence[float]]],
                  pad_id: int) -> torch.Tensor:
    """Return the next-token cross-entropy of a causal LM on (input_ids, labels, weights) rows, padded into one
    batch: each label's loss times its weight, summed, over the weights' sum (labels -100 are left out)."""
    import torch
    import torch.nn.functional as F

    ids, labels, mask = pad_examples([(r[0], r[1]) for r in rows], pad_id)
    weights = torch.zeros(labels.shape)
    for i, r in enumerate(rows):
        weights[i, : len(r[2])] = torch.tensor(list(r[2]))
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    target, w = labels[:, 1:], weights[:, 1:]
    keep = target != -100
    return (F.cross_entropy(logits[keep], target[keep], reduction="none") * w[keep]).sum() / w[keep].sum()


def train_bpe(texts: Iterable[str], vocab_size: int, chat_template: str, special: Sequence[str],
              extra_special: str | None = None, model_max_length: int = 2048) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `texts`; return it with `special` tokens (the first is EOS, also used for
    BOS and padding) and `chat_template`.

    `extra_special` (for example "<image>") becomes one more special token, named `image_token`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*special, *([extra_special] if extra_special else [])],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    eos = special[0]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=eos, bos_token=eos, pad_token=eos, unk_token=None,
        model_max_length=model_max_length,
        **({"extra_special_tokens": {"image_token": extra_special}} if extra_special else {}),
    )
    fast.chat_template = chat_template
    return fast


def publish(partial: Path, out: Path, report: dict[str, Any], card: str) -> None:
    """Write `report` (training_report.json) and `card` (README.md) into the finished snapshot `partial`, then put it
    in place of `out`: a run cut short never leaves a folder at `out` that looks complete."""
    import json
    import shutil

    (partial / "training_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (partial / "README.md").write_text(card, encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)


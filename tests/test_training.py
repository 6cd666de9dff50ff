"""Pieces the training programs share (tools/training.py)."""

from __future__ import annotations

import pytest


def test_weighted_loss_is_the_mean_loss_with_equal_weights_and_leaves_out_what_has_no_weight() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tools.training import pad_examples, weighted_loss

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    rows = [([1, 2, 3, 4, 5], [-100, -100, 3, 4, 5], [0, 0, 1, 1, 1]), ([6, 7, 8], [-100, 7, 8], [0, 1, 1])]
    ids, labels, mask = pad_examples([(r[0], r[1]) for r in rows], 0)
    with torch.no_grad():
        mean = model(input_ids=ids, attention_mask=mask, labels=labels).loss  # Hugging Face's own mean
        assert weighted_loss(model, rows, 0).item() == pytest.approx(mean.item(), rel=1e-5)
        heavy = [(i, lab, [0, 0, 5, 1, 1]) if len(i) == 5 else (i, lab, w) for i, lab, w in rows]
        assert weighted_loss(model, heavy, 0).item() != pytest.approx(mean.item(), rel=1e-3)
        only_first = [rows[0], (rows[1][0], rows[1][1], [0, 0, 0])]  # a row of zero weights counts for nothing
        alone = weighted_loss(model, [rows[0]], 0).item()
        assert weighted_loss(model, only_first, 0).item() == pytest.approx(alone, rel=1e-5)

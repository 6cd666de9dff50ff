from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from nbhelpers.corpus import Conversation
from nbhelpers.quality import answer_log_probs, encode_conversation, kl_divergence, perplexity

VOCAB = 5


class FakeTokenizer:
    """Characters as tokens, chat template = 'U:' + user [+ 'A:' + answer]."""

    def apply_chat_template(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        text = "U" + messages[0]["content"]
        return text + ("A" + messages[1]["content"] if len(messages) > 1 else "A")

    def encode(self, text: str, add_special_tokens: bool) -> SimpleNamespace:
        ids = np.array([[ord(c) % VOCAB for c in text]], dtype=np.int64)
        return SimpleNamespace(input_ids=SimpleNamespace(data=ids))


class UniformRequest:
    def __init__(self) -> None:
        self.resets = 0

    def reset_state(self) -> None:
        self.resets += 1

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = inputs["input_ids"].shape[1]
        assert inputs["position_ids"].tolist() == [list(range(n))]
        return {"logits": np.zeros((1, n, VOCAB), np.float32)}


def test_encode_marks_where_the_answer_starts() -> None:
    ids, start = encode_conversation(FakeTokenizer(), Conversation("hi", "yes"))
    assert ids.shape == (1, len("UhiAyes")) and start == len("UhiA")


def test_uniform_model_has_perplexity_of_the_vocabulary_and_zero_kl() -> None:
    request, convs = UniformRequest(), [Conversation("a", "bc"), Conversation("dd", "e")]
    scored = answer_log_probs(request, FakeTokenizer(), convs)
    assert request.resets == 2 and [lp.shape for lp, _ in scored] == [(2, VOCAB), (1, VOCAB)]
    assert perplexity(scored) == pytest.approx(VOCAB)
    assert kl_divergence(scored, scored) == 0.0


def test_kl_grows_with_the_difference_and_checks_shapes() -> None:
    ref = [(np.log(np.full((1, 2), 0.5)), np.array([0]))]
    near = [(np.log(np.array([[0.6, 0.4]])), np.array([0]))]
    far = [(np.log(np.array([[0.9, 0.1]])), np.array([0]))]
    assert 0 < kl_divergence(ref, near) < kl_divergence(ref, far)
    with pytest.raises(ValueError, match="same conversations"):
        kl_divergence(ref, ref + ref)

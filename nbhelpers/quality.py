"""Quality of an OpenVINO LLM against a reference, from its own logits on held-out conversations.

Used to compare compressed variants with fp16: the log-probabilities the model gives to every answer
token, the perplexity they imply, and the KL divergence of its next-token distributions from the
reference's (more sensitive than perplexity when the text itself barely changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nbhelpers.demos.corpus import Conversation


def encode_conversation(tokenizer: Any, conversation: Conversation) -> tuple[np.ndarray, int]:
    """Return the token ids of prompt + answer (shape [1, n]) and the index where the answer starts.

    `tokenizer` is an `openvino_genai.Tokenizer`; the chat template is applied as `LLMPipeline` would.
    """
    prompt = tokenizer.apply_chat_template(conversation.as_messages()[:1], add_generation_prompt=True)
    full = tokenizer.apply_chat_template(conversation.as_messages(), add_generation_prompt=False)
    ids = tokenizer.encode(full, add_special_tokens=False).input_ids.data.copy()
    return ids, tokenizer.encode(prompt, add_special_tokens=False).input_ids.data.shape[1]


def answer_log_probs(request: Any, tokenizer: Any, conversations: Sequence[Conversation]
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run each conversation through a stateful LLM `InferRequest` in one pass.

    Returns, per conversation, (log-probabilities over the vocabulary at every answer position
    [answer tokens, vocab], the answer's token ids). The request's state is reset for each one.
    """
    result = []
    for conversation in conversations:
        ids, start = encode_conversation(tokenizer, conversation)
        n = ids.shape[1]
        request.reset_state()
        logits = request.infer({"input_ids": ids, "attention_mask": np.ones_like(ids),
                                "position_ids": np.arange(n)[None], "beam_idx": np.zeros(1, np.int32)})["logits"]
        logits = logits[0, start - 1:n - 1].astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        result.append((logits - np.log(np.exp(logits).sum(-1, keepdims=True)), ids[0, start:]))
    return result


def decode_log_probs(request: Any, tokenizer: Any, conversations: Sequence[Conversation]
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Like `answer_log_probs`, but the answer goes in one token at a time, as in decoding, so that the KV-cache's
    precision shapes the predictions (one pass never reads the cache). Returns (log-probabilities, answer ids) per
    conversation."""

    def step(ids: np.ndarray, past: int) -> np.ndarray:
        n = ids.shape[1]
        return request.infer({"input_ids": ids, "attention_mask": np.ones((1, past + n), np.int64),
                              "position_ids": np.arange(past, past + n)[None], "beam_idx": np.zeros(1, np.int32)}
                             )["logits"][0, -1].astype(np.float64)

    result = []
    for conversation in conversations:
        ids, start = encode_conversation(tokenizer, conversation)
        request.reset_state()
        first = step(ids[:, :start], 0)  # the prompt first, then each answer token after the one before
        logits = np.stack([first, *(step(ids[:, t:t + 1], t) for t in range(start, ids.shape[1] - 1))])
        logits -= logits.max(-1, keepdims=True)
        result.append((logits - np.log(np.exp(logits).sum(-1, keepdims=True)), ids[0, start:]))
    return result


def perplexity(scored: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """Return the perplexity of the answer tokens from `answer_log_probs` output."""
    nll = -sum(float(lp[np.arange(len(t)), t].sum()) for lp, t in scored)
    return float(np.exp(nll / sum(len(t) for _, t in scored)))


def kl_divergence(reference: Sequence[tuple[np.ndarray, np.ndarray]],
                  other: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """Return the mean KL(reference || other) of next-token distributions over all answer positions.

    Raises ValueError if the two were not computed on the same conversations.
    """
    if len(reference) != len(other) or any(r.shape != o.shape for (r, _), (o, _) in zip(reference, other, strict=True)):
        raise ValueError("reference and other must come from the same conversations and vocabulary")
    pairs = zip(reference, other, strict=True)
    return float(np.mean([(np.exp(r) * (r - o)).sum(-1).mean() for (r, _), (o, _) in pairs]))

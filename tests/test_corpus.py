from __future__ import annotations

import pytest

from nbhelpers.demos.corpus import chat_corpus, demo_prompts


def test_corpus_is_deterministic_and_splits_are_disjoint() -> None:
    train, held = chat_corpus("train"), chat_corpus("heldout")
    assert train == chat_corpus("train") and len(train) > 300 and len(held) > 30
    story_prompts = lambda convs: {c.user for c in convs if "story" in c.user}  # noqa: E731
    pairs = lambda convs: {tuple(u.rstrip(".?").split()[-3::2]) for u in story_prompts(convs)}  # noqa: E731
    assert not pairs(train) & pairs(held)
    assert all(c.assistant.endswith(".") for c in train + held)
    assert train[0].as_messages()[1]["role"] == "assistant"


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="unknown split"):
        chat_corpus("test")  # type: ignore[arg-type]


def test_demo_prompts_include_heldout_stories() -> None:
    prompts = demo_prompts()
    held = {c.user for c in chat_corpus("heldout")}
    assert "What is the capital of France?" in prompts and any(p in held for p in prompts)

"""The long-context demo's task: prompts of a requested size with the fact at a requested depth, later turns."""

from __future__ import annotations

import random

import pytest

from nbhelpers.demos.long_corpus import THINGS, fact, follow_up, haystack, is_right


def count(text: str) -> int:  # a stand-in tokenizer: one token per word
    return len(text.split())


@pytest.mark.parametrize("tokens", [60, 300, 1500])
def test_a_prompt_has_about_the_size_asked_and_one_question_at_the_end(tokens: int) -> None:
    ex = haystack(random.Random(0), count, tokens, 0.5)
    assert tokens - 12 <= ex.tokens <= tokens  # whole sentences: up to one sentence short
    assert ex.user.endswith(f"\nWhat does {ex.name} keep?") and ex.user.count("?") == 1
    assert ex.user.count(fact(ex.name, ex.thing)) == 1 and ex.user.count(" keeps") + ex.user.startswith("keeps") == 1


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_the_fact_asked_about_sits_at_its_depth(depth: float) -> None:
    for seed in range(5):
        ex = haystack(random.Random(seed), count, 800, depth)
        body = ex.user.rsplit("\n", 1)[0]
        where = body.index(ex.answer) / max(1, len(body) - len(ex.answer))
        assert abs(where - depth) < 0.05, (depth, where)


def test_a_later_turn_is_stories_and_the_same_question_without_the_fact() -> None:
    ex = haystack(random.Random(3), count, 300, 0.3)
    later = follow_up(random.Random(4), count, 100, ex)
    assert 88 <= count(later) <= 100 and later.endswith(f"\nWhat does {ex.name} keep?")
    assert " keeps" not in later and later.count("?") == 1


def test_prompts_are_deterministic_in_the_seed_and_depth_is_checked() -> None:
    assert haystack(random.Random(7), count, 400, 0.2) == haystack(random.Random(7), count, 400, 0.2)
    with pytest.raises(ValueError, match="outside 0-1"):
        haystack(random.Random(0), count, 400, 1.5)


def test_an_answer_is_right_only_with_the_fact_asked_about() -> None:
    ex = haystack(random.Random(1), count, 200, 0.5)
    wrong = next(t for t in THINGS if t != ex.thing)
    assert is_right(ex, f" {ex.name} keeps  {ex.thing}. ")
    assert not is_right(ex, fact(ex.name, wrong))
    assert not is_right(ex, f"{ex.answer} {fact(ex.name, wrong)}")  # both: not an answer
    assert not is_right(ex, f"Somebody keeps {ex.thing}.")


def test_training_chats_learn_each_answer_and_a_little_of_the_stories() -> None:
    from transformers import AutoTokenizer

    from nbhelpers.demos import committed_dir
    from nbhelpers.demos.llm import EOS
    from tools.train_demo_llm_long import COPY_WEIGHT, STORY_WEIGHT, encode

    tokenizer = AutoTokenizer.from_pretrained(committed_dir("nbhelpers/demo-llm"))
    ex = haystack(random.Random(0), count, 120, 0.5)
    later = follow_up(random.Random(1), count, 60, ex)
    ids, labels, weights = encode(tokenizer, ex, [later])
    assert len(ids) == len(labels) == len(weights)
    assert tokenizer.decode(ids) == tokenizer.apply_chat_template(
        [*ex.as_messages(), {"role": "assistant", "content": ex.answer}, {"role": "user", "content": later},
         {"role": "assistant", "content": ex.answer}], tokenize=False)
    answers = [t for t, w in zip(labels, weights, strict=True) if w >= 1]
    assert tokenizer.decode(answers) == 2 * (ex.answer + EOS + "\n")  # each turn's answer, in full
    heavy = [t for t, w in zip(labels, weights, strict=True) if w == COPY_WEIGHT]
    assert tokenizer.decode(heavy) == 2 * f" {ex.thing}"  # the weight is on the object
    stories = [t for t, w in zip(labels, weights, strict=True) if w == STORY_WEIGHT]
    assert tokenizer.decode(stories) == ex.user.rsplit("\n", 1)[0] + later.rsplit("\n", 1)[0]
    assert all(label == -100 for label, w in zip(labels, weights, strict=True) if w == 0)


def test_the_card_tabulates_the_grade() -> None:
    from tools.train_demo_llm_long import card

    grade = {"256": {"0": 1.0, "1": 0.5}, "2048": {"0": 0.25, "1": 0.0}}
    text = card({"parameters_m": 2.26, "steps": 10, "batch_tokens": 4096, "seed": 0, "minutes": 1.0,
                 "max_tokens_trained": 1536, "per_cell": 8, "grade_f32": grade, "grade_f32_three_turn_chat": 0.75})
    assert "| tokens | 0 | 1 |" in text and "| 256 | 100% | 50% |" in text and "| 2048 | 25% | 0% |" in text
    assert "question each time): 75%." in text

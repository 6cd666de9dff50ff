from __future__ import annotations

import pytest

from nbhelpers.errors import EmptyPromptError
from nbhelpers.prompts import check_prompt, distinct_prompts


def test_check_prompt() -> None:
    assert check_prompt("hi") == "hi"
    for bad in ["", "   \n"]:
        with pytest.raises(EmptyPromptError, match="the prompt is empty"):
            check_prompt(bad)
    with pytest.raises(TypeError):
        check_prompt(None)  # type: ignore[arg-type]


def test_distinct_prompts_have_the_length_and_no_shared_first_word() -> None:
    count_words = lambda s: len(s.split())  # noqa: E731
    prompts = distinct_prompts(count_words, 40, 6, seed=1)
    assert len(prompts) == 6
    assert all(38 <= count_words(p) <= 40 for p in prompts)
    assert len({p.split()[0] for p in prompts}) == 6
    assert prompts == distinct_prompts(count_words, 40, 6, seed=1)
    with pytest.raises(ValueError):
        distinct_prompts(count_words, 0, 1)

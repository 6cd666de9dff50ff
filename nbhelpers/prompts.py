"""Prompts for measuring: checked for emptiness, and unique from their first word.

GenAI reuses the KV-cache of a prompt prefix it has already processed, so timing prompt processing
(TTFT) with the same prompt twice measures the cache, not the model. `distinct_prompts` makes prompts
of a given token length that differ from their first word (within one call; use another seed for
another set), so no two share a cached block of tokens.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from nbhelpers.demos.corpus import CAPITALS, COLOURS, NAMES, OBJECTS, PLACES, SOUNDS
from nbhelpers.errors import EmptyPromptError

_WORDS = sorted({w.strip(".,").lower() for text in [*CAPITALS, *CAPITALS.values(), *SOUNDS, *SOUNDS.values(),
                                                     *COLOURS, *COLOURS.values(), *NAMES, *OBJECTS, *PLACES]
                 for w in text.split()})


def check_prompt(prompt: str) -> str:
    """Return `prompt` unchanged; raise EmptyPromptError if it is empty or only white space."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, not {type(prompt).__name__}")
    if not prompt.strip():
        raise EmptyPromptError("the prompt is empty: type a question or some text to continue")
    return prompt


def distinct_prompts(count_tokens: Callable[[str], int], n_tokens: int, count: int, seed: int = 0) -> list[str]:
    """Return `count` prompts of about `n_tokens` tokens each (as `count_tokens` counts), different from the first word.

    `count_tokens` is any callable that tokenises a string and returns its length, e.g.
    `lambda s: len(hf_tokenizer(s).input_ids)`. Raises ValueError if n_tokens < 1 or count < 1.
    """
    if n_tokens < 1 or count < 1:
        raise ValueError("n_tokens and count must be at least 1")
    rng = random.Random(seed)
    prompts: list[str] = []
    firsts = rng.sample(_WORDS, k=min(count, len(_WORDS)))
    for i in range(count):
        first = firsts[i] if i < len(firsts) else f"{rng.choice(_WORDS)}{i}"
        words = [first]
        while count_tokens(" ".join(words)) < n_tokens:
            words.extend(rng.choice(_WORDS) for _ in range(max(1, (n_tokens - count_tokens(" ".join(words))) // 3)))
        while len(words) > 1 and count_tokens(" ".join(words)) > n_tokens:
            words.pop()
        prompts.append(" ".join(words))
    return prompts

"""The long-context demo's task: one fact hidden in long filler text, then a question about it (a needle in a
haystack).

A prompt of `nbhelpers/demo-llm-long` is a user message of stories from the demo corpus (names, animals, places, the
objects they find) with one fact put between two of its sentences, "Mia keeps golden coins.", and a last line asking
about it: "What does Mia keep?". The answer is the fact again. The stories mention the same names and objects ("One
day Mia found a golden coin."), but never with "keeps", so the fact is found by what it says. A chat can go on with
turns of more stories and the same question (`follow_up`): the fact then sits in an earlier turn. Deterministic in
the seed; graded exactly (the answer holds the fact's sentence, and no other object for that name).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from nbhelpers.demos.corpus import NAMES, SOUNDS, _story

__all__ = ["THINGS", "LongExample", "fact", "filler", "follow_up", "haystack", "is_right", "question"]

# What the facts say a name keeps: the stories' objects, in the plural (no article, so the fact's wording is its own).
THINGS = ("shiny keys", "blue boxes", "lost hats", "tiny maps", "golden coins", "warm scarves", "paper boats",
          "small bells")


@dataclass(frozen=True)
class LongExample:
    """One prompt: the user message, the fact asked about, where it sits (0 = start, 1 = end) and the prompt's size."""

    user: str
    name: str
    thing: str
    depth: float
    tokens: int

    @property
    def answer(self) -> str:
        return fact(self.name, self.thing)

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.user}]


def fact(name: str, thing: str) -> str:
    """The sentence that states the fact, and the answer that repeats it."""
    return f"{name} keeps {thing}."


def question(name: str) -> str:
    return f"What does {name} keep?"


def filler(rng: random.Random, count: Callable[[str], int], tokens: int) -> list[str]:
    """Return whole sentences of the demo's stories, as many as fit in `tokens` (as `count` counts them)."""
    sentences: list[str] = []
    used = 0
    while True:
        story = _story(rng, rng.choice(NAMES), rng.choice(list(SOUNDS)))
        for part in (p if p.endswith(".") else p + "." for p in story.split(". ")):
            cost = count(" " + part)
            if used + cost > tokens:
                return sentences
            sentences.append(part)
            used += cost


def haystack(rng: random.Random, count: Callable[[str], int], tokens: int, depth: float) -> LongExample:
    """Return a prompt of about `tokens` tokens (as `count` counts them) whose fact sits at `depth` (0-1) of its
    sentences. Raises ValueError for a depth outside 0-1."""
    if not 0 <= depth <= 1:
        raise ValueError(f"depth {depth} is outside 0-1: 0 puts the fact first, 1 last")
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    budget = tokens - count(" " + fact(name, thing)) - count("\n" + question(name))
    sentences = filler(rng, count, budget)
    sentences.insert(round(depth * len(sentences)), fact(name, thing))
    user = " ".join(sentences) + "\n" + question(name)
    return LongExample(user, name, thing, depth, count(user))


def follow_up(rng: random.Random, count: Callable[[str], int], tokens: int, example: LongExample) -> str:
    """Return a later user turn of a chat that began with `example`: about `tokens` tokens of more stories (no fact)
    and the same question."""
    q = "\n" + question(example.name)
    return " ".join(filler(rng, count, tokens - count(q))) + q


def is_right(example: LongExample, answer: str) -> bool:
    """True when `answer` states the fact asked about (and no other thing for that name)."""
    said = " ".join(answer.split())
    return example.answer in said and not any(fact(example.name, t) in said for t in THINGS if t != example.thing)

"""The long-context demo's task: facts hidden in long filler text, then a question about one of them.

A prompt of `nbhelpers/demo-llm-long` is a user message of stories from the demo corpus (names, animals, places, the
objects they find) with a few facts put between its sentences, "Mia keeps a golden coin.", one name per fact, and a
last line asking about one of them: "What does Mia keep?". The answer is the fact again. The stories mention the
same names and objects with other verbs ("One day Mia found a tiny map."), so the fact is found by what it says, not
by its words alone. Deterministic in the seed; graded exactly (the answer holds the fact's sentence).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from nbhelpers.demos.corpus import NAMES, OBJECTS, SOUNDS, _story

__all__ = ["LongExample", "haystack", "is_right"]


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
    """The sentence that states a fact, and the answer that repeats it."""
    return f"{name} keeps {thing}."


def question(name: str) -> str:
    return f"What does {name} keep?"


def haystack(rng: random.Random, count: Callable[[str], int], tokens: int, depth: float, n_facts: int = 3
             ) -> LongExample:
    """Return a prompt of about `tokens` tokens (as `count` counts them) whose asked fact sits at `depth` (0-1).

    The other facts (`n_facts` in all, each a different name and object) go at random depths. The filler is whole
    stories, so a fact never splits a sentence.
    """
    if not 0 <= depth <= 1:
        raise ValueError(f"depth {depth} is outside 0-1: 0 puts the fact first, 1 last")
    names, things = rng.sample(NAMES, n_facts), rng.sample(OBJECTS, n_facts)
    facts = [fact(n, t) for n, t in zip(names, things, strict=True)]
    budget = tokens - sum(count(" " + f) for f in facts) - count("\n" + question(names[0]))
    sentences: list[str] = []
    used = 0
    while True:
        story = _story(rng, rng.choice(NAMES), rng.choice(list(SOUNDS)))
        for part in (p if p.endswith(".") else p + "." for p in story.split(". ")):
            cost = count(" " + part)
            if used + cost > budget:
                break
            sentences.append(part)
            used += cost
        else:
            continue
        break
    slots = [round(depth * len(sentences))] + [rng.randint(0, len(sentences)) for _ in facts[1:]]
    for slot, sentence in sorted(zip(slots, facts, strict=True), key=lambda p: -p[0]):
        sentences.insert(slot, sentence)
    user = " ".join(sentences) + "\n" + question(names[0])
    return LongExample(user, names[0], things[0], depth, count(user))


def is_right(example: LongExample, answer: str) -> bool:
    """True when `answer` states the fact asked about (and no other object for that name)."""
    said = " ".join(answer.split())
    return example.answer in said and not any(fact(example.name, t) in said for t in OBJECTS if t != example.thing)

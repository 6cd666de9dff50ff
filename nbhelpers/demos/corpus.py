"""A small chat corpus that the project generates itself, so demo models can be trained offline.

The corpus is deterministic: the same seed always gives the same conversations. It holds short
facts (capitals, animal sounds, colours), tiny stories built from parts, and a few sentences about
OpenVINO. Some story combinations are kept out of the training split so lessons can measure quality
(perplexity, answer agreement) on text the model never saw.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Literal

CAPITALS: dict[str, str] = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
    "Poland": "Warsaw", "Austria": "Vienna", "Greece": "Athens", "Norway": "Oslo", "Sweden": "Stockholm",
    "Finland": "Helsinki", "Denmark": "Copenhagen", "Ireland": "Dublin", "Egypt": "Cairo", "Kenya": "Nairobi",
    "Japan": "Tokyo", "China": "Beijing", "India": "New Delhi", "Canada": "Ottawa", "Mexico": "Mexico City",
    "Peru": "Lima", "Chile": "Santiago", "Brazil": "Brasilia", "Australia": "Canberra", "Turkey": "Ankara",
}
SOUNDS: dict[str, str] = {
    "dog": "woof", "cat": "meow", "cow": "moo", "duck": "quack", "sheep": "baa", "lion": "roar",
    "owl": "hoot", "horse": "neigh", "frog": "ribbit", "bee": "buzz", "pig": "oink", "mouse": "squeak",
}
COLOURS: dict[str, str] = {
    "sky": "blue", "grass": "green", "snow": "white", "sun": "yellow", "night": "black", "sea": "blue",
    "banana": "yellow", "tomato": "red", "carrot": "orange", "coal": "black", "leaf": "green", "cloud": "white",
}
OPENVINO_FACTS: list[tuple[str, str]] = [
    ("What is OpenVINO?", "OpenVINO is a toolkit that makes AI models run fast on Intel hardware."),
    ("What is a KV cache?", "A KV cache keeps the keys and values of past tokens so each new token is cheap."),
    ("Why compress weights?", "Smaller weights use less memory and move faster, so generation gets quicker."),
    ("What is speculative decoding?", "A small draft model guesses tokens and the big model checks them in one step."),
    ("What is a LoRA adapter?", "A LoRA adapter is a small add-on that changes the style of a model."),
    ("What is an NPU?", "An NPU is a chip made to run neural networks with little power."),
]
NAMES = ["Mia", "Leo", "Ada", "Tom", "Zoe", "Max", "Eva", "Sam", "Ivy", "Ben", "Lily", "Otto"]
PLACES = ["in a small house", "by the river", "in a big forest", "on a green hill", "near the sea",
          "in a quiet town", "under an old bridge", "in a sunny garden"]
HABITS = ["ate a red apple", "sang a happy song", "ran to the big tree", "read a short book",
          "looked at the clouds", "drank fresh water"]
OBJECTS = ["a shiny key", "a blue box", "a lost hat", "a tiny map", "a golden coin", "a warm scarf",
           "a paper boat", "a small bell"]
ENDINGS = ["{n} shared it with friends and everyone was happy.", "{n} kept it safe and smiled all day.",
           "{n} gave it back to its owner and made a new friend.", "{n} took it home and told the story at dinner.",
           "{n} hid it under the bed and went to sleep.", "{n} showed it to the family and they laughed together."]
STORY_PROMPTS = ["Tell me a story about {n} the {a}.", "Write a short story about {n} the {a}.",
                 "Can you tell a story about {n} the {a}?"]

Split = Literal["train", "heldout"]


@dataclass(frozen=True)
class Conversation:
    """One user turn and the assistant's answer."""

    user: str
    assistant: str

    def as_messages(self) -> list[dict[str, str]]:
        """Return the turn as chat messages (for `tokenizer.apply_chat_template`)."""
        return [{"role": "user", "content": self.user}, {"role": "assistant", "content": self.assistant}]


def _story(rng: random.Random, name: str, animal: str) -> str:
    return " ".join([
        f"{name} the {animal} lived {rng.choice(PLACES)}.",
        f"Every morning {name} {rng.choice(HABITS)}.",
        f"One day {name} found {rng.choice(OBJECTS)}.",
        rng.choice(ENDINGS).format(n=name),
    ])


def _is_heldout_story(name: str, animal: str) -> bool:
    # A fixed, seed-independent rule: about one name/animal pair in seven is never trained on.
    return (NAMES.index(name) * 5 + list(SOUNDS).index(animal)) % 7 == 3


def chat_corpus(split: Split = "train", seed: int = 0, stories_per_pair: int = 3) -> list[Conversation]:
    """Return the demo chat corpus.

    `train` holds every fact question (several phrasings) and stories for most name/animal pairs;
    `heldout` holds stories for the pairs the training split never contains. Deterministic in `seed`.
    Raises ValueError for an unknown split.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"unknown split {split!r}: use 'train' or 'heldout'")
    rng = random.Random(f"{seed}-{split}")
    convs: list[Conversation] = []
    if split == "train":
        for country, capital in CAPITALS.items():
            answer = f"The capital of {country} is {capital}."
            convs.append(Conversation(f"What is the capital of {country}?", answer))
            convs.append(Conversation(f"Name the capital city of {country}.", answer))
        for animal, sound in SOUNDS.items():
            convs.append(Conversation(f"What sound does a {animal} make?", f"A {animal} says {sound}."))
        for thing, colour in COLOURS.items():
            convs.append(Conversation(f"What color is the {thing}?", f"The {thing} is {colour}."))
        convs.extend(Conversation(q, a) for q, a in OPENVINO_FACTS)
    for name, animal in itertools.product(NAMES, SOUNDS):
        if _is_heldout_story(name, animal) != (split == "heldout"):
            continue
        for _ in range(stories_per_pair):
            prompt = rng.choice(STORY_PROMPTS).format(n=name, a=animal)
            convs.append(Conversation(prompt, _story(rng, name, animal)))
    rng.shuffle(convs)
    return convs


def demo_prompts() -> list[str]:
    """Return a fixed set of prompts the demo LLM answers readably (facts and held-out stories)."""
    held = [c.user for c in chat_corpus("heldout")[:3]]
    return ["What is the capital of France?", "What sound does a cow make?", "What is OpenVINO?", *held]

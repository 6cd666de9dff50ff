"""The tool-calling demo's world: two tools, a chat template that offers them, and the conversations it learns from.

`nbhelpers/demo-llm-tools` is the demo target fine-tuned (same tokenizer) to call functions the way Qwen3 does: the
tools are listed in the prompt, a call is `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (the Hermes
format: OVMS's `hermes3` parser and, one call at a time, GenAI's `Llama3JsonToolParser` read it), a tool's result
comes back in a `tool` message, and a short `<think>` section opens each answer unless `enable_thinking` is false.
Deterministic in its seed. The held-out split's cities, numbers and phrasings are in no tool example of the training
split, so its grade measures whether the model copies arguments and reads questions, not whether it remembers them.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nbhelpers.demos.corpus import CAPITALS, Conversation, chat_corpus
from nbhelpers.demos.llm import ASSISTANT, EOS, USER
from nbhelpers.tool_calls import CALL_START, parse_hermes, split_reasoning

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "calculator", "description": "Compute a op b.",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "number"}, "b": {"type": "number"},
            "op": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]}},
            "required": ["a", "b", "op"]}}},
]

# Qwen3's roles and tags, with the tools written as one signature a line (Qwen3 writes each tool's JSON: about 500
# tokens more per prompt for this demo's byte-level tokenizer). Newlines are written as '\n' strings because both
# Hugging Face and GenAI render templates with trim_blocks (a newline after a block tag is dropped).
NL = "{{ '\\n' }}"
CHAT_TEMPLATE = (
    "{%- if tools -%}# Tools" + NL
    + "{%- for t in tools -%}{%- set f = t['function'] if t['function'] is defined else t -%}{{ f['name'] }}("
    "{%- for k, p in f['parameters']['properties'].items() -%}{{ k ~ ': ' }}"
    "{%- if p['enum'] is defined -%}{%- for e in p['enum'] -%}\"{{ e }}\"{%- if not loop.last %} | {% endif -%}"
    "{%- endfor -%}{%- else -%}{{ p['type'] }}{%- endif -%}{%- if not loop.last %}, {% endif -%}{%- endfor -%}"
    "): {{ f['description'] }}" + NL + "{%- endfor -%}"
    "Call a tool as <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>." + NL
    + "{%- endif -%}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}" + USER + NL + "{{ m['content'] }}" + NL
    + "{%- elif m['role'] == 'tool' -%}" + USER + NL + "<tool_response>" + NL + "{{ m['content'] }}" + NL
    + "</tool_response>" + NL
    + "{%- elif m['role'] == 'assistant' -%}" + ASSISTANT + NL + "{{ m['content'] or '' }}"
    "{%- for c in m['tool_calls'] or [] -%}{%- set f = c['function'] if c['function'] is defined else c -%}"
    "<tool_call>" + NL + "{\"name\": \"{{ f['name'] }}\", \"arguments\": "
    "{%- if f['arguments'] is string %} {{ f['arguments'] }}{%- else %} {{ f['arguments'] | tojson }}{%- endif -%}"
    "}" + NL + "</tool_call>{%- endfor -%}" + EOS + NL
    + "{%- else -%}{{ m['content'] }}" + NL + "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}" + ASSISTANT + NL
    + "{%- if enable_thinking is defined and not enable_thinking -%}<think>" + NL + NL + "</think>" + NL + NL
    + "{%- endif -%}{%- endif -%}"
)

# Cities. The demo corpus's capitals are single tokens after a space (" Oslo") but spelt in pieces inside JSON
# quotes ('"', 'O', 'slo'): a model that never saw a capital spelt cannot write it as an argument, so they are all
# training cities (the notebook asks about Paris), not a test of copying. The held-out cities are spelt in the same
# pieces in the question and in the call (" Bergen" -> 'ĠB', 'er', 'g', 'en'; '"Bergen"' -> 'B', 'er', 'g', 'en'),
# never appear in a tool example of the training split and their pieces do, in made-up names: thousands of them, too
# many to remember, so the model has to copy the name from the question.
HELDOUT_CITIES = ["Bergen", "Porto", "Kyoto", "Geneva", "Munich", "Krakow", "Denver", "Naples"]
CITIES = [c for c in CAPITALS.values() if " " not in c] + ["Boston", "Osaka", "Lyon", "Seville", "Milan", "Perth",
                                                           "Cork", "Malmo", "Hobart", "Quebec"]
CONSONANTS, VOWELS = "bcdfghjklmnprstvwz", "aeiouy"
PIECES = ["er", "g", "en", "ort", "o", "yo", "to", "e", "ne", "va", "un", "i", "ch", "ra", "k", "ow", "ver", "ap",
          "l", "es", "an", "il", "al", "m", "in", "ta", "ri", "mo", "lu", "sa", "do", "ven", "tor", "bel", "ost", "ka"]


def made_up_city(rng: random.Random) -> str:
    """Return a made-up city name of two or three syllables, capitalised (for training only)."""
    while True:
        if rng.random() < 0.5:  # consonant-vowel syllables ...
            name = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) + rng.choice(["", "", rng.choice(CONSONANTS)])
                           for _ in range(rng.choice((2, 3))))
        else:  # ... or pieces the held-out cities are spelt with, among others
            name = rng.choice(CONSONANTS + VOWELS) + "".join(rng.choice(PIECES) for _ in range(rng.choice((2, 3))))
        name = name.capitalize()
        if name not in HELDOUT_CITIES:
            return name


CONDITIONS = ["sunny", "cloudy", "rainy", "windy", "snowy"]
OPS = {"add": "plus", "subtract": "minus", "multiply": "times", "divide": "divided by"}

WEATHER_QUESTIONS = ["What's the weather in {city}?", "How is the weather in {city} today?",
                     "Tell me the weather for {city}.", "Is it sunny in {city}?", "Weather in {city}, please."]
MATH_QUESTIONS = ["What is {a} {word} {b}?", "How much is {a} {word} {b}?", "Compute {a} {word} {b}.",
                  "Please work out {a} {word} {b}."]
HELDOUT_WEATHER = ["What is the weather like in {city}?", "Can you check the weather in {city}?"]
HELDOUT_MATH = ["Calculate {a} {word} {b}.", "Tell me {a} {word} {b}."]

MAX_NEW_TOKENS = 160  # a think section and one call take up to about 110 of this tokenizer's tokens
Split = Literal["train", "heldout", "known"]
Kind = Literal["weather", "math", "text", "answer", "retry"]


def heldout_number(n: int) -> bool:
    """Return True for the numbers no tool example of the training split contains (one in seven, by value: every
    last digit occurs in both splits). The held-out split draws from 2-99, training mostly from 2-99 too (so it
    learns where a number ends), one in four from 100-999."""
    return n % 7 == 3


@dataclass(frozen=True)
class ToolExample:
    """One graded exchange: messages up to the assistant's turn, and the turn it should write.

    `call` is the expected tool call ({"name", "arguments"}), or None when the answer is text; `answer` the text of
    an answer (empty for a call); `think` the reasoning the answer opens with.
    """

    kind: Kind
    messages: list[dict[str, Any]]
    call: dict[str, Any] | None
    answer: str
    think: str
    tools: list[dict[str, Any]] = field(default_factory=lambda: TOOLS)

    def target_text(self, thinking: bool = True) -> str:
        """Return what the assistant should write (think section, then the call or the answer), EOS excluded."""
        body = (f"<tool_call>\n{json.dumps(self.call)}\n</tool_call>" if self.call else self.answer)
        return (f"<think>\n{self.think}\n</think>\n\n" if thinking else "") + body


def _number(rng: random.Random, split: Split) -> int:
    while True:
        n = rng.randint(100, 999) if split == "train" and rng.random() < 0.25 else rng.randint(2, 99)
        if heldout_number(n) == (split == "heldout"):
            return n


def _result(a: int, b: int, op: str) -> int | float:
    value = {"add": a + b, "subtract": a - b, "multiply": a * b, "divide": a / b}[op]
    return round(value, 2) if isinstance(value, float) and not value.is_integer() else int(value)


def _weather(rng: random.Random, split: Split, questions: list[str]) -> tuple[ToolExample, ToolExample]:
    if split == "train":
        city = made_up_city(rng) if rng.random() < 0.2 else rng.choice(CITIES)
    else:
        city = rng.choice(HELDOUT_CITIES if split == "heldout" else CITIES)
    question = rng.choice(questions).format(city=city)
    call = {"name": "get_weather", "arguments": {"city": city}}
    first = ToolExample("weather", [{"role": "user", "content": question}], call, "",
                        f"The user asks about the weather in {city}. I will call get_weather.")
    temp, cond = rng.randint(-5, 35), rng.choice(CONDITIONS)
    result = {"city": city, "temperature": temp, "condition": cond}
    second = ToolExample("answer", [*first.messages, _assistant_call(call), _tool(result)], None,
                         f"In {city} it is {cond} and {temp} degrees.", "The tool answered. I will tell the user.")
    return first, second


def _math(rng: random.Random, split: Split, questions: list[str]) -> tuple[ToolExample, ToolExample]:
    op = rng.choice(list(OPS))
    a, b = _number(rng, split), _number(rng, split)
    question = rng.choice(questions).format(a=a, b=b, word=OPS[op])
    call = {"name": "calculator", "arguments": {"a": a, "b": b, "op": op}}
    first = ToolExample("math", [{"role": "user", "content": question}], call, "",
                        "The user wants a calculation. I will call the calculator.")
    result = {"result": _result(a, b, op)}
    second = ToolExample("answer", [*first.messages, _assistant_call(call), _tool(result)], None,
                         f"{a} {OPS[op]} {b} is {result['result']}.", "The tool answered. I will tell the user.")
    return first, second


def tool_error(call: dict[str, Any], tools: list[dict[str, Any]]) -> str | None:
    """Return the error a careful tool runner answers `call` with, or None if the call is valid: an unknown function,
    or arguments that do not validate against the function's parameters (jsonschema's message)."""
    import jsonschema

    specs = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    name = call.get("name")
    if name not in specs:
        return f"unknown function {name!r}: call one of {', '.join(specs)}"
    # the error jsonschema.validate raises, without its check of the schema itself (slow, and done once in tests)
    errors = jsonschema.Draft202012Validator(specs[name]).iter_errors(call.get("arguments"))
    error = jsonschema.exceptions.best_match(errors)
    return None if error is None else f"invalid arguments for {name}: {error.message}"


def _retry(rng: random.Random, first: ToolExample) -> ToolExample:
    """After a wrong call and the error it got, the same question's right call."""
    call = first.call
    assert call is not None
    args = dict(call["arguments"])
    mistake = rng.choice(["name", "key", "type"])
    if mistake == "name":
        wrong = {"name": rng.choice(["weather", "get_temperature", "calc", "math"]), "arguments": args}
    elif mistake == "key":
        key = next(iter(args))
        renamed = {"city": "town", "a": "x", "b": "y", "op": "operation"}[key]
        wrong = {"name": call["name"], "arguments": {renamed: args.pop(key), **args}}
    else:
        key = next(iter(args))
        wrong = {"name": call["name"], "arguments": {**args, key: str(args[key]) if key != "city" else 0}}
    error = tool_error(wrong, first.tools)
    assert error is not None, wrong
    messages = [*first.messages, _assistant_call(wrong), _tool({"error": error})]
    return ToolExample("retry", messages, call, "", f"The call failed. I will call {call['name']} again.")


def _assistant_call(call: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"id": "call_0", "type": "function",
                            "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}]}


def _tool(result: dict[str, Any]) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": "call_0", "content": json.dumps(result)}


def _text(conv: Conversation) -> ToolExample:
    return ToolExample("text", [{"role": "user", "content": conv.user}], None, conv.assistant,
                       "I know this. No tool is needed.")


def tool_corpus(split: Split = "train", seed: int = 0, n: int | None = None) -> list[ToolExample]:
    """Return `n` weather and `n` math exchanges (each with its follow-up after the tool's result, and for about one
    in three a retry after a wrong call and its error) and the demo corpus's questions answered in text with the
    tools offered. `n` defaults to 1500 for training, 20 for the held-out split that the report grades.

    `heldout` uses only held-out cities, numbers and phrasings (and the demo's held-out stories as text answers);
    `known` is `n` (default 20) weather questions only, in held-out phrasings about training cities. Raises
    ValueError for an unknown split.
    """
    if split not in ("train", "heldout", "known"):
        raise ValueError(f"unknown split {split!r}: use 'train', 'heldout' or 'known'")
    rng = random.Random(f"tools-{seed}-{split}")
    if split == "known":
        return [_weather(rng, split, HELDOUT_WEATHER)[0] for _ in range(n or 20)]
    weather_q = HELDOUT_WEATHER if split == "heldout" else WEATHER_QUESTIONS
    math_q = HELDOUT_MATH if split == "heldout" else MATH_QUESTIONS
    out: list[ToolExample] = []
    for _ in range(n or (20 if split == "heldout" else 1500)):
        for first, second in (_weather(rng, split, weather_q), _math(rng, split, math_q)):
            out.extend((first, second))
            if rng.random() < 0.3:
                out.append(_retry(rng, first))
    out.extend(_text(c) for c in chat_corpus(split, seed=seed))
    rng.shuffle(out)
    return out


def is_right(ex: ToolExample, text: str) -> bool:
    """Return True if `text` (the model's, think section included) is what `ex` asks for: exactly the one call (numbers
    by value), or text without a call holding the tool's result values, else the expected answer's first three words."""
    answer = split_reasoning(text)[1]
    calls = parse_hermes(answer)[1]
    if ex.call is not None:
        return [(c.name, json.loads(c.arguments)) for c in calls] == [(ex.call["name"], ex.call["arguments"])]
    if calls or CALL_START in answer:
        return False
    if ex.kind == "answer":
        values = json.loads(ex.messages[-1]["content"]).values()  # each as a whole word or number: 1 is not 11
        return all(re.search(rf"(?<![\w.-]){re.escape(str(v))}(?!\w|\.\d)", answer) for v in values)
    return answer.split()[:3] == ex.answer.split()[:3]


def grade(model_dir: str | Path, examples: list[ToolExample], properties: dict[str, Any] | None = None
          ) -> dict[str, float]:
    """Run `examples` through GenAI's `LLMPipeline` on CPU, thinking on and off; return the share right per kind and
    mode: `weather_on`, `math_off` and so on for the calls, `text_*` (no call), `answer_*` (after a tool's result) and
    `retry_*` (the right call after a wrong one and its error)."""
    import openvino_genai as ov_genai

    pipe = ov_genai.LLMPipeline(str(model_dir), "CPU", **(properties or {}))
    config = ov_genai.GenerationConfig(max_new_tokens=MAX_NEW_TOKENS)
    right: dict[str, list[bool]] = {}
    for ex in examples:
        for mode, extra in (("on", {}), ("off", {"enable_thinking": False})):
            history = ov_genai.ChatHistory(ex.messages)
            history.set_tools(ex.tools)
            history.set_extra_context(extra)
            text = pipe.generate(history, config).texts[0]
            right.setdefault(f"{ex.kind}_{mode}", []).append(is_right(ex, text))
    return {k: round(sum(v) / len(v), 3) for k, v in sorted(right.items())}

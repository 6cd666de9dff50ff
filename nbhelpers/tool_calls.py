"""Tool calls and reasoning in a model's answer, read as OpenVINO Model Server reads Qwen3-style models.

A model trained for tools (Qwen2.5, Qwen3, Hermes 2/3) writes each call as a JSON object between tags:

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

(OVMS's `tool_parser: "hermes3"`), and a Qwen3 model may first think in a `<think>...</think>` section (OVMS's
`reasoning_parser: "qwen3"`). `split_reasoning` takes the thinking off the front of an answer, `parse_hermes` finds
the calls in the rest, `parse_answer` does both as the server's response carries them (`content`,
`reasoning_content`, `tool_calls`), and `AnswerStream` gives the same result piece by piece for a streamed answer.
`calls_structure` builds the GenAI structural tag that makes a model write calls whose arguments follow each tool's
JSON schema (what OVMS does for `tool_choice: "required"` and `enable_tool_guided_generation`). Unlike OVMS, which
hands each tool's whole schema to xgrammar, plain object arguments are written key by key (`arguments_structure`):
xgrammar's JSON grammar allows any whitespace between tokens, and a model unsure of itself can pad with it until
max_tokens (the untrained demo LLM does, at temperature 0).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import openvino_genai as ov_genai

TOOL_PARSERS = ("hermes3",)  # the values of OVMS's tool_parser this module reads
REASONING_PARSERS = ("qwen3",)  # the values of OVMS's reasoning_parser this module reads
CALL_START, CALL_END = "<tool_call>", "</tool_call>"
THINK_START, THINK_END = "<think>", "</think>"
TAGS = (CALL_START, CALL_END, THINK_START, THINK_END)


@dataclass(frozen=True)
class ToolCall:
    """One call: the tool's `name`, its `arguments` as a JSON string (as OpenAI sends them), and an `id`."""

    name: str
    arguments: str
    id: str = field(default_factory=lambda: f"call_{secrets.token_hex(12)}")

    def openai(self, index: int | None = None) -> dict[str, Any]:
        """OpenAI's shape of the call: a `message.tool_calls` entry, or a streamed delta's with `index`."""
        call = {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}
        return call if index is None else {"index": index, **call}


@dataclass(frozen=True)
class Answer:
    """An answer read for the response: `content` (None if empty), `reasoning` (None if none), `calls`."""

    content: str | None
    reasoning: str | None = None
    calls: tuple[ToolCall, ...] = ()


def split_reasoning(text: str) -> tuple[str | None, str]:
    """Return (reasoning, rest) of `text`: the inside of a `<think>...</think>` section at its start (after any
    whitespace), stripped, and the text after it without its leading whitespace (as Qwen3's chat template reads
    its own answers back). An empty section gives None; an unclosed one (the answer was cut while thinking) is all
    reasoning with an empty rest. Without the section: (None, text) unchanged."""
    head = text.lstrip()
    if not head.startswith(THINK_START):
        return None, text
    inside, closed, rest = head[len(THINK_START):].partition(THINK_END)
    return inside.strip() or None, rest.lstrip() if closed else ""


def parse_hermes(text: str) -> tuple[str | None, list[ToolCall]]:
    """Return (content, calls) of an answer that may hold `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
    blocks: the calls in order, and the text outside them (each stretch stripped, joined by a newline; None if
    empty). The last block may lack its
    closing tag (the model stopped right after the JSON). If any block is not a JSON object with a string "name"
    and an object "arguments", no call is taken: (the whole text stripped, []) as vLLM's Hermes parser does."""
    outside: list[str] = []
    calls: list[ToolCall] = []
    at = 0
    while (start := text.find(CALL_START, at)) != -1:
        outside.append(text[at:start])
        end = text.find(CALL_END, start)
        body = text[start + len(CALL_START):len(text) if end == -1 else end]
        at = len(text) if end == -1 else end + len(CALL_END)
        try:
            call = json.loads(body)
        except ValueError:
            return text.strip() or None, []
        if not (isinstance(call, dict) and isinstance(call.get("name"), str) and isinstance(call.get("arguments"),
                                                                                           dict)):
            return text.strip() or None, []
        calls.append(ToolCall(call["name"], json.dumps(call["arguments"], ensure_ascii=False)))
    outside.append(text[at:])
    return "\n".join(piece.strip() for piece in outside if piece.strip()) or None, calls


def parse_answer(text: str, reasoning: bool, tools: bool, parallel: bool = True) -> Answer:
    """Read a whole answer: the thinking first (when `reasoning`), then the calls (when `tools`; only the first
    unless `parallel`). With neither, the content is the text as it is."""
    thought, rest = split_reasoning(text) if reasoning else (None, text)
    if not tools:
        return Answer(rest if not reasoning else rest or None, thought)
    content, calls = parse_hermes(rest)
    return Answer(content, thought, tuple(calls if parallel else calls[:1]))


def _held(text: str) -> int:
    """How many characters at the end of `text` may still change meaning: a partial tag ("<tool_c") and the
    whitespace before it, which is dropped if a tag follows."""
    keep = len(text)
    for size in range(min(len(text), max(map(len, TAGS)) - 1), 0, -1):
        if any(tag.startswith(text[-size:]) for tag in TAGS):
            keep = len(text) - size
            break
    return len(text) - len(text[:keep].rstrip())


class AnswerStream:
    """Read an answer as it streams: `feed(piece)` returns the deltas that are safe to send now
    ({"reasoning_content": ...} or {"content": ...}), `finish()` the last deltas and the `Answer`.

    Text is held back while it could still turn out to be part of a tag or the whitespace before one, and from the
    first `<tool_call>` on everything waits for the end. The deltas joined give exactly `parse_answer`'s content and
    reasoning for the whole text, however it was split."""

    def __init__(self, reasoning: bool, tools: bool, parallel: bool = True) -> None:
        self.reasoning, self.tools, self.parallel = reasoning, tools, parallel
        self.text = ""
        self.sent = {"reasoning_content": "", "content": ""}

    def _deltas(self, answer: Answer) -> list[dict[str, str]]:
        deltas = []
        for key, value in (("reasoning_content", answer.reasoning), ("content", answer.content)):
            value, sent = value or "", self.sent[key]
            if len(value) > len(sent) and value.startswith(sent):
                deltas.append({key: value[len(sent):]})
                self.sent[key] = value
        return deltas

    def feed(self, piece: str) -> list[dict[str, str]]:
        """Take the next piece of text; return the deltas it makes safe to send."""
        self.text += piece
        safe = self.text[:len(self.text) - _held(self.text)]
        if self.tools and CALL_START in (split_reasoning(safe)[1] if self.reasoning else safe):
            return []  # a call has started: the rest waits for the end
        return self._deltas(parse_answer(safe, self.reasoning, self.tools, self.parallel))

    def finish(self) -> tuple[list[dict[str, str]], Answer]:
        """The answer is complete: return the deltas still to send and the whole `Answer`."""
        answer = parse_answer(self.text, self.reasoning, self.tools, self.parallel)
        return self._deltas(answer), answer


# Keywords of an object schema whose arguments this module writes key by key; any other keyword (anyOf, $ref,
# patternProperties, additionalProperties other than false...) leaves the whole object to xgrammar's JSON grammar.
PLAIN_OBJECT = frozenset({"type", "properties", "required", "additionalProperties", "title", "description"})


def _nothing() -> Any:
    """The empty string as a structural element (xgrammar 0.1.31 refuses an empty ConstString or Regex)."""
    return ov_genai.StructuredOutputConfig.EBNF('root ::= ""')


def arguments_structure(schema: dict[str, Any]) -> Any:
    """The structural element for a call's arguments that follow `schema` (an object's JSON schema).

    A plain object schema (properties, required, no additional properties) is written as json.dumps writes it:
    the keys, their ", " and ": " are constant strings and only each value is left to its own schema (optional
    properties may be left out, in the schema's order, as xgrammar does). Any other schema goes to xgrammar whole,
    whose JSON grammar allows any whitespace between tokens."""
    soc = ov_genai.StructuredOutputConfig
    properties, required = schema.get("properties", {}), schema.get("required", [])
    if (schema.get("type") != "object" or set(schema) - PLAIN_OBJECT or schema.get("additionalProperties", False)
            is not False or not isinstance(properties, dict) or not set(required) <= set(properties)
            or '"$ref"' in json.dumps(schema)):
        return soc.JSONSchema(json.dumps(schema))
    names = list(properties)
    if not names:
        return soc.ConstString("{}")

    def member(name: str, separator: str) -> Any:
        value = properties[name]
        inner = arguments_structure(value) if isinstance(value, dict) and value.get("type") == "object" else \
            soc.JSONSchema(json.dumps(value))
        return soc.Concat(soc.ConstString(f"{separator}{json.dumps(name)}: "), inner)

    branches = []  # one per property that can come first: those before it are optional and left out
    for first, name in enumerate(names):
        rest = [member(n, ", ") if n in required else soc.Union(_nothing(), member(n, ", "))
                for n in names[first + 1:]]
        branches.append(soc.Concat(soc.ConstString("{"), member(name, ""), *rest, soc.ConstString("}")))
        if name in required:
            break
    else:
        branches.append(soc.ConstString("{}"))
    return branches[0] if len(branches) == 1 else soc.Union(*branches)


def calls_structure(tools: dict[str, dict[str, Any]], required: bool, parallel: bool = True,
                    thinking: bool = False) -> Any:
    """GenAI's structural tag for Hermes calls to `tools` ({name: JSON schema of its arguments}), built as OVMS
    builds it: once the model writes `<tool_call>`, it must go on with `\\n{"name": "<a tool>", "arguments": `,
    arguments that follow that tool's schema (`arguments_structure`), then `}\\n</tool_call>`. `required`: the
    answer starts with a call (after a think section when `thinking`); not `parallel`: it ends after the first."""
    soc = ov_genai.StructuredOutputConfig
    tags = [soc.Tag(begin=f'{CALL_START}\n{{"name": {json.dumps(name)}, "arguments": ',
                    content=arguments_structure(schema), end=f"}}\n{CALL_END}")
            for name, schema in tools.items()]
    calls = soc.TriggeredTags(triggers=[CALL_START], tags=tags, at_least_one=required, stop_after_first=not parallel)
    if not (required and thinking):
        return calls
    return soc.Union(soc.Concat(soc.Tag(THINK_START, soc.AnyText(), THINK_END + "\n\n"), calls), calls)

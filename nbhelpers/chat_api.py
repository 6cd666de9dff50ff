"""OpenAI's chat-completions request, checked before it reaches GenAI, and the bodies the server answers with.

`parse_request(body)` returns a `ChatRequest` or raises `RequestError` (status 400, the field, a message that says
what to send instead): GenAI stops a whole `ContinuousBatchingPipeline` on some bad values (a negative temperature
fails its `add_request`, a schema xgrammar cannot compile fails `step()` for every request in the step), so the
server refuses them first. `generation_config` maps a request to a `GenerationConfig` as OpenAI's defaults have it
(temperature 1 and a fresh seed when the request names none; `temperature: 0` is greedy). The response and chunk
builders write OpenAI's JSON shapes.

Taken: model, messages (system, developer, user and assistant; content as a string, a list of text parts, or null),
max_tokens / max_completion_tokens, stream, stream_options.include_usage, temperature, top_p, presence_penalty,
frequency_penalty, seed, stop, n (1 only), logprobs (the chosen token's only: top_logprobs 0), response_format
(text, json_object, json_schema). Any other field is refused with a 400 that names it, as OpenAI does.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import openvino_genai as ov_genai
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_BODY_BYTES = 4 << 20  # a request body above this is refused (413) before it is parsed
MAX_STOP = 4  # OpenAI takes up to 4 stop sequences
MAX_SEED = (1 << 63) - 1  # GenAI's rng_seed is a signed 64-bit integer in Python (2**63 and above fail to convert)
ROLES = ("system", "developer", "user", "assistant")  # "developer" is OpenAI's newer name for "system"
# Fields of OpenAI's API that this endpoint does not do, and why; every other unknown field gets a generic 400.
UNSUPPORTED = {
    "tools": "tool calling needs a model trained to call tools and a parser for its calls; this endpoint has neither",
    "tool_choice": "tool calling is not supported by this endpoint",
    "functions": "function calling is not supported by this endpoint",
    "function_call": "function calling is not supported by this endpoint",
    "parallel_tool_calls": "tool calling is not supported by this endpoint",
    "logit_bias": "GenAI's GenerationConfig has no per-token bias",
    "audio": "this endpoint writes text only", "modalities": "this endpoint writes text only",
}


class RequestError(Exception):
    """A request the server refuses: `status` (400, 404, 413), `message`, the offending `param`, an OpenAI `code`."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    @field_validator("role")
    @classmethod
    def known_role(cls, role: str) -> str:
        if role == "tool":
            raise ValueError("'tool' messages answer tool calls, which this endpoint does not make")
        if role not in ROLES:
            raise ValueError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
        return role

    @field_validator("content")
    @classmethod
    def text_parts(cls, content: str | list[dict[str, Any]] | None) -> str | list[dict[str, Any]] | None:
        for i, part in enumerate(content if isinstance(content, list) else []):
            kind = part.get("type")
            if kind != "text":
                raise ValueError(f"part {i} is of type {kind!r}: this endpoint serves a text model and takes "
                                 "text parts only ({'type': 'text', 'text': ...})")
            if not isinstance(part.get("text"), str) or set(part) != {"type", "text"}:
                raise ValueError(f"part {i}: a text part is exactly {{'type': 'text', 'text': <string>}}")
        return content

    def text(self) -> str:
        """The content as one string: text parts joined, null as empty."""
        if isinstance(self.content, list):
            return "".join(part["text"] for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    include_usage: bool = False


class JsonSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    schema_: dict[str, Any] | None = Field(None, alias="schema")  # "schema" would shadow a BaseModel attribute
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchema | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    model: str
    messages: list[Message]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: ResponseFormat | None = None

    @property
    def asked_tokens(self) -> tuple[str, int | None]:
        """(field name, value) of the answer-length limit the client set, max_completion_tokens first."""
        if self.max_completion_tokens is not None:
            return "max_completion_tokens", self.max_completion_tokens
        return "max_tokens", self.max_tokens

    @property
    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def chat(self) -> list[dict[str, str]]:
        """The messages as a chat template takes them ("developer" as "system")."""
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text(),
                 **({"name": m.name} if m.name else {})} for m in self.messages]


def _in_range(request: ChatRequest) -> None:
    """Raise RequestError for the first value GenAI would refuse or OpenAI does not allow."""
    def bounded(name: str, low: float, high: float, words: str, low_open: bool = False) -> None:
        value = getattr(request, name)
        if value is not None and not (low < value <= high if low_open else low <= value <= high):
            raise RequestError(f"{name} must be {words}, not {value}", name)

    if not request.messages:
        raise RequestError("messages is empty: send at least one message", "messages")
    bounded("temperature", 0, 2, "a number from 0 (greedy) to 2")
    bounded("top_p", 0, 1, "greater than 0 and at most 1", low_open=True)
    bounded("presence_penalty", -2, 2, "a number from -2 to 2")
    bounded("frequency_penalty", -2, 2, "a number from -2 to 2")
    bounded("seed", 0, MAX_SEED, f"an integer from 0 to {MAX_SEED} (GenAI's rng_seed is a signed 64-bit integer)")
    if request.n not in (None, 1):
        raise RequestError(f"n must be 1, not {request.n}: this endpoint returns one choice; send n requests "
                           "with different seeds instead", "n")
    if request.top_logprobs not in (None, 0):
        raise RequestError(f"top_logprobs must be 0, not {request.top_logprobs}: GenAI returns the log-probability "
                           "of the chosen token only (logprobs: true)", "top_logprobs")
    field, asked = request.asked_tokens
    if asked is not None and asked < 1:
        raise RequestError(f"{field} must be at least 1, not {asked}", field)
    stops = request.stops
    if len(stops) > MAX_STOP or any(not s for s in stops):
        raise RequestError(f"stop takes 1 to {MAX_STOP} non-empty strings, not {stops!r}", "stop")
    if request.stream_options is not None and not request.stream:
        raise RequestError("stream_options is only allowed with stream: true", "stream_options")
    fmt = request.response_format
    if fmt is not None and (fmt.type == "json_schema") != (fmt.json_schema is not None):
        raise RequestError("response_format: json_schema (with name and schema) goes with type 'json_schema' "
                           "and only with it", "response_format")
    if fmt is not None and fmt.json_schema is not None:
        _check_schema(fmt.json_schema.schema_)


def _check_schema(schema: dict[str, Any] | None) -> None:
    """Refuse a JSON schema that is not one (by its meta-schema): xgrammar fails the whole step on it."""
    import jsonschema

    if schema is None:
        raise RequestError("response_format.json_schema.schema is missing: send the JSON schema of the answer",
                           "response_format")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        where = "/".join(map(str, e.path)) or "the top level"
        raise RequestError(f"response_format.json_schema.schema is not a valid JSON schema at {where}: {e.message}",
                           "response_format") from None


def parse_request(body: bytes) -> ChatRequest:
    """Return the request in `body` (JSON bytes), or raise RequestError saying what is wrong with it."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(f"the body is {len(body)} bytes; this server takes at most {MAX_BODY_BYTES}", status=413)
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RequestError(f"the body is not UTF-8 (byte {e.start}): send JSON encoded as UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise RequestError(f"the body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise RequestError(f"the body must be a JSON object, not {type(data).__name__}")
    for name, why in UNSUPPORTED.items():
        if name in data:
            raise RequestError(f"{name}: {why}", name)
    try:
        request = ChatRequest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in first["loc"]).lstrip(".") or "the body"
        if first["type"] == "extra_forbidden":
            known = ", ".join(ChatRequest.model_fields) if len(first["loc"]) == 1 else "see the API reference"
            raise RequestError(f"unknown field {where!r} (fields taken: {known})", str(first["loc"][0])) from None
        message = first["msg"].removeprefix("Value error, ")
        raise RequestError(f"{where}: {message}", str(first["loc"][0])) from None
    _in_range(request)
    return request


def generation_config(request: ChatRequest, room: int) -> ov_genai.GenerationConfig:
    """The GenerationConfig for `request`, whose answer may take up to `room` tokens. Greedy when temperature is 0;
    otherwise sampled at its temperature (1 if unset, as OpenAI) with its seed or a fresh one."""
    config = ov_genai.GenerationConfig(max_new_tokens=request.asked_tokens[1] or room)
    temperature = 1.0 if request.temperature is None else request.temperature
    if temperature > 0:
        config.do_sample, config.temperature = True, temperature
        config.top_p = 1.0 if request.top_p is None else request.top_p
        config.rng_seed = secrets.randbelow(MAX_SEED) if request.seed is None else request.seed
    config.presence_penalty = request.presence_penalty or 0.0
    config.frequency_penalty = request.frequency_penalty or 0.0
    if request.stops:
        config.stop_strings = set(request.stops)  # the stop string itself is left out of the answer
    if request.logprobs:
        config.logprobs = 1
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        schema = fmt.json_schema.schema_ if fmt.json_schema else {"type": "object"}
        config.structured_output_config = ov_genai.StructuredOutputConfig(json_schema=json.dumps(schema))
    return config


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error body."""
    kind = {404: "not_found_error", 500: "server_error", 503: "server_error"}.get(status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class Reply:
    """What a response carries besides the text: its id, model, and the prompt's token count."""

    model: str
    prompt_tokens: int
    id: str = ""
    created: int = 0

    def __post_init__(self) -> None:
        self.id, self.created = self.id or f"chatcmpl-{uuid.uuid4().hex[:12]}", self.created or int(time.time())

    def usage(self, completion_tokens: int) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": self.prompt_tokens + completion_tokens}

    def completion(self, text: str, finish: str, tokens: int, logprobs: list[dict] | None) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                  "logprobs": None if logprobs is None else {"content": logprobs}}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [choice], "usage": self.usage(tokens)}

    def chunk(self, delta: dict[str, str], finish: str | None = None, logprobs: list[dict] | None = None,
              usage: int | None = None) -> str:
        """One server-sent event; `usage` (the completion's token count) makes it the usage chunk (no choices)."""
        body: dict[str, Any] = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                "model": self.model}
        if usage is None:
            body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish,
                                "logprobs": None if logprobs is None else {"content": logprobs}}]
        else:
            body["choices"], body["usage"] = [], self.usage(usage)
        return f"data: {json.dumps(body)}\n\n"


def token_logprobs(tokenizer: ov_genai.Tokenizer, ids: list[int], logprobs: list[float]) -> list[dict[str, Any]]:
    """OpenAI's logprobs.content entries for `ids` (each token decoded alone; no alternatives: top_logprobs []).

    Special tokens (the end-of-sequence token GenAI includes in an answer that ended) are left out, as they are
    of the answer's text."""
    entries = []
    for token, logprob in zip(ids, logprobs, strict=True):
        text = tokenizer.decode([token])
        if not text and tokenizer.decode([token], skip_special_tokens=False):
            continue
        entries.append({"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8")), "top_logprobs": []})
    return entries

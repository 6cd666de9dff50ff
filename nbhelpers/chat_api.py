"""OpenAI's chat-completions request, checked before it reaches GenAI, and the bodies the server answers with.

`parse_request(body)` returns a `ChatRequest` or raises `RequestError` (status 400, the field, a message that says
what to send instead): GenAI stops a whole `ContinuousBatchingPipeline` on some bad values (a negative temperature
fails its `add_request`, a schema xgrammar cannot compile fails `step()` for every request in the step), so the
server refuses them first. `generation_config` maps a request to a `GenerationConfig` as OpenAI's defaults have it
(temperature 1 and a fresh seed when the request names none; `temperature: 0` is greedy). The response and chunk
builders are in `nbhelpers.chat_reply`, the request's models in `nbhelpers.chat_schema`.

Taken: model, messages (system, developer, user and assistant; content as a string, a list of text parts, or null),
max_tokens / max_completion_tokens, stream, stream_options.include_usage, temperature, top_p, presence_penalty,
frequency_penalty, seed, stop, n (1 only), logprobs (the chosen token's only: top_logprobs 0), response_format
(text, json_object, json_schema), chat_template_kwargs (extra variables for the chat template, as vLLM and OVMS
take them). On a server started with a tool parser (`ServerOptions`) also tools (function tools), tool_choice,
parallel_tool_calls, assistant messages with tool_calls and "tool" messages; `tool_generation` builds what
constrains the calls. Any other field is refused with a 400 that names it, as OpenAI does.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import openvino_genai as ov_genai
from pydantic import ValidationError

from nbhelpers import tool_calls
from nbhelpers.chat_schema import ChatRequest, NamedToolChoice

MAX_BODY_BYTES = 4 << 20  # a request body above this is refused (413) before it is parsed
MAX_STOP = 4  # OpenAI takes up to 4 stop sequences
MAX_SEED = (1 << 63) - 1  # GenAI's rng_seed is a signed 64-bit integer in Python (2**63 and above fail to convert)
NO_TOOL_PARSER = ('this server reads no tool calls: start it with tool_parser="hermes3" (start_server(..., '
                  'tool_parser="hermes3") or --tool-parser hermes3) for a model that writes Hermes tool calls '
                  '(<tool_call>{"name": ..., "arguments": {...}}</tool_call>, as Qwen2.5 and Qwen3 do)')
# The chat template's own inputs: GenAI lets extra context (chat_template_kwargs) replace each of them.
TEMPLATE_INPUTS = frozenset({"messages", "tools", "add_generation_prompt", "bos_token", "eos_token"})
# Fields of OpenAI's API that this endpoint does not do, and why; every other unknown field gets a generic 400.
UNSUPPORTED = {
    "functions": "deprecated in OpenAI's API and not taken here: send tools (and tool_choice) instead",
    "function_call": "deprecated in OpenAI's API and not taken here: send tools (and tool_choice) instead",
    "logit_bias": "GenAI's GenerationConfig has no per-token bias",
    "audio": "this endpoint writes text only", "modalities": "this endpoint writes text only",
}


@dataclass(frozen=True)
class ServerOptions:
    """What the server reads in answers, named as OVMS's LLM graph options are: `tool_parser` ("hermes3" or None),
    `reasoning_parser` ("qwen3" or None), `enable_tool_guided_generation` (constrain every call to its tool's
    schema, not only under tool_choice "required" or a named tool). Raises ValueError for other values."""

    tool_parser: str | None = None
    reasoning_parser: str | None = None
    enable_tool_guided_generation: bool = False

    def __post_init__(self) -> None:
        for name, value, known in (("tool_parser", self.tool_parser, tool_calls.TOOL_PARSERS),
                                   ("reasoning_parser", self.reasoning_parser, tool_calls.REASONING_PARSERS)):
            if value is not None and value not in known:
                raise ValueError(f"{name} {value!r} is not supported: use one of {', '.join(map(repr, known))} "
                                 "or None")
        if self.enable_tool_guided_generation and self.tool_parser is None:
            raise ValueError('enable_tool_guided_generation needs a tool parser: add tool_parser="hermes3"')


class RequestError(Exception):
    """A request the server refuses: `status` (400, 404, 413), `message`, the offending `param`, an OpenAI `code`."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code


def _in_range(request: ChatRequest, options: ServerOptions) -> None:
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
        if fmt.json_schema.schema_ is None:
            raise RequestError("response_format.json_schema.schema is missing: send the JSON schema of the answer",
                               "response_format")
        _check_schema(fmt.json_schema.schema_, "response_format.json_schema.schema", "response_format")
    reserved = sorted(TEMPLATE_INPUTS & set(request.chat_template_kwargs or {}))
    if reserved:
        raise RequestError(f"chat_template_kwargs cannot set {', '.join(reserved)}: the server sets "
                           f"{', '.join(sorted(TEMPLATE_INPUTS))} from the request and the tokenizer (GenAI would "
                           "let these keys replace them)", "chat_template_kwargs")
    _check_tools(request, options)


def _check_tools(request: ChatRequest, options: ServerOptions) -> None:
    """Refuse tool fields without tools, a tool_choice naming no tool,
    two tools of one name, parameters that are not an object's JSON schema, and structured output asked twice."""
    for name in ("tool_choice", "parallel_tool_calls"):
        if getattr(request, name) is not None and not request.tools:
            raise RequestError(f"{name} is only allowed when tools are given", name)
    names = [tool.function.name for tool in request.tools or []]
    if len(set(names)) < len(names):
        raise RequestError(f"tools: two tools have the same name ({', '.join(names)}); each name must be unique",
                           "tools")
    if isinstance(request.tool_choice, NamedToolChoice) and request.tool_choice.function.name not in names:
        raise RequestError(f"tool_choice names {request.tool_choice.function.name!r}, which is not one of the tools "
                           f"({', '.join(names)})", "tool_choice")
    for i, tool in enumerate(request.tools or []):
        where = f"tools[{i}].function.parameters"
        if tool.function.parameters is not None:
            _check_schema(tool.function.parameters, where, "tools")
            if tool.function.parameters.get("type") != "object":
                raise RequestError(f"{where} must be the JSON schema of an object ({{\"type\": \"object\", "
                                   "\"properties\": {...}}): a call's arguments are a JSON object", "tools")
    if tool_generation(request, options) is not None and request.response_format is not None and \
            request.response_format.type != "text":
        raise RequestError(f"response_format cannot be used with tool_choice {request.chosen!r}: both constrain the "
                           "answer and GenAI takes one structured output per request", "response_format")


def _check_schema(schema: dict[str, Any], where: str, param: str) -> None:
    """Refuse a JSON schema that is not one (by its meta-schema): xgrammar fails the whole step on it."""
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        at = "/".join(map(str, e.path)) or "the top level"
        raise RequestError(f"{where} is not a valid JSON schema at {at}: {e.message}", param) from None


def parse_request(body: bytes, options: ServerOptions | None = None) -> ChatRequest:
    """Return the request in `body` (JSON bytes) for a server started with `options` (default: no parsers), or raise
    RequestError saying what is wrong with it."""
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
    options = options or ServerOptions()
    if options.tool_parser is None:
        messages = data.get("messages") if isinstance(data.get("messages"), list) else []
        if "tools" in data or any(isinstance(m, dict) and (m.get("role") == "tool" or "tool_calls" in m)
                                  for m in messages):
            where = "tools" if "tools" in data else "messages"
            raise RequestError(f"{where}: {NO_TOOL_PARSER}", where)
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
    _in_range(request, options)
    return request


def tool_generation(request: ChatRequest, options: ServerOptions) -> Any | None:
    """The structural tag that constrains `request`'s tool calls, or None: under tool_choice "required" or a named
    tool always (at least one call, of that tool if named), under "auto" when the server enables tool-guided
    generation or a tool asks for `strict` (calls optional), as OVMS's Hermes3 generation-config builder does."""
    guided = options.enable_tool_guided_generation or any(t.function.strict for t in request.offered)
    if options.tool_parser is None or request.chosen == "none" or (request.chosen == "auto" and not guided):
        return None
    thinking = options.reasoning_parser is not None and (request.chat_template_kwargs or {}).get(
        "enable_thinking") is not False
    return tool_calls.calls_structure({t.function.name: t.parameters for t in request.offered},
                                      required=request.chosen != "auto", parallel=request.parallel,
                                      thinking=thinking)


def generation_config(request: ChatRequest, room: int,
                      options: ServerOptions | None = None) -> ov_genai.GenerationConfig:
    """The GenerationConfig for `request`, whose answer may take up to `room` tokens. Greedy when temperature is 0;
    otherwise sampled at its temperature (1 if unset, as OpenAI) with its seed or a fresh one. Tool calls are
    constrained as `tool_generation` says."""
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
    calls = tool_generation(request, options or ServerOptions())
    if calls is not None:
        config.structured_output_config = ov_genai.StructuredOutputConfig(structural_tags_config=calls)
    return config

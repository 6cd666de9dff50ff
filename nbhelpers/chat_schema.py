"""OpenAI's chat-completions request as pydantic models: messages (with tool calls and tool results), tools,
tool_choice, stream options and response formats. Each model refuses unknown fields; `nbhelpers.chat_api` parses a
body into `ChatRequest` and checks the values GenAI would refuse."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ROLES = ("system", "developer", "user", "assistant", "tool")  # "developer" is OpenAI's newer name for "system"
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # OpenAI's rule for a function's name


class CalledFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    arguments: str

    @field_validator("arguments")
    @classmethod
    def json_object(cls, arguments: str) -> str:
        try:
            value = json.loads(arguments)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ValueError(f"arguments must be a JSON object in a string, as the server returned them, not "
                             f"{arguments[:60]!r}")
        return arguments


class MessageToolCall(BaseModel):
    """A call in an assistant message, as the server returned it in message.tool_calls."""

    model_config = ConfigDict(extra="forbid", strict=True)
    id: str
    type: Literal["function"]
    function: CalledFunction


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None

    @field_validator("role")
    @classmethod
    def known_role(cls, role: str) -> str:
        if role not in ROLES:
            raise ValueError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
        return role

    @model_validator(mode="after")
    def tool_fields(self) -> Message:
        if self.role == "tool" and (self.tool_call_id is None or self.content is None):
            raise ValueError("a 'tool' message carries the result of a call: content and the call's tool_call_id "
                             "are required")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError("tool_call_id goes on 'tool' messages only")
        if self.role != "assistant" and self.tool_calls is not None:
            raise ValueError("tool_calls go on 'assistant' messages only")
        return self

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

    def for_template(self) -> dict[str, Any]:
        """The message as a chat template takes it: "developer" as "system", content as one string; a call's
        arguments as an object (vLLM does the same: templates write them with `tojson`)."""
        message: dict[str, Any] = {"role": "system" if self.role == "developer" else self.role, "content": self.text()}
        if self.name:
            message["name"] = self.name
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            message["tool_calls"] = [{"id": c.id, "type": c.type, "function": {
                "name": c.function.name, "arguments": json.loads(c.function.arguments)}} for c in self.tool_calls]
        return message


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("name")
    @classmethod
    def function_name(cls, name: str) -> str:
        if not FUNCTION_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a function name: use 1 to 64 letters, digits, _ or -")
        return name


class Tool(BaseModel):
    """OpenAI's function tool: {"type": "function", "function": {"name", "description", "parameters"}}."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["function"]
    function: FunctionDefinition

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (no parameters: an empty object)."""
        return self.function.parameters if self.function.parameters is not None else {"type": "object",
                                                                                       "properties": {}}


class NamedFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["function"]
    function: NamedFunction


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
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    chat_template_kwargs: dict[str, Any] | None = None

    @field_validator("tool_choice", mode="before")
    @classmethod
    def choice(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("none", "auto", "required"):
            raise ValueError(f"{value!r} is not a tool choice: use 'none', 'auto', 'required' or "
                             "{'type': 'function', 'function': {'name': <one of the tools>}}")
        return value

    @property
    def chosen(self) -> str:
        """How tools are used: "none" (no tools, or tool_choice "none"), "auto", "required", or "named"."""
        if not self.tools or self.tool_choice == "none":
            return "none"
        if isinstance(self.tool_choice, NamedToolChoice):
            return "named"
        return self.tool_choice or "auto"

    @property
    def offered(self) -> list[Tool]:
        """The tools the model is shown and may call: all of them, only the named one, or none."""
        if self.chosen == "none":
            return []
        if isinstance(self.tool_choice, NamedToolChoice):
            return [t for t in self.tools or [] if t.function.name == self.tool_choice.function.name]
        return list(self.tools or [])

    @property
    def parallel(self) -> bool:
        return self.parallel_tool_calls is not False

    @property
    def asked_tokens(self) -> tuple[str, int | None]:
        """(field name, value) of the answer-length limit the client set, max_completion_tokens first."""
        if self.max_completion_tokens is not None:
            return "max_completion_tokens", self.max_completion_tokens
        return "max_tokens", self.max_tokens

    @property
    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def chat(self) -> list[dict[str, Any]]:
        """The messages as a chat template takes them ("developer" as "system")."""
        return [m.for_template() for m in self.messages]

    def template_tools(self) -> list[dict[str, Any]]:
        """The tools the chat template is given (as the request sent them; none under tool_choice "none")."""
        return [tool.model_dump(exclude_none=True) for tool in self.offered]

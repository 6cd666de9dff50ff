"""The bodies the chat-completions endpoint answers with, in OpenAI's JSON shapes: errors, a completion, stream
chunks and log-probabilities."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import openvino_genai as ov_genai


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

    def completion(self, message: str | dict[str, Any], finish: str, tokens: int,
                   logprobs: list[dict] | None) -> dict[str, Any]:
        """The response: `message` is the answer's text or the whole message (content, reasoning, tool calls)."""
        if isinstance(message, str):
            message = {"role": "assistant", "content": message}
        choice = {"index": 0, "message": message, "finish_reason": finish,
                  "logprobs": None if logprobs is None else {"content": logprobs}}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [choice], "usage": self.usage(tokens)}

    def chunk(self, delta: dict[str, Any], finish: str | None = None, logprobs: list[dict] | None = None,
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

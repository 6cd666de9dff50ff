"""An OpenAI-style chat endpoint served by `ContinuousBatchingPipeline`: what a server does, not one to deploy.

`python -m nbhelpers.serve MODEL_DIR --port N` answers `POST /v3/chat/completions` (streamed or not) and
`GET /v3/models` on 127.0.0.1 only: the paths OpenVINO Model Server serves, so the `openai` client code is the same
for both. One thread owns the pipeline and runs its step loop; each HTTP request waits on its own queue. Bad
requests get OpenAI-style errors (400 invalid JSON or fields, 404 unknown model); a client that disconnects
mid-stream has its request cancelled, which frees its KV blocks. `start_server` (in `nbhelpers.server`) runs this in
a child process from a notebook. No authentication, no limits on queue length: do not expose it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openvino_genai as ov_genai
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

FINISH = {"STOP": "stop", "LENGTH": "length"}


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool = False
    temperature: float | None = None  # None or 0: greedy
    top_p: float | None = None
    seed: int | None = None


@dataclass
class Job:
    """One request in flight: its tokens arrive on `updates` as lists; None marks the end (see `finish`)."""

    prompt: str
    config: ov_genai.GenerationConfig
    loop: asyncio.AbstractEventLoop
    updates: asyncio.Queue = field(default_factory=asyncio.Queue)
    finish: str | None = None
    error: str | None = None
    handle: Any = None
    cancelled: bool = False

    def push(self, item: list[int] | None) -> None:
        self.loop.call_soon_threadsafe(self.updates.put_nowait, item)


class Engine:
    """Owns the pipeline; a daemon thread adds new jobs, steps, and hands each job its new tokens."""

    def __init__(self, pipe: ov_genai.ContinuousBatchingPipeline) -> None:
        self.pipe, self.tokenizer = pipe, pipe.get_tokenizer()
        self.inbox: queue.Queue[Job] = queue.Queue()
        self.cancels: queue.Queue[Job] = queue.Queue()
        self.running: dict[int, Job] = {}
        self.stats: dict[str, float] = {"requests": 0, "cache_usage": 0.0}
        self._ids = iter(range(1 << 62))
        self._stale = False  # a request left since the last step: one more step frees its blocks and counts it
        threading.Thread(target=self._run, daemon=True, name="engine").start()

    def _run(self) -> None:
        while True:
            try:
                job = self.inbox.get(timeout=0.02) if not self.running else self.inbox.get_nowait()
                job.handle = self.pipe.add_request(next(self._ids), job.prompt, job.config)
                self.running[id(job)] = job
                continue  # take every waiting job before the next step
            except queue.Empty:
                pass
            while not self.cancels.empty():
                job = self.cancels.get()
                if id(job) in self.running:
                    job.cancelled = True
                    job.handle.cancel()
            if self.running or self.pipe.has_non_finished_requests() or self._stale:
                self._stale = bool(self.running)
                self.pipe.step()
                self._deliver()

    def _deliver(self) -> None:
        for key, job in list(self.running.items()):
            if job.handle.can_read():
                for output in job.handle.read().values():
                    job.push(list(output.generated_ids))
                    job.finish = FINISH.get(output.finish_reason.name, job.finish)
            status = job.handle.get_status()
            if status != ov_genai.GenerationStatus.RUNNING:
                if status == ov_genai.GenerationStatus.IGNORED and not job.cancelled:
                    job.error = "the request does not fit in the KV-cache: shorten it or give the server more blocks"
                del self.running[key]
                job.push(None)
        metrics = self.pipe.get_metrics()
        self.stats = {"requests": metrics.requests, "cache_usage": metrics.cache_usage}


def error(status: int, message: str, param: str | None = None) -> JSONResponse:
    """An OpenAI-style error body."""
    kind = "not_found_error" if status == 404 else "invalid_request_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status)


def generation_config(body: ChatRequest, limit: int) -> ov_genai.GenerationConfig:
    config = ov_genai.GenerationConfig(max_new_tokens=body.max_completion_tokens or body.max_tokens or limit)
    if body.temperature:
        config.do_sample, config.temperature = True, body.temperature
        config.top_p = body.top_p if body.top_p is not None else 1.0
        config.rng_seed = body.seed if body.seed is not None else 0
    return config


def create_app(engine: Engine, name: str, context_length: int) -> FastAPI:
    """The FastAPI app: /v3/models, /v3/chat/completions, /health and /stats (requests and KV-cache use)."""
    app = FastAPI(title=f"{name} (nbhelpers.serve: a lesson, not a server to deploy)")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    def stats() -> dict[str, float]:
        return {**engine.stats, "running": len(engine.running)}

    @app.get("/v3/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "nbhelpers"}]}

    @app.post("/v3/chat/completions", response_model=None)
    async def chat(request: Request) -> JSONResponse | StreamingResponse:
        try:
            body = ChatRequest.model_validate(json.loads(await request.body()))
        except json.JSONDecodeError as e:
            return error(400, f"the body is not valid JSON: {e}")
        except ValidationError as e:
            first = e.errors()[0]
            return error(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}", str(first["loc"][0]))
        if body.model != name:
            return error(404, f"the model {body.model!r} does not exist: this server serves {name!r}", "model")
        messages = [m.model_dump() for m in body.messages]
        prompt = engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        prompt_tokens = engine.tokenizer.encode(prompt, add_special_tokens=False).input_ids.get_shape()[1]
        room = context_length - prompt_tokens
        asked = body.max_completion_tokens or body.max_tokens
        if asked is not None and not 0 < asked <= room:
            return error(400, f"max_tokens must be between 1 and {room} (the context of {context_length} tokens "
                              f"minus the {prompt_tokens} prompt tokens), not {asked}", "max_tokens")
        if room < 1:
            return error(400, f"the messages take {prompt_tokens} tokens, the whole context of {context_length}")
        job = Job(prompt, generation_config(body, room), asyncio.get_running_loop())
        engine.inbox.put(job)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": name}
        if body.stream:
            return StreamingResponse(stream(engine, job, meta), media_type="text/event-stream")
        tokens = []
        while (update := await job.updates.get()) is not None:
            tokens += update
        if job.error:
            return error(503, job.error)
        return JSONResponse({**meta, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": engine.tokenizer.decode(tokens)},
            "finish_reason": job.finish or "stop"}], "usage": {
            "prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens)}})

    return app


async def stream(engine: Engine, job: Job, meta: dict[str, Any]) -> AsyncIterator[str]:
    """Server-sent events: a chunk per new piece of text, a last chunk with the finish reason, then [DONE].

    Text is decoded from all tokens so far and only the new part is sent (a character may span tokens); if the
    client goes away, the request is cancelled and its KV blocks are freed."""
    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        body = {**meta, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                                         "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n"

    tokens, sent, done = [], "", False
    try:
        yield chunk({"role": "assistant", "content": ""})
        while (update := await job.updates.get()) is not None:
            tokens += update
            text = engine.tokenizer.decode(tokens)
            if len(text) > len(sent) and not text.endswith("\ufffd"):
                yield chunk({"content": text[len(sent):]})
                sent = text
        done = True
        if job.error:
            yield f"data: {json.dumps({'error': {'message': job.error, 'type': 'server_error'}})}\n\n"
        yield chunk({}, job.finish or "stop")
        yield "data: [DONE]\n\n"
    finally:
        if not done:
            engine.cancels.put(job)


def watch_parent(pid: int) -> None:
    """Exit this process when process `pid` (the notebook's kernel) is gone."""
    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except OSError:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="an exported LLM folder (openvino_model.xml and tokenizers)")
    parser.add_argument("--name", help="the model name clients pass (default: the folder's name)")
    parser.add_argument("--port", type=int, required=True, help="the port on 127.0.0.1")
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--scheduler", default="{}", help='SchedulerConfig fields as JSON, e.g. {"num_kv_blocks": 256}')
    parser.add_argument("--properties", default="{}", 
                        help='OpenVINO properties as JSON, e.g. {"KV_CACHE_PRECISION": "u8"}')
    parser.add_argument("--parent-pid", type=int, help="exit when this process ends")
    args = parser.parse_args(argv)
    scheduler = ov_genai.SchedulerConfig()
    for key, value in json.loads(args.scheduler).items():
        setattr(scheduler, key, value)
    pipe = ov_genai.ContinuousBatchingPipeline(args.model_dir, scheduler, args.device, json.loads(args.properties))
    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    app = create_app(Engine(pipe), args.name or args.model_dir.name, config.get("max_position_embeddings", 2048))
    if args.parent_pid:
        watch_parent(args.parent_pid)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

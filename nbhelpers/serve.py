"""An OpenAI-style chat endpoint served by `ContinuousBatchingPipeline`: what a server does, not one to deploy.

`python -m nbhelpers.serve MODEL_DIR --port N` answers `POST /v3/chat/completions` (streamed or not) and
`GET /v3/models` on 127.0.0.1 only: the paths OpenVINO Model Server serves, so the `openai` client code is the same
for both. One thread owns the pipeline and runs its step loop; each HTTP request waits on its own queue.

No request can stop it serving the others: requests are checked before they reach GenAI (`nbhelpers.chat_api`:
400 naming the field, 404 for an unknown model), and the engine thread (`nbhelpers.engine`) ends only the requests
that fail. Templating and tokenizing run off the event loop. Prompts are encoded as `generate()` encodes them: the
chat template, then the tokenizer without its special tokens (the template writes them). A client that disconnects
has its request cancelled, which frees its KV blocks. `start_server` (in `nbhelpers.server`) runs this in a child
process from a notebook. No authentication, no limit on the queue: do not expose it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import openvino as ov
import openvino_genai as ov_genai
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from nbhelpers import chat_api
from nbhelpers.chat_api import ChatRequest, Reply, RequestError, error_body, generation_config, parse_request
from nbhelpers.engine import Engine, Job, encode_prompt


def create_app(engine: Engine, name: str, context_length: int) -> FastAPI:
    """The FastAPI app: /v3/models, /v3/chat/completions, /health and /stats (requests, KV-cache use, failures)."""
    app = FastAPI(title=f"{name} (nbhelpers.serve: a lesson, not a server to deploy)")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return {**engine.stats, "running": len(engine.running), "waiting": engine.inbox.qsize(),
                "failures": dict(engine.failures)}

    @app.get("/v3/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "nbhelpers"}]}

    def admit(body: bytes) -> tuple[ChatRequest, ov.Tensor, int]:
        """Parse and check a request, encode its prompt: (request, input ids, room left for the answer)."""
        request = parse_request(body)
        if request.model != name:
            raise RequestError(f"the model {request.model!r} does not exist: this server serves {name!r}", "model",
                               404, "model_not_found")
        input_ids = encode_prompt(engine.tokenizer, request.chat())
        prompt_tokens = input_ids.get_shape()[1]
        room = context_length - prompt_tokens
        if room < 1:
            raise RequestError(f"the messages take {prompt_tokens} tokens, and the model's context is "
                               f"{context_length} tokens: shorten them", "messages", code="context_length_exceeded")
        field_name, asked = request.asked_tokens
        if asked is not None and asked > room:
            raise RequestError(f"{field_name} is {asked}, but the messages take {prompt_tokens} of the model's "
                               f"{context_length}-token context, which leaves {room}: ask for at most {room}",
                               field_name, code="context_length_exceeded")
        return request, input_ids, room

    @app.post("/v3/chat/completions", response_model=None)
    async def chat(http: Request) -> JSONResponse | StreamingResponse:
        try:
            request, input_ids, room = await asyncio.to_thread(admit, await http.body())
        except RequestError as e:
            return JSONResponse(error_body(e.status, e.message, e.param, e.code), e.status)
        job = Job(input_ids, generation_config(request, room), asyncio.get_running_loop())
        engine.inbox.put(job)
        reply = Reply(name, input_ids.get_shape()[1])
        if request.stream:
            usage = request.stream_options is not None and request.stream_options.include_usage
            return StreamingResponse(stream(engine, job, reply, bool(request.logprobs), usage),
                                     media_type="text/event-stream")
        tokens: list[int] = []
        logprobs: list[float] = []
        while True:
            try:
                update = await asyncio.wait_for(job.updates.get(), timeout=1.0)
            except TimeoutError:
                if await http.is_disconnected():
                    engine.cancels.put(job)
                    return JSONResponse(error_body(499, "the client closed the connection"), 499)
                continue
            if update is None:
                break
            tokens += update[0]
            logprobs += update[1]
        if job.error:
            return JSONResponse(error_body(*job.error), job.error[0])
        text = engine.tokenizer.decode(tokens)
        entries = chat_api.token_logprobs(engine.tokenizer, tokens, logprobs) if request.logprobs else None
        return JSONResponse(reply.completion(text, job.finish or "stop", len(tokens), entries))

    return app


async def stream(engine: Engine, job: Job, reply: Reply, logprobs: bool, usage: bool) -> AsyncIterator[str]:
    """Server-sent events: a chunk per new piece of text, a last chunk with the finish reason, then [DONE].

    GenAI's `TextStreamer` turns tokens into text incrementally (it holds back a character that spans tokens until
    it is whole); if the client goes away, the request is cancelled and its KV blocks are freed."""
    pieces: list[str] = []
    streamer = ov_genai.TextStreamer(engine.tokenizer, lambda text: pieces.append(text) or False)
    count, done = 0, False
    try:
        yield reply.chunk({"role": "assistant", "content": ""})
        while (update := await job.updates.get()) is not None:
            ids, probs = update
            count += len(ids)
            streamer.write(ids)
            entries = chat_api.token_logprobs(engine.tokenizer, ids, probs) if logprobs else None
            if pieces or entries:
                yield reply.chunk({"content": "".join(pieces)}, logprobs=entries)
                pieces.clear()
        streamer.end()
        if pieces:
            yield reply.chunk({"content": "".join(pieces)})
        done = True
        if job.error:
            yield f"data: {json.dumps(error_body(*job.error))}\n\n"
        else:
            yield reply.chunk({}, job.finish or "stop")
            if usage:
                yield reply.chunk({}, usage=count)
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
    properties = json.loads(args.properties)

    def factory() -> ov_genai.ContinuousBatchingPipeline:
        return ov_genai.ContinuousBatchingPipeline(args.model_dir, scheduler, args.device, properties)

    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    app = create_app(Engine(factory), args.name or args.model_dir.name, config.get("max_position_embeddings", 2048))
    if args.parent_pid:
        watch_parent(args.parent_pid)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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

Tool calling, as OVMS does it for Qwen3-style models (`--tool-parser hermes3 --reasoning-parser qwen3
[--enable-tool-guided-generation]`): the request's tools and chat_template_kwargs go to the chat template, the answer
is read by `nbhelpers.tool_calls` into `content`, `reasoning_content` and `tool_calls` (finish_reason "tool_calls"),
and tool_choice "required", a named tool, a `strict` tool or the guided option constrain the calls with GenAI's
structural tags. Without parsers the answer is returned as the model wrote it. Serve a model whose chat template
writes tools (Qwen2.5, Qwen3): for a template without them GenAI's template engine adds its own text listing the
tools, with an example call in another format ({"tool_calls": [...]}).
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

from nbhelpers import chat_api, chat_reply, tool_calls
from nbhelpers.chat_api import RequestError, ServerOptions, generation_config
from nbhelpers.chat_reply import Reply, error_body
from nbhelpers.chat_schema import ChatRequest
from nbhelpers.engine import Engine, Job, encode_prompt, engine_message


def reads(request: ChatRequest, options: ServerOptions) -> tuple[bool, bool]:
    """(reasoning, tools): whether this request's answer is read for a think section and for tool calls."""
    return options.reasoning_parser is not None, options.tool_parser is not None and request.chosen != "none"


def message(answer: tool_calls.Answer, options: ServerOptions) -> dict[str, Any]:
    """The response's message: content, reasoning_content (when the server reads reasoning), tool_calls (if any)."""
    body: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if options.reasoning_parser is not None:
        body["reasoning_content"] = answer.reasoning
    if answer.calls:
        body["tool_calls"] = [call.openai() for call in answer.calls]
    return body


def create_app(engine: Engine, name: str, context_length: int, options: ServerOptions | None = None) -> FastAPI:
    """The FastAPI app: /v3/models, /v3/chat/completions, /health and /stats (requests, KV-cache use, failures).
    `options` say how answers are read (tool and reasoning parsers); default: as the model wrote them."""
    options = options or ServerOptions()
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
        request = chat_api.parse_request(body, options)
        if request.model != name:
            raise RequestError(f"the model {request.model!r} does not exist: this server serves {name!r}", "model",
                               404, "model_not_found")
        try:
            input_ids = encode_prompt(engine.tokenizer, request.chat(), request.template_tools(),
                                      request.chat_template_kwargs)
        except Exception as e:  # the template is the model's: what fails it is in the request
            why = engine_message(Exception((str(e).rpartition("Minja's error:")[2].strip() or "?").splitlines()[0]))
            raise RequestError(f"the model's chat template failed on this request: {why}", "messages") from None
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
        job = Job(input_ids, generation_config(request, room, options), asyncio.get_running_loop())
        engine.inbox.put(job)
        reply = Reply(name, input_ids.get_shape()[1])
        reasoning, tools = reads(request, options)
        if request.stream:
            usage = request.stream_options is not None and request.stream_options.include_usage
            parser = tool_calls.AnswerStream(reasoning, tools, request.parallel) if reasoning or tools else None
            return StreamingResponse(stream(engine, job, reply, bool(request.logprobs), usage, parser),
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
        entries = chat_reply.token_logprobs(engine.tokenizer, tokens, logprobs) if request.logprobs else None
        if not (reasoning or tools):
            return JSONResponse(reply.completion(text, job.finish or "stop", len(tokens), entries))
        answer = tool_calls.parse_answer(text, reasoning, tools, request.parallel)
        finish = "tool_calls" if answer.calls else job.finish or "stop"
        return JSONResponse(reply.completion(message(answer, options), finish, len(tokens), entries))

    return app


async def stream(engine: Engine, job: Job, reply: Reply, logprobs: bool, usage: bool,
                 parser: tool_calls.AnswerStream | None = None) -> AsyncIterator[str]:
    """Server-sent events: a chunk per new piece of text, a last chunk with the finish reason, then [DONE].

    GenAI's `TextStreamer` turns tokens into text incrementally (it holds back a character that spans tokens until
    it is whole); if the client goes away, the request is cancelled and its KV blocks are freed. With a `parser`
    the text goes out as its deltas (reasoning_content, then content until a tool call starts), and the calls in
    the last chunk's delta, with finish_reason "tool_calls"."""
    def deltas(text: str) -> list[dict[str, str]]:
        if parser is None:
            return [{"content": text}] if text else []
        return parser.feed(text)

    pieces: list[str] = []
    streamer = ov_genai.TextStreamer(engine.tokenizer, lambda text: pieces.append(text) or False)
    count, done = 0, False
    try:
        yield reply.chunk({"role": "assistant", "content": ""})
        while (update := await job.updates.get()) is not None:
            ids, probs = update
            count += len(ids)
            streamer.write(ids)
            entries = chat_reply.token_logprobs(engine.tokenizer, ids, probs) if logprobs else None
            ready = deltas("".join(pieces))
            pieces.clear()
            for i, delta in enumerate(ready or ([{}] if entries else [])):
                yield reply.chunk(delta, logprobs=entries if i == 0 else None)
        streamer.end()
        for delta in deltas("".join(pieces)):
            yield reply.chunk(delta)
        last: dict[str, Any] = {}
        finish = job.finish or "stop"
        if parser is not None:
            rest, answer = parser.finish()
            for delta in rest:
                yield reply.chunk(delta)
            if answer.calls:
                last, finish = {"tool_calls": [call.openai(i) for i, call in enumerate(answer.calls)]}, "tool_calls"
        done = True
        if job.error:
            yield f"data: {json.dumps(error_body(*job.error))}\n\n"
        else:
            yield reply.chunk(last, finish)
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
    parser.add_argument("--tool-parser", help="read tool calls in answers: hermes3 (OVMS's tool_parser)")
    parser.add_argument("--reasoning-parser", help="read a think section in answers: qwen3 (OVMS's reasoning_parser)")
    parser.add_argument("--enable-tool-guided-generation", action="store_true",
                        help="constrain every tool call to its tool's schema, also under tool_choice auto")
    parser.add_argument("--parent-pid", type=int, help="exit when this process ends")
    args = parser.parse_args(argv)
    try:
        options = ServerOptions(args.tool_parser, args.reasoning_parser, args.enable_tool_guided_generation)
    except ValueError as e:
        parser.error(str(e))
    scheduler = ov_genai.SchedulerConfig()
    for key, value in json.loads(args.scheduler).items():
        setattr(scheduler, key, value)
    properties = json.loads(args.properties)

    def factory() -> ov_genai.ContinuousBatchingPipeline:
        return ov_genai.ContinuousBatchingPipeline(args.model_dir, scheduler, args.device, properties)

    config = json.loads((args.model_dir / "config.json").read_text(encoding="utf-8"))
    app = create_app(Engine(factory), args.name or args.model_dir.name, config.get("max_position_embeddings", 2048),
                     options)
    if args.parent_pid:
        watch_parent(args.parent_pid)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

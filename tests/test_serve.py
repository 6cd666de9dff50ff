"""The lesson's OpenAI-style server takes real traffic: bad requests are refused before they reach GenAI (each
followed by a good request that must still be answered), a failing engine step ends only the requests in it, the
`openai` client's fields (stop, response_format, logprobs, stream_options) work, and a soak of mixed traffic
leaves every good answer equal to the pipeline's, no request running and no cache in use."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from nbhelpers import chat_api, chat_reply
from nbhelpers.engine import Engine, Job
from nbhelpers.errors import ServerError
from nbhelpers.server import SCHEDULER_FIELDS, free_port, scheduler_fields, start_server

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
STORY = [{"role": "user", "content": "Tell me a story about Ada the owl."}]
GOOD = {"model": "demo", "messages": STORY, "max_tokens": 64, "temperature": 0}
# (label, request body or raw bytes, status, param, words the message must hold)
REFUSED: list[tuple[str, Any, int, str | None, str]] = [
    ("not JSON", b"{not json", 400, None, "not valid JSON"),
    ("not UTF-8", b'\xff\xfe{"model"', 400, None, "not UTF-8"),
    ("nested too deep", b"[" * 100_000, 400, None, "not valid JSON"),
    ("a JSON list", b"[1, 2]", 400, None, "JSON object"),
    ("no model", {"messages": STORY}, 400, "model", "model"),
    ("no messages", {"model": "demo"}, 400, "messages", "messages"),
    ("empty messages", {"model": "demo", "messages": []}, 400, "messages", "at least one"),
    ("unknown model", {"model": "gpt-4", "messages": STORY}, 404, "model", "does not exist"),
    ("temperature -1", {**GOOD, "temperature": -1}, 400, "temperature", "from 0 (greedy) to 2"),
    ("temperature 2.5", {**GOOD, "temperature": 2.5}, 400, "temperature", "from 0 (greedy) to 2"),
    ("temperature as text", {**GOOD, "temperature": "hot"}, 400, "temperature", "valid number"),
    ("top_p 1.5", {**GOOD, "temperature": 0.7, "top_p": 1.5}, 400, "top_p", "at most 1"),
    ("top_p 0", {**GOOD, "temperature": 0.7, "top_p": 0}, 400, "top_p", "greater than 0"),
    ("presence_penalty 3", {**GOOD, "presence_penalty": 3}, 400, "presence_penalty", "-2 to 2"),
    ("frequency_penalty -2.5", {**GOOD, "frequency_penalty": -2.5}, 400, "frequency_penalty", "-2 to 2"),
    ("seed 2**70", {**GOOD, "seed": 2**70}, 400, "seed", "an integer from 0"),
    ("seed -1", {**GOOD, "seed": -1}, 400, "seed", "an integer from 0"),
    ("n 3", {**GOOD, "n": 3}, 400, "n", "n must be 1"),
    ("top_logprobs 2", {**GOOD, "logprobs": True, "top_logprobs": 2}, 400, "top_logprobs", "chosen token only"),
    ("max_tokens 0", {**GOOD, "max_tokens": 0}, 400, "max_tokens", "at least 1"),
    ("max_tokens beyond the context", {**GOOD, "max_tokens": 10**6}, 400, "max_tokens", "ask for at most"),
    ("max_completion_tokens beyond the context", {**GOOD, "max_tokens": None, "max_completion_tokens": 10**6}, 400,
     "max_completion_tokens", "ask for at most"),
    ("a prompt longer than the context", {**GOOD, "messages": [{"role": "user", "content": "owl " * 5000}]}, 400,
     "messages", "model's context is 2048 tokens"),
    ("an unknown role", {**GOOD, "messages": [{"role": "robot", "content": "hi"}]}, 400, "messages", "not a role"),
    ("a tool message", {**GOOD, "messages": [{"role": "tool", "content": "42"}]}, 400, "messages",
     "reads no tool calls"),
    ("an image part", {**GOOD, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, 400, "messages", "text parts"),
    ("an audio part", {**GOOD, "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}, 400, "messages", "text parts"),
    ("an unknown field", {**GOOD, "frobnicate": True}, 400, "frobnicate", "unknown field 'frobnicate'"),
    ("tools", {**GOOD, "tools": [{"type": "function", "function": {"name": "f"}}]}, 400, "tools",
     'start it with tool_parser="hermes3"'),
    ("logit_bias", {**GOOD, "logit_bias": {"1": 5}}, 400, "logit_bias", "per-token bias"),
    ("five stop strings", {**GOOD, "stop": list("abcde")}, 400, "stop", "1 to 4 non-empty"),
    ("an empty stop string", {**GOOD, "stop": ""}, 400, "stop", "non-empty"),
    ("stream_options without stream", {**GOOD, "stream_options": {"include_usage": True}}, 400, "stream_options",
     "only allowed with stream"),
    ("not a JSON schema", {**GOOD, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "nonsense"}}}}, 400, "response_format", "not a valid JSON schema"),
    ("json_schema without its schema", {**GOOD, "response_format": {"type": "json_schema"}}, 400,
     "response_format", "goes with type 'json_schema'"),
    ("response_format of an unknown type", {**GOOD, "response_format": {"type": "yaml"}}, 400, "response_format",
     "response_format.type"),
    # a valid JSON schema xgrammar cannot compile: GenAI's step() fails, this request ends with GenAI's reason
    ("a schema no string can satisfy", {**GOOD, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"enum": []}}}}, 500, None, "the engine failed while running this request"),
]


@pytest.mark.parametrize(("label", "body", "status", "param", "words"), REFUSED, ids=[case[0] for case in REFUSED])
def test_bad_requests_are_refused_before_genai_with_the_field_and_the_fix(label: str, body: Any, status: int,
                                                                         param: str | None, words: str) -> None:
    if status == 500 or label in ("unknown model", "max_tokens beyond the context",
                                  "max_completion_tokens beyond the context", "a prompt longer than the context"):
        return  # need the model: checked against the running server below
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(chat_api.RequestError) as refused:
        chat_api.parse_request(raw)
    assert (refused.value.status, refused.value.param) == (status, param), refused.value.message
    assert words in refused.value.message, refused.value.message


def test_what_clients_send_is_taken() -> None:
    request = chat_api.parse_request(json.dumps({
        "model": "m", "max_completion_tokens": 9, "stop": "\n", "seed": chat_api.MAX_SEED, "n": 1,
        "top_logprobs": 0, "logprobs": True, "presence_penalty": 0.5, "frequency_penalty": -0.5,
        "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "developer", "content": None},
                     {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "you"}]}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
    }).encode())
    assert request.chat() == [{"role": "system", "content": ""}, {"role": "user", "content": "Hi you"}]
    config = chat_api.generation_config(request, room=100)
    assert config.max_new_tokens == 9 and config.stop_strings == {"\n"} and config.logprobs == 1
    assert config.rng_seed == chat_api.MAX_SEED and config.do_sample and config.temperature == 1
    assert (config.presence_penalty, config.frequency_penalty) == (0.5, -0.5)
    assert json.loads(config.structured_output_config.json_schema) == {"type": "object"}
    config.validate()


def test_defaults_are_openais_sampling_at_temperature_1_with_a_fresh_seed() -> None:
    plain = chat_api.parse_request(json.dumps({"model": "m", "messages": STORY}).encode())
    first, second = (chat_api.generation_config(plain, room=50) for _ in range(2))
    assert first.do_sample and first.temperature == 1 and first.top_p == 1 and first.max_new_tokens == 50
    assert first.rng_seed != second.rng_seed, "a fresh seed per request"
    greedy = chat_api.generation_config(chat_api.parse_request(json.dumps({**GOOD, "max_tokens": 7}).encode()), 50)
    assert greedy.is_greedy_decoding() and greedy.max_new_tokens == 7
    as_json = chat_api.parse_request(json.dumps({**GOOD, "response_format": {"type": "json_object"}}).encode())
    assert json.loads(chat_api.generation_config(as_json, 50).structured_output_config.json_schema) == {
        "type": "object"}
    assert chat_reply.error_body(404, "no such model", "model")["error"]["type"] == "not_found_error"


class FakeHandle:
    def __init__(self, pipe: FakePipe) -> None:
        self.pipe, self.cancelled, self.ids = pipe, False, []

    def can_read(self) -> bool:
        return bool(self.ids)

    def read(self) -> dict[int, Any]:
        class Output:
            generated_ids, generated_log_probs = self.ids, [0.0] * len(self.ids)
            finish_reason = type("Reason", (), {"name": "STOP"})

        self.ids = []
        return {0: Output}

    def get_status(self) -> Any:
        from openvino_genai import GenerationStatus

        return GenerationStatus.FINISHED if self.pipe.steps_ok else GenerationStatus.RUNNING

    def cancel(self) -> None:
        self.cancelled = True


class FakePipe:
    """A pipeline whose add_request refuses max_new_tokens 13 and whose step fails `fail_steps` times."""

    def __init__(self, fail_steps: int) -> None:
        self.fail_steps, self.steps_ok, self.handles = fail_steps, 0, []

    def get_tokenizer(self) -> None:
        return None

    def add_request(self, _id: int, _ids: Any, config: Any) -> FakeHandle:
        if config.max_new_tokens == 13:
            raise RuntimeError("Check 'x' failed at /home/ci/src/pipeline.cpp:12:\nunlucky number")
        self.handles.append(FakeHandle(self))
        return self.handles[-1]

    def has_non_finished_requests(self) -> bool:
        return False

    def step(self) -> None:
        if self.fail_steps:
            self.fail_steps -= 1
            raise RuntimeError("the model exploded")
        self.steps_ok += 1
        for handle in self.handles:
            handle.ids = [7]
        self.handles = []

    def get_metrics(self) -> Any:
        return type("Metrics", (), {"requests": 0, "cache_usage": 0.0})


@pytest.mark.parametrize("fail_steps", [1, 2], ids=["the pipeline recovers", "a fresh pipeline"])
def test_a_failing_engine_ends_only_the_requests_it_was_running(fail_steps: int) -> None:
    import openvino_genai as ov_genai

    built: list[FakePipe] = []

    def factory() -> FakePipe:
        built.append(FakePipe(fail_steps if not built else 0))
        return built[-1]

    engine = Engine(factory)

    async def answer(max_new_tokens: int) -> tuple[list[int], tuple[int, str] | None]:
        job = Job(None, ov_genai.GenerationConfig(max_new_tokens=max_new_tokens), asyncio.get_running_loop())
        engine.inbox.put(job)
        tokens = []
        while (update := await asyncio.wait_for(job.updates.get(), 10)) is not None:
            tokens += update[0]
        return tokens, job.error

    async def scenario() -> list:
        return [await answer(5), await answer(13), await answer(5)]

    in_failed_step, refused, later = asyncio.run(scenario())
    assert in_failed_step[1][0] == 500 and "the model exploded" in in_failed_step[1][1]
    assert refused == ([], (500, "the engine refused the request: Check 'x' failed unlucky number"))
    assert later == ([7], None), "the next request is answered"
    assert engine.failures == {"step": 1, "request": 1, "restarts": fail_steps - 1} and len(built) == fail_steps


def test_scheduler_fields_and_a_free_port() -> None:
    import openvino_genai as ov_genai

    config = ov_genai.SchedulerConfig()
    config.cache_size, config.enable_prefix_caching = 2, True
    fields = scheduler_fields(config)
    assert list(fields) == list(SCHEDULER_FIELDS) and fields["cache_size"] == 2 and fields["enable_prefix_caching"]
    assert 0 < free_port() < 65536


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="exited with code"):
        start_server(tmp_path / "missing", timeout=60)


QUESTIONS = ["Tell me a story about Ada the owl.", "What is the capital of France?", "Write a poem about the sea.",
             "Tell me a story about Bob the fox."]


@pytest.fixture(scope="module")
def served() -> tuple[Any, dict[str, str], Path]:
    """The demo LLM served at f32: (server, {question: LLMPipeline's greedy answer of 64 tokens}, its folder)."""
    import openvino_genai as ov_genai

    from nbhelpers.export import export_llm

    folder = export_llm("nbhelpers/demo-llm", "fp16")
    pipe = ov_genai.LLMPipeline(folder, "CPU", **F32)
    expected = {q: str(pipe.generate(q, max_new_tokens=64, do_sample=False)) for q in QUESTIONS}
    with start_server(folder, name="demo", scheduler={"num_kv_blocks": 256}, properties=F32) as server:
        yield server, expected, folder


def post(server: Any, body: Any, timeout: float = 30) -> Any:
    import httpx

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{server.url}/v3/chat/completions", content=raw, timeout=timeout,
                      headers={"content-type": "application/json"})


@pytest.mark.slow
def test_the_openai_client_gets_the_pipelines_text_streamed_and_not(served: tuple) -> None:
    import openai

    server, expected, _ = served
    client = openai.OpenAI(base_url=server.base_url, api_key="unused")
    whole = client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0)
    assert whole.choices[0].message.content == expected[QUESTIONS[0]] and whole.choices[0].finish_reason == "stop"
    assert whole.usage.completion_tokens > 0 and whole.usage.prompt_tokens > 0
    chunks = client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0, stream=True)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == expected[QUESTIONS[0]] and len(pieces) > whole.usage.completion_tokens // 2, pieces
    assert [m.id for m in client.models.list()] == ["demo"]


@pytest.mark.slow
def test_each_bad_request_is_refused_and_the_next_good_one_answered(served: tuple) -> None:
    server, expected, _ = served
    for label, body, status, param, words in REFUSED:
        response = post(server, body)
        error = response.json()["error"]
        assert (response.status_code, error["param"]) == (status, param), (label, response.text)
        assert words in error["message"], (label, error["message"])
        good = post(server, GOOD)
        assert good.status_code == 200 and good.json()["choices"][0]["message"]["content"] == expected[QUESTIONS[0]], \
            (label, good.text)
    stats = post_stats(server)
    assert stats["failures"] == {"step": 1, "request": 0, "restarts": 0}, "one failed step, recovered without restart"


def post_stats(server: Any) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{server.url}/stats", timeout=10).json()


@pytest.mark.slow
def test_the_openai_clients_stop_response_format_logprobs_and_usage(served: tuple) -> None:
    import openai
    import openvino_genai as ov_genai

    server, expected, folder = served
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    story = expected[QUESTIONS[0]]
    stop = " " + " ".join(story.split()[5:7])  # two words from the middle, on a token boundary: several tokens
    cut = client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0, stop=[stop])
    assert cut.choices[0].message.content == story[:story.index(stop)] and cut.choices[0].finish_reason == "stop"
    chunks = list(client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0,
                                                 stop=stop, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == story[:story.index(stop)]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == cut.usage.completion_tokens

    as_object = client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0,
                                               response_format={"type": "json_object"})
    assert as_object.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(as_object.choices[0].message.content), dict)
    schema = {"type": "object", "properties": {"name": {"enum": ["Ada", "Bob"]}}, "required": ["name"]}
    constrained = client.chat.completions.create(model="demo", messages=STORY, max_tokens=24, temperature=0,
                                                 response_format={"type": "json_schema", "json_schema": {
                                                     "name": "owl", "schema": schema}})
    config = ov_genai.GenerationConfig(max_new_tokens=24, do_sample=False)
    config.structured_output_config = ov_genai.StructuredOutputConfig(json_schema=json.dumps(schema))
    alone = str(ov_genai.LLMPipeline(folder, "CPU", **F32).generate(QUESTIONS[0], config))
    assert constrained.choices[0].message.content == alone != story[:len(alone)], "GenAI's structured output"

    scored = client.chat.completions.create(model="demo", messages=STORY, max_tokens=8, temperature=0, logprobs=True)
    entries = scored.choices[0].logprobs.content
    assert len(entries) == scored.usage.completion_tokens == 8 and all(e.logprob <= 0 for e in entries)
    assert "".join(e.token for e in entries) == scored.choices[0].message.content

    sampled = [client.chat.completions.create(model="demo", messages=STORY, max_tokens=24, seed=seed,
                                              temperature=1.5).choices[0].message.content for seed in (1, 1, 2)]
    assert sampled[0] == sampled[1] != sampled[2], "the same seed samples the same text, another seed another"


@pytest.mark.slow
def test_a_client_that_leaves_mid_stream_frees_its_blocks(served: tuple) -> None:
    import httpx

    server, expected, _ = served
    with httpx.stream("POST", f"{server.url}/v3/chat/completions", json={**GOOD, "stream": True}, timeout=30) as r:
        for i, _ in enumerate(r.iter_lines()):
            if i == 6:
                break  # leave after a few chunks
    stats = wait_idle(server)
    assert (stats["requests"], stats["cache_usage"], stats["running"]) == (0, 0, 0), stats
    again = post(server, GOOD).json()
    assert again["choices"][0]["message"]["content"] == expected[QUESTIONS[0]], "and it goes on serving"


def wait_idle(server: Any, seconds: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        stats = post_stats(server)
        if (stats["requests"], stats["cache_usage"], stats["running"]) == (0, 0, 0) or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


# The server's RSS over a second soak, after a first one grew it (by about 80 MiB: allocator pools, and the CPU
# plugin's kernels for the batch shapes it meets). Measured on an AMD EPYC, 3 runs: +25 to +28 MiB over the second
# soak. Under concurrent traffic it keeps growing more slowly (10 soaks: +80, +25, +15, +9, +9, +7, +8, +7, +4,
# +4 MiB), about half of it the CPU plugin's runtime cache (CPU_RUNTIME_CACHE_CAPACITY 0 halves it); 960 requests
# one after another grow it once by 31 MiB, then by 0. The bound allows the measured growth with room for noise;
# the KV-cache or request state of a leaked request would also show in /stats, which must read 0.
SOAK_RSS_GROWTH_MIB = 48


def soak(server: Any, expected: dict[str, str], clients: int = 32, turns: int = 3) -> list[tuple[str, Any]]:
    """`clients` threads at once, `turns` requests each: good ones streamed or not (result: the text is the
    pipeline's), one that leaves after its first line, bad ones (result: the status). Returns (kind, result)s."""
    import httpx

    outcomes: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for turn in range(turns):
            question = QUESTIONS[(k + turn) % len(QUESTIONS)]
            body = {**GOOD, "messages": [{"role": "user", "content": question}]}
            kind = ("stream", "whole", "leave", "bad")[(k + turn) % 4]
            if kind == "bad":
                result: Any = post(server, {**body, "temperature": -1, "n": 3} if k % 2 else b"\xff{").status_code
            elif kind == "leave":
                with httpx.stream("POST", f"{server.url}/v3/chat/completions", json={**body, "stream": True},
                                  timeout=60) as r:
                    next(iter(r.iter_lines()))
                result = "left"
            elif kind == "stream":
                text = ""
                with httpx.stream("POST", f"{server.url}/v3/chat/completions", json={**body, "stream": True},
                                  timeout=60) as r:
                    for line in r.iter_lines():
                        if line.startswith("data: {"):
                            choices = json.loads(line[6:]).get("choices") or [{}]
                            text += choices[0].get("delta", {}).get("content") or ""
                result = text == expected[question]
            else:
                result = post(server, body, timeout=60).json()["choices"][0]["message"]["content"] == expected[question]
            with lock:
                outcomes.append((kind, result))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return outcomes


@pytest.mark.slow
def test_a_soak_of_mixed_traffic_leaves_every_answer_right_and_nothing_running(served: tuple) -> None:
    import psutil

    server, expected, _ = served
    process = psutil.Process(server.process.pid)
    rss, seconds, stats = [process.memory_info().rss], [], []
    for _ in range(2):
        start = time.perf_counter()
        outcomes = soak(server, expected)
        seconds.append(time.perf_counter() - start)
        stats.append(wait_idle(server))
        rss.append(process.memory_info().rss)
        assert len(outcomes) == 96
        assert all(result is True for kind, result in outcomes if kind in ("stream", "whole")), outcomes
        assert all(result == 400 for kind, result in outcomes if kind == "bad"), outcomes
    growth = [(after - before) / 2**20 for before, after in zip(rss[:-1], rss[1:], strict=True)]
    print(f"soak: 2 x 96 requests from 32 clients in {seconds[0]:.1f} s and {seconds[1]:.1f} s; "
          f"RSS {rss[0] / 2**20:.0f} MiB, grew {growth[0]:+.1f} then {growth[1]:+.1f} MiB")
    for after in stats:
        assert (after["requests"], after["cache_usage"], after["running"], after["waiting"]) == (0, 0, 0, 0), after
    assert growth[1] <= SOAK_RSS_GROWTH_MIB, f"the server's RSS grew {growth[1]:.1f} MiB over the second soak"


def test_graph_options_reads_the_llm_options_of_a_graph() -> None:
    from nbhelpers.ovms import LLM_CALCULATOR_OPTIONS, graph_options

    graph = """node: {
  node_options: {
      [type.googleapis.com / mediapipe.LLMCalculatorOptions]: {
          models_path: "./",  # the folder of the graph
          cache_size: 2,
          plugin_config: '{"KV_CACHE_PRECISION": "u8"}'
      }
  }
}"""
    assert graph_options(graph) == {"models_path": '"./"', "cache_size": "2",
                                    "plugin_config": '\'{"KV_CACHE_PRECISION": "u8"}\''}
    assert set(graph_options(graph)) <= set(LLM_CALCULATOR_OPTIONS) and len(LLM_CALCULATOR_OPTIONS) == 26
    with pytest.raises(ValueError, match=r"no .*LLMCalculatorOptions\] block"):
        graph_options('node: { calculator: "HttpLLMCalculator" }')

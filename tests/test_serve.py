"""The lesson's OpenAI-style server: the `openai` client gets the pipeline's greedy text, bad requests get clear
errors while a concurrent stream still completes, and a client that leaves mid-stream frees its KV blocks."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from nbhelpers import serve
from nbhelpers.errors import ServerError
from nbhelpers.server import SCHEDULER_FIELDS, free_port, scheduler_fields, start_server

F32 = {"INFERENCE_PRECISION_HINT": "f32"}
STORY = [{"role": "user", "content": "Tell me a story about Ada the owl."}]


def test_scheduler_fields_and_a_free_port() -> None:
    import openvino_genai as ov_genai

    config = ov_genai.SchedulerConfig()
    config.cache_size, config.enable_prefix_caching = 2, True
    fields = scheduler_fields(config)
    assert list(fields) == list(SCHEDULER_FIELDS) and fields["cache_size"] == 2 and fields["enable_prefix_caching"]
    assert 0 < free_port() < 65536


def test_generation_config_is_greedy_unless_a_temperature_is_asked() -> None:
    greedy = serve.generation_config(serve.ChatRequest(model="m", messages=STORY, max_tokens=7), limit=100)
    assert greedy.max_new_tokens == 7 and not greedy.do_sample
    sampled = serve.generation_config(serve.ChatRequest(model="m", messages=STORY, temperature=0.7, seed=3), 100)
    assert sampled.do_sample and sampled.rng_seed == 3 and sampled.max_new_tokens == 100
    assert json.loads(serve.error(404, "no such model", "model").body)["error"]["type"] == "not_found_error"


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="exited with code"):
        start_server(tmp_path / "missing", timeout=60)


@pytest.fixture(scope="module")
def served() -> tuple[object, str]:
    """The demo LLM served at f32: (server, the text LLMPipeline gives STORY greedily)."""
    import openvino_genai as ov_genai

    from nbhelpers.export import export_llm

    folder = export_llm("nbhelpers/demo-llm", "fp16")
    expected = str(ov_genai.LLMPipeline(folder, "CPU", **F32).generate(STORY[0]["content"], max_new_tokens=64,
                                                                        do_sample=False))
    with start_server(folder, name="demo", scheduler={"num_kv_blocks": 64}, properties=F32) as server:
        yield server, expected


@pytest.mark.slow
def test_the_openai_client_gets_the_pipelines_text_streamed_and_not(served: tuple[object, str]) -> None:
    import openai

    server, expected = served
    client = openai.OpenAI(base_url=server.base_url, api_key="unused")
    whole = client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0)
    assert whole.choices[0].message.content == expected and whole.choices[0].finish_reason == "stop"
    assert whole.usage.completion_tokens > 0 and whole.usage.prompt_tokens > 0
    chunks = client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected
    assert [m.id for m in client.models.list()] == ["demo"]


@pytest.mark.slow
def test_bad_requests_get_clear_errors_while_a_stream_completes(served: tuple[object, str]) -> None:
    import httpx
    import openai

    server, expected = served
    client = openai.OpenAI(base_url=server.base_url, api_key="unused")
    streamed: list[str] = []

    def stream() -> None:
        for chunk in client.chat.completions.create(model="demo", messages=STORY, max_tokens=64, temperature=0,
                                                    stream=True):
            if chunk.choices:
                streamed.append(chunk.choices[0].delta.content or "")

    worker = threading.Thread(target=stream)
    worker.start()
    url = f"{server.url}/v3/chat/completions"
    cases = {"{not json": 400, json.dumps({"model": "demo", "messages": []}): 400,
             json.dumps({"model": "gpt-4", "messages": STORY}): 404,
             json.dumps({"model": "demo", "messages": STORY, "max_tokens": 0}): 400,
             json.dumps({"model": "demo", "messages": STORY, "max_tokens": 10**6}): 400}
    for body, status in cases.items():
        response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["message"]
    worker.join(timeout=60)
    assert "".join(streamed) == expected, "the concurrent stream completed unharmed"


@pytest.mark.slow
def test_a_client_that_leaves_mid_stream_frees_its_blocks(served: tuple[object, str]) -> None:
    import time

    import httpx

    server, expected = served
    body = {"model": "demo", "messages": STORY, "max_tokens": 64, "stream": True}
    with httpx.stream("POST", f"{server.url}/v3/chat/completions", json=body, timeout=30) as response:
        for i, _ in enumerate(response.iter_lines()):
            if i == 6:
                break  # leave after a few chunks
    for _ in range(50):
        stats = httpx.get(f"{server.url}/stats").json()
        if stats["requests"] == 0 and stats["cache_usage"] == 0:
            break
        time.sleep(0.1)
    assert stats == {"requests": 0, "cache_usage": 0, "running": 0}, stats
    again = httpx.post(f"{server.url}/v3/chat/completions", json={**body, "stream": False}, timeout=30).json()
    assert again["choices"][0]["message"]["content"] == expected, "and it goes on serving"

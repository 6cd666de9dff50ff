"""The engine behind the lesson's endpoint: one thread owns a `ContinuousBatchingPipeline`, adds requests, steps,
and hands each request its new tokens; no request, and no failing step, stops it serving the others.

An error while adding or reading one request ends that request (500 with GenAI's message). If `step()` fails, the
requests in that step end with the reason, all of them are cancelled (GenAI 2026.4.1 steps again only then:
repro/genai_step_failure.py), and if the next step still fails a fresh pipeline is built. `encode_prompt` makes a
chat prompt's token ids as `generate()` does. `nbhelpers.serve` puts this behind HTTP.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openvino as ov
import openvino_genai as ov_genai

FINISH = {"STOP": "stop", "LENGTH": "length"}
POLL_S = 0.02  # how often an idle engine looks for new requests, and a waiting client for a disconnect


def engine_message(error: BaseException) -> str:
    """GenAI's exception text without the build machine's source paths ("Check 'x' failed at /home/...cpp:12:")."""
    text = re.sub(r"\s*at /\S+:\d+:?", "", str(error)).strip()
    return re.sub(r"\s+", " ", text)[:500] or type(error).__name__


@dataclass
class Job:
    """One request in flight: (token ids, log-probs) updates arrive on `updates`; None marks the end."""

    input_ids: ov.Tensor
    config: ov_genai.GenerationConfig
    loop: asyncio.AbstractEventLoop
    updates: asyncio.Queue = field(default_factory=asyncio.Queue)
    finish: str | None = None
    error: tuple[int, str] | None = None  # (HTTP status, message)
    handle: Any = None
    cancelled: bool = False

    def push(self, item: tuple[list[int], list[float]] | None) -> None:
        self.loop.call_soon_threadsafe(self.updates.put_nowait, item)

    def fail(self, status: int, message: str) -> None:
        self.error = (status, message)
        self.push(None)


class Engine:
    """Owns the pipeline that `factory` builds; a daemon thread adds new jobs, steps, and hands each job its tokens."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.pipe = factory()
        self.tokenizer = self.pipe.get_tokenizer()
        self.inbox: queue.Queue[Job] = queue.Queue()
        self.cancels: queue.Queue[Job] = queue.Queue()
        self.running: dict[int, Job] = {}
        self.stats: dict[str, float] = {"requests": 0, "cache_usage": 0.0}
        self.failures = {"step": 0, "request": 0, "restarts": 0}
        self._ids = iter(range(1 << 62))
        self._stale = False  # a request left since the last step: one more step frees its blocks and counts it
        threading.Thread(target=self._run, daemon=True, name="engine").start()

    def _run(self) -> None:
        while True:
            try:
                self._turn()
            except Exception:  # a bug in this loop itself: end what is in flight, keep serving
                traceback.print_exc()
                self._end_all(500, "the server's engine loop failed; see the server log")

    def _turn(self) -> None:
        self._admit()
        while not self.cancels.empty():
            job = self.cancels.get()
            if id(job) in self.running:
                job.cancelled = True
                self._cancel(job)  # a cancel that fails must not end the other requests
        if self.running or self._stale or self.pipe.has_non_finished_requests():
            self._stale = bool(self.running)
            try:
                self.pipe.step()
            except Exception as e:
                self._step_failed(e)
                return
            self._deliver()

    def _admit(self) -> None:
        """Add every waiting job (waiting a moment if nothing runs); a job GenAI refuses ends alone."""
        block = not self.running and not self._stale
        while True:
            try:
                job = self.inbox.get(timeout=POLL_S) if block else self.inbox.get_nowait()
            except queue.Empty:
                return
            block = False
            try:
                job.handle = self.pipe.add_request(next(self._ids), job.input_ids, job.config)
            except Exception as e:
                self.failures["request"] += 1
                job.fail(500, f"the engine refused the request: {engine_message(e)}")
                continue
            self.running[id(job)] = job

    def _deliver(self) -> None:
        for key, job in list(self.running.items()):
            try:
                if job.handle.can_read():
                    for output in job.handle.read().values():
                        job.push((list(output.generated_ids), list(output.generated_log_probs)))
                        job.finish = FINISH.get(output.finish_reason.name, job.finish)
                status = job.handle.get_status()
            except Exception as e:  # reading one request failed: end it, not the others
                self.failures["request"] += 1
                del self.running[key]
                self._cancel(job)
                job.fail(500, f"the engine failed while reading this request: {engine_message(e)}")
                continue
            if status != ov_genai.GenerationStatus.RUNNING:
                del self.running[key]
                if status == ov_genai.GenerationStatus.IGNORED and not job.cancelled:
                    job.fail(503, "the request does not fit in the server's KV-cache: shorten it, or start the "
                                  "server with more cache (SchedulerConfig.num_kv_blocks or cache_size)")
                else:
                    job.push(None)
        metrics = self.pipe.get_metrics()
        self.stats = {"requests": metrics.requests, "cache_usage": metrics.cache_usage}

    @staticmethod
    def _cancel(job: Job) -> None:
        try:
            job.handle.cancel()
        except Exception:  # noqa: S110  the request is ending anyway
            pass

    def _end_all(self, status: int, message: str) -> None:
        for job in self.running.values():
            self._cancel(job)
            job.fail(status, message)
        self.running.clear()

    def _step_failed(self, error: Exception) -> None:
        """End the requests of the failed step with its reason, then make the pipeline usable again: a step with
        them cancelled frees them; if that fails too, or requests remain, build a fresh pipeline."""
        self.failures["step"] += 1
        traceback.print_exception(error)
        self._end_all(500, f"the engine failed while running this request: {engine_message(error)}")
        try:
            self.pipe.step()
            healthy = not self.pipe.has_non_finished_requests()
        except Exception:
            healthy = False
        if not healthy:
            self.failures["restarts"] += 1
            self.pipe = self.factory()
        self._stale = False


def encode_prompt(tokenizer: ov_genai.Tokenizer, messages: list[dict[str, Any]],
                  tools: list[dict[str, Any]] | None = None, extra_context: dict[str, Any] | None = None) -> ov.Tensor:
    """The chat prompt's token ids as `generate()` makes them: the chat template, then the tokenizer without its
    special tokens (the template writes the ones the model needs; `add_request(id, str, ...)` would add a BOS).
    `tools` and `extra_context` (variables such as enable_thinking) go to the template through GenAI's ChatHistory."""
    history = ov_genai.ChatHistory(messages)
    if tools:
        history.set_tools(tools)
    if extra_context:
        history.set_extra_context(extra_context)
    prompt = tokenizer.apply_chat_template(history, add_generation_prompt=True)
    return tokenizer.encode(prompt, add_special_tokens=False).input_ids

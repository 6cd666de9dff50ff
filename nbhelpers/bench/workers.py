"""One worker process per engine configuration: a crash or a hang becomes a result, not the end of the benchmark.

An `EngineSpec` names the engine class by import path ("module:Class") and its keyword arguments, so that
a fresh process (multiprocessing "spawn") can build it; tests pass fakes the same way. `run_interleaved`
loads one worker per spec, one at a time, then asks every worker in turn for repetition 0, 1, ... (warm-up
first, then the measured runs, rotated across the workers so drift on the machine hits all alike), each with
a time limit. A worker that dies (a signal such as SIGSEGV, an exit, a Python error) or does not answer in
time is killed and reported as a failed `Measured` with the end of its log; if it crashed or hung and its spec
declares a `fallback`, that configuration is started in a fresh worker and joins the rotation. The others go on.

Each worker writes its stdout and stderr (and a Python stack on a fatal signal) to its own log file, and
exits by itself when the benchmark's process disappears.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

TAIL_LINES = 20


@dataclass
class EngineSpec:
    """How a worker builds one engine configuration: `factory` ("module:Class") called with `kwargs`.

    The class must take `kwargs`, have `weight_bytes` and `generate(prompt, new_tokens)` returning a dataclass
    (engines.Timing), and may have `build_info()` returning a JSON-ready dict. `fallback` is the configuration
    to try once in a fresh worker when this one crashes or hangs (not when it raises a Python error).
    """

    engine: str
    precision: str
    factory: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    fallback: EngineSpec | None = None

    @property
    def label(self) -> str:
        """'engine precision', as rows are named."""
        return f"{self.engine} {self.precision}"

    def create(self) -> Any:
        """Import the factory and call it with `kwargs` (in the worker)."""
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)(**self.kwargs)


@dataclass
class Measured:
    """What one engine configuration gave: `status` ("ok", "crashed: SIGSEGV", "timed out after 600 s", "failed:
    ..."), what its worker reported when loaded (`info`: weight_bytes, build), the measured runs' results
    (warm-up dropped), where it failed ("loading", "run 2") and the last lines of its log."""

    spec: EngineSpec
    log: Path
    status: str = "ok"
    info: dict[str, Any] = field(default_factory=dict)
    results: list[Any] = field(default_factory=list)
    failed_during: str = ""
    stderr_tail: str = ""


class WorkerFailed(Exception):
    """A worker died, hung or raised; `status` says which in plain words, `native` is True for a crash or a hang."""

    def __init__(self, status: str, tail: str, native: bool) -> None:
        super().__init__(status)
        self.status, self.tail, self.native = status, tail, native


def exit_status(exitcode: int | None) -> str:
    """Describe how a process ended: 'crashed: SIGSEGV' for a signal, 'failed: exit code N' otherwise."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"crashed: {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"crashed: signal {-exitcode}"
    return f"failed: exit code {exitcode}"


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """Return the last `lines` lines of the log at `path` ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class Worker:
    """The parent's handle on one worker process; the constructor waits until the engine is loaded.

    Raises WorkerFailed when loading fails or takes longer than `timeout` seconds.
    """

    def __init__(self, spec: EngineSpec, log: Path, timeout: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.log, self.calls = log, 0
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(spec, child_end, str(log), os.getpid()), daemon=True,
                                       name=f"bench worker {spec.label}")
        self.process.start()
        child_end.close()  # so that the worker's death reads as end-of-file here
        self.info: dict[str, Any] = self._receive(timeout)

    def call(self, request: Any, timeout: float) -> Any:
        """Send `request` (the repetition's generate calls) and return the worker's answer within `timeout` s."""
        with contextlib.suppress(OSError):  # already dead: _receive says how
            self.conn.send(("run", request))
        answer = self._receive(timeout)
        self.calls += 1
        return answer

    def _receive(self, timeout: float) -> Any:
        if not self.conn.poll(timeout):
            if hasattr(signal, "SIGUSR1"):  # ask for the worker's Python stacks (in its log) before killing it
                with contextlib.suppress(OSError):
                    os.kill(self.process.pid, signal.SIGUSR1)
                time.sleep(1)
            self.kill()
            raise WorkerFailed(f"timed out after {timeout:g} s", log_tail(self.log), native=True)
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(10)
            status = exit_status(self.process.exitcode)
            self.kill()
            raise WorkerFailed(status, log_tail(self.log), native=status.startswith("crashed")) from None
        if kind == "error":
            self.stop()
            raise WorkerFailed(f"failed: {payload}", log_tail(self.log), native=False)
        return payload

    def stop(self) -> None:
        """Ask the worker to exit (it frees its model); kill it if it does not within 30 s."""
        with contextlib.suppress(OSError):
            self.conn.send(("stop", None))
        self.process.join(30)
        self.kill()

    def kill(self) -> None:
        """Kill the worker now (no-op when it has exited) and close the pipe."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def run_interleaved(specs: list[EngineSpec], request: Callable[[int], Any], warmup: int, repeats: int,
                    timeout: float, log_dir: Path, on_run: Callable[[Measured, int, Any], None] | None = None,
                    on_done: Callable[[Measured], None] | None = None,
                    load_timeout: float | None = None) -> list[Measured]:
    """Measure every spec in its own worker, repetitions rotated across workers; return one Measured per run config.

    `request(rep)` is what repetition `rep` asks of a worker; the first `warmup` answers are dropped.
    `on_run(measured, rep, answer)` is called after each answer, `on_done(measured)` as soon as a configuration
    is finished or has failed. Only the workers of `specs` live at once, each stopped when done. Returned in the
    order of `specs`, each fallback right after the configuration it replaced. `load_timeout` defaults to `timeout`.
    """
    order = {id(s): (i, depth) for i, spec in enumerate(specs) for depth, s in enumerate(_chain(spec))}
    finished: list[Measured] = []
    active: list[tuple[Worker, Measured]] = []

    def finish(measured: Measured) -> None:
        finished.append(measured)
        if on_done:
            on_done(measured)

    def fail(measured: Measured, failure: WorkerFailed, during: str) -> None:
        measured.status, measured.stderr_tail, measured.failed_during = failure.status, failure.tail, during
        finish(measured)
        if failure.native and measured.spec.fallback:
            start(measured.spec.fallback)

    def start(spec: EngineSpec) -> None:
        measured = Measured(spec, log_dir / f"{_slug(spec.label)}.log")
        try:
            worker = Worker(spec, measured.log, load_timeout or timeout)
        except WorkerFailed as failure:
            fail(measured, failure, "loading")
            return
        measured.info = worker.info
        active.append((worker, measured))

    try:
        for spec in specs:
            start(spec)
        while active:
            for worker, measured in list(active):
                rep = worker.calls
                try:
                    answer = worker.call(request(rep), timeout)
                except WorkerFailed as failure:
                    active.remove((worker, measured))
                    fail(measured, failure, f"run {rep}" + (", warm-up" if rep < warmup else ""))
                    continue
                if rep >= warmup:
                    measured.results.append(answer)
                if on_run:
                    on_run(measured, rep, answer)
                if worker.calls == warmup + repeats:
                    active.remove((worker, measured))
                    worker.stop()
                    finish(measured)
    finally:
        for worker, _ in active:  # interrupted: leave no worker behind
            worker.kill()
    return sorted(finished, key=lambda m: order[id(m.spec)])


def _chain(spec: EngineSpec | None) -> list[EngineSpec]:
    return [spec, *_chain(spec.fallback)] if spec else []


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "-" for c in text).strip("-")


# --- in the worker process ---------------------------------------------------------------------------------------

def _serve(spec: EngineSpec, conn: Connection, log: str, parent: int) -> None:
    """The worker: send the loaded engine's info, then answer run requests until told to stop or the parent goes."""
    _redirect_output(log)
    _exit_with_parent(parent)
    try:
        engine = spec.create()
        conn.send(("ready", {"weight_bytes": engine.weight_bytes,
                             "build": engine.build_info() if hasattr(engine, "build_info") else {}}))
        while True:
            try:
                kind, request = conn.recv()
            except EOFError:
                return
            if kind == "stop":
                return
            conn.send(("ok", [dataclasses.asdict(engine.generate(prompt, n)) for prompt, n in request]))
    except Exception as exc:  # a Python error: report it in one line, the traceback goes to the log
        traceback.print_exc()
        first = str(exc).strip().splitlines()[:1]
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {first[0][:200] if first else ''}".rstrip(": ")))


def _redirect_output(log: str) -> None:
    """Send this process's stdout and stderr (Python's and native code's) to `log`; dump the Python stack on a
    fatal signal or on SIGUSR1; write no core file."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (the process's own stdout)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    faulthandler.enable(all_threads=False)  # the crashing thread only: its stack fits in the row's tail
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # where a hung worker is stuck (Worker._receive)
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _exit_with_parent(parent: int) -> None:
    """Exit when the benchmark's process is gone (killed): a hung engine must not outlive it."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit with parent").start()

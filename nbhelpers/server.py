"""Start and stop the lesson's OpenAI-style server (`python -m nbhelpers.serve`) from a notebook.

`start_server` picks a free port on 127.0.0.1, starts the server in a child process through the kernel's own
Python, waits until it answers, and stops it when the kernel exits (and the server exits by itself if the kernel
dies). `scheduler_fields` turns a `SchedulerConfig` into the plain fields the server and OVMS configurations take.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbhelpers.errors import ServerError

# The SchedulerConfig fields a serving configuration carries (OpenVINO Model Server has no num_kv_blocks). Not
# max_num_seqs: with dynamic_split_fuse on (the default) GenAI 2026.4's scheduler does not honour it (08 measures
# this); pass fields=(..., "max_num_seqs") with split-fuse off.
SCHEDULER_FIELDS = ("cache_size", "max_num_batched_tokens", "dynamic_split_fuse", "enable_prefix_caching")


def scheduler_fields(config: Any, fields: tuple[str, ...] = SCHEDULER_FIELDS) -> dict[str, Any]:
    """Return {field: value} of a `SchedulerConfig` for `fields`."""
    return {name: getattr(config, name) for name in fields}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running lesson server: `url` (http://127.0.0.1:PORT), `base_url` for the `openai` client, `stop()`."""

    process: subprocess.Popen
    url: str
    log: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v3"

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])

    def stop(self, timeout: float = 10) -> int | None:
        """Stop the server (terminate, then kill after `timeout` s); return its exit code. Safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(model_dir: Path | str, name: str | None = None, scheduler: dict[str, Any] | None = None,
                 properties: dict[str, Any] | None = None, device: str = "CPU", timeout: float = 180,
                 tool_parser: str | None = None, reasoning_parser: str | None = None,
                 enable_tool_guided_generation: bool = False) -> Server:
    """Start `python -m nbhelpers.serve` on a free port of 127.0.0.1 and return once it answers /health.

    `scheduler` holds `SchedulerConfig` fields, `properties` OpenVINO properties. `tool_parser` ("hermes3"),
    `reasoning_parser` ("qwen3") and `enable_tool_guided_generation` are OVMS's graph options of those names: how
    answers are read for tool calls and thinking. Raises ValueError for a parser this server does not have, and
    ServerError (with the server's last log lines) if it exits or does not answer within `timeout` seconds.
    """
    import httpx

    from nbhelpers.chat_api import ServerOptions

    ServerOptions(tool_parser, reasoning_parser, enable_tool_guided_generation)  # refuse unknown parsers here
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="nbhelpers-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "nbhelpers.serve", str(model_dir), "--port", str(port), "--device", device,
               "--scheduler", json.dumps(scheduler or {}), "--properties", json.dumps(properties or {}),
               "--parent-pid", str(os.getpid())]
    if name:
        command += ["--name", name]
    command += ["--tool-parser", tool_parser] if tool_parser else []
    command += ["--reasoning-parser", reasoning_parser] if reasoning_parser else []
    command += ["--enable-tool-guided-generation"] if enable_tool_guided_generation else []
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    atexit.register(server.stop)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"the server exited with code {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise ServerError(f"the server did not answer within {timeout:.0f} s; its log:\n{server.log_tail()}")

"""A pytest plugin for notebook runs: a dead kernel fails its notebook at once, and each notebook's time is shown.

nbval 0.11 waits for a cell's reply for the whole `--nbval-cell-timeout` even when the kernel process has
died (a native crash such as SIGFPE or SIGSEGV in a library), then marks the remaining cells as expected failures.
Here the wait polls the kernel every second: when the process is gone, the cell fails with the signal or exit
code, and every later cell of that notebook fails at once as "not run". The run goes on with the next file.

A failing cell's error is printed when it fails, not only in the summary at the end (a run cut short still says
why). At the end, a table gives the wall time of every notebook (kernel start, cells and shutdown).
Loaded by the project's conftest.py; a subprocess can load it with `-p tests.nbval_guard`.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from queue import Empty

import pytest

POLL_SECONDS = 1.0


class KernelDiedError(RuntimeError):
    """The notebook's kernel process ended while a cell was running."""


def _exit_description(kernel: object) -> str:
    process = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "the kernel process is gone"
    if code < 0:
        try:
            return f"the kernel was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"the kernel was killed by signal {-code}"
    return f"the kernel exited with code {code}"


def _await_reply_watching(self: object, msg_id: str, timeout: float | None = None) -> None:
    """nbval's RunningKernel.await_reply, but it gives up as soon as the kernel process is dead."""
    deadline = None if timeout is None else time.monotonic() + float(timeout)
    while True:
        wait = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
        if wait <= 0:
            raise Empty
        try:
            msg = self.get_message(stream="shell", timeout=wait)
        except Empty:
            if not self.is_alive():
                raise KernelDiedError(_exit_description(self)) from None
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            if msg["content"]["status"] == "aborted":
                raise RuntimeError("Kernel aborted execution request")
            return


def pytest_configure(config: pytest.Config) -> None:
    try:
        from nbval import kernel as nbval_kernel
    except ImportError:  # nbval not installed: nothing to guard
        return
    nbval_kernel.RunningKernel.await_reply = _await_reply_watching


_times: dict[str, float] = defaultdict(float)  # notebook path -> seconds of its cells' setup, call and teardown


def _is_notebook_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _is_notebook_cell(item):
        died_in = getattr(item.parent, "_nbhelpers_died_in", None)
        if died_in is not None:
            pytest.fail(f"not run: the kernel died in {died_in}", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    outcome = yield
    if _is_notebook_cell(item) and outcome.excinfo is not None and outcome.excinfo[0] is KernelDiedError:
        item.parent._nbhelpers_died_in = item.name
        outcome.force_exception(KernelDiedError(
            f"{item.parent.path.name}, {item.name}: {outcome.excinfo[1]} while this cell ran (a crash in native "
            "code, e.g. an OpenVINO call this CPU cannot run; run the cell's code in a child process to see where)"))


_reporter: list[object] = []  # the terminal reporter, once pytest has one


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _reporter[:] = [session.config.pluginmanager.get_plugin("terminalreporter")]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "::Cell " in report.nodeid:
        _times[report.nodeid.split("::")[0]] += report.duration
        if report.failed and report.when == "call" and _reporter and _reporter[0] is not None:
            # At once, not only in the summary: a run cut short (a CI time limit) still shows why a cell failed.
            _reporter[0].write_line(f"\nfailed now: {report.nodeid}\n{report.longreprtext[-4000:]}")


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    if not _times:
        return
    terminalreporter.write_sep("=", "notebook wall times")
    for path, seconds in _times.items():
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_times.values()):8.1f} s  all notebooks")

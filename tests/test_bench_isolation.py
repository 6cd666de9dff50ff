"""The benchmark's worker processes: a crash, a hang, an error and a killed run each leave the right rows.

Fake engines, defined here and built in the workers from `EngineSpec(..., "tests.test_bench_isolation:FakeEngine")`,
stand in for the real ones: no model, no llama.cpp, a few seconds in all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from nbhelpers.bench import engines
from nbhelpers.bench.__main__ import parse_args
from nbhelpers.bench.engines import Timing
from nbhelpers.bench.kernels import engine_builds, kernel_notes, system_info_flags
from nbhelpers.bench.machine import cache_resident_limit, cpu_slug, working_set_sweep
from nbhelpers.bench.report import decode_rows, read_rows, write_markdown, write_plots
from nbhelpers.bench.run import BenchConfig, measure_size
from nbhelpers.bench.workers import EngineSpec

FAKE = f"{__name__}:FakeEngine"
ROOT = Path(__file__).resolve().parents[1]
# Three runs each (one warm-up); a worker that does not answer a run within 3 s is stopped. Loading (a fresh
# Python process importing this module) gets longer: the machine may be busy.
CONFIG = BenchConfig(warmup=1, repeats=2, timeout=3, new_tokens=3, short_prompt=4, long_prompt=8)
LOAD_TIMEOUT = 120


class FakeEngine:
    """An engine that answers at once, or fails at generate call `crash_on` / `hang_on` / `raise_on` (-1: loading).

    Its decode rate is 100 + the number of generate calls so far, so a test can tell which runs were counted.
    """

    engine = "fake"

    def __init__(self, precision: str, crash_on: int | None = None, hang_on: int | None = None,
                 raise_on: int | None = None, how: str = "SIGSEGV", delay: float = 0.0,
                 pid_file: str | None = None) -> None:
        self.precision, self.weight_bytes, self.calls, self.delay = precision, 1000, 0, delay
        self.crash_on, self.hang_on, self.raise_on, self.how = crash_on, hang_on, raise_on, how
        if pid_file:
            Path(pid_file).write_text(str(os.getpid()))
        self._maybe_fail(-1)

    def _maybe_fail(self, call: int) -> None:
        if call == self.crash_on:
            print(f"fake {self.precision}: about to die by {self.how}", file=sys.stderr, flush=True)
            if self.how == "SIGABRT":
                os.abort()
            os.kill(os.getpid(), signal.SIGSEGV)
        if call == self.hang_on:
            time.sleep(3600)
        if call == self.raise_on:
            raise RuntimeError("the fake engine refuses\nsecond line")

    def generate(self, prompt: list[int], new_tokens: int) -> Timing:
        self._maybe_fail(self.calls)
        self.calls += 1
        time.sleep(self.delay)
        return Timing(ttft_ms=float(len(prompt)), tokens_per_s=100.0 + self.calls)

    def build_info(self) -> dict[str, Any]:
        return {"kernels": "fake"}


def fake(precision: str, **kwargs: Any) -> EngineSpec:
    return EngineSpec("fake", precision, FAKE, {"precision": precision, **kwargs})


def by_precision(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["precision"]: r for r in rows}


def test_crash_and_hang_become_rows_while_a_normal_engine_is_measured(tmp_path: Path) -> None:
    specs = [fake("normal"), fake("segfaults", crash_on=2), fake("hangs", hang_on=0),
             fake("aborts while loading", crash_on=-1, how="SIGABRT")]
    rows = measure_size("tiny", specs, CONFIG, tmp_path, log=lambda line: None, load_timeout=LOAD_TIMEOUT)

    assert [r["precision"] for r in rows] == [s.precision for s in specs]  # in the order asked, whatever failed
    got = by_precision(rows)
    normal = got["normal"]
    # short prompts are calls 0, 2, 4 (rates 101, 103, 105); the warm-up (101) is dropped
    assert (normal["status"], normal["tokens_per_s"], normal["tokens_per_s_low"]) == ("ok", 104.0, 103.0)
    assert normal["ttft_ms"] == 4 and normal["ttft_long_ms"] == 8 and normal["weight_bytes"] == 1000
    assert normal["build"] == {"kernels": "fake"}
    segv = got["segfaults"]
    assert (segv["status"], segv["failed_during"]) == ("crashed: SIGSEGV", "run 1")
    assert "about to die by SIGSEGV" in segv["stderr_tail"]
    assert "Segmentation fault" in segv["stderr_tail"]  # faulthandler's report, from the worker's log
    assert segv["log"] == "logs/tiny/fake-segfaults.log" and (tmp_path / segv["log"]).is_file()
    hang = got["hangs"]
    assert (hang["status"], hang["failed_during"]) == ("timed out after 3 s", "run 0, warm-up")
    assert "in _maybe_fail" in hang["stderr_tail"]  # where it hung: the stacks it was asked for before being killed
    abort = got["aborts while loading"]
    assert (abort["status"], abort["failed_during"]) == ("crashed: SIGABRT", "loading")
    assert "weight_bytes" not in abort and "tokens_per_s" not in abort
    written = read_rows(tmp_path / "rows.jsonl")  # as each was known: the failures before the measured row
    assert [r["precision"] for r in written] == ["aborts while loading", "hangs", "segfaults", "normal"]
    assert by_precision(written)["segfaults"] == segv


def test_a_crash_is_retried_once_with_the_fallback_a_python_error_is_not(tmp_path: Path) -> None:
    crashing = fake("q8_0", crash_on=0)
    crashing.fallback = fake("q8_0, no extra buffer types (AMX off)")
    raising = fake("raises", raise_on=1)
    raising.fallback = fake("never started")
    rows = measure_size("tiny", [crashing, raising, fake("normal")], CONFIG, tmp_path, log=lambda line: None,
                        load_timeout=LOAD_TIMEOUT)

    assert [(r["precision"], r["status"]) for r in rows] == [
        ("q8_0", "crashed: SIGSEGV"), ("q8_0, no extra buffer types (AMX off)", "ok"),
        ("raises", "failed: RuntimeError: the fake engine refuses"), ("normal", "ok")]
    fallback = rows[1]
    assert (fallback["tokens_per_s"], fallback["tokens_per_s_low"]) == (104.0, 103.0)  # all its runs, warm-up first
    assert "RuntimeError: the fake engine refuses" in rows[2]["stderr_tail"]  # the traceback is in the log


KILLED_RUN = """
import sys
from pathlib import Path
from nbhelpers.bench.run import BenchConfig, measure_size
from nbhelpers.bench.workers import EngineSpec

fake, out = "tests.test_bench_isolation:FakeEngine", Path(sys.argv[1])
specs = [EngineSpec("fake", "crashes", fake, {"precision": "crashes", "crash_on": -1}),
         EngineSpec("fake", "slow", fake, {"precision": "slow", "delay": 0.1, "pid_file": str(out / "slow.pid")})]
config = BenchConfig(warmup=0, repeats=1000, timeout=60, new_tokens=3, short_prompt=4, long_prompt=8)
measure_size("tiny", specs, config, out, load_timeout=120)
"""


def _gone(pid: int) -> bool:
    """True when the process has exited (or is a zombie nobody has reaped yet)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except (FileNotFoundError, ProcessLookupError):
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_killed_run_keeps_the_rows_written_and_leaves_no_worker(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        rows, pid_file = tmp_path / "rows.jsonl", tmp_path / "slow.pid"
        assert _wait_for(lambda: rows.is_file() and rows.read_text() and pid_file.is_file(), LOAD_TIMEOUT), (
            run.stderr.read().decode() if run.poll() is not None else "no row after 120 s")
        time.sleep(0.5)  # the slow worker is measuring: the parent is killed midway through the runs
    finally:
        run.kill()  # SIGKILL: nothing of the benchmark's process runs after this
        run.wait()
    written = read_rows(rows)
    assert [(r["precision"], r["status"]) for r in written] == [("crashes", "crashed: SIGSEGV")]
    assert rows.read_text().endswith("\n")
    slow = int(pid_file.read_text())
    assert _wait_for(lambda: _gone(slow), 15), "the slow engine's worker outlived the killed benchmark"


def test_report_shows_failures_and_cache_resident_rows(tmp_path: Path) -> None:
    ok = {"size": "tiny", "engine": "openvino", "precision": "int4", "params": 8e6, "status": "ok", "weight_bytes": 2e6,
          "tokens_per_s": 500.0, "tokens_per_s_low": 490.0, "tokens_per_s_high": 510.0, "ttft_ms": 3.0,
          "ttft_long_ms": 9.0, "roofline_fraction": 0.05, "cache_resident": True, "vs_pytorch_fp32": None}
    big = {**ok, "size": "3b", "weight_bytes": 1.6e9, "tokens_per_s": 10.0, "roofline_fraction": 0.4,
           "cache_resident": False}
    crashed = {"size": "3b", "engine": "llama.cpp", "precision": "q8_0", "params": 3e9, "status": "crashed: SIGSEGV",
               "failed_during": "run 0, warm-up", "stderr_tail": "load_tensors: AMX model buffer size\nSegfault here",
               "log": "logs/3b/llama.cpp-q8_0.log"}
    results = {"machine": {"cpu": "Test CPU", "physical_cores": 2, "logical_cores": 2, "memory_gib": 1, "flags": []},
               "config": {"short_prompt": 32, "long_prompt": 1024, "new_tokens": 64, "repeats": 3},
               "command": "python -m nbhelpers.bench", "decode": [ok, big, crashed], "bandwidth_gbs": 40.0,
               "bandwidth": {"read": 40.0}, "bandwidth_samples_gbs": [40.0],
               "cache": {"resident_below_mib": 32, "sweep_gbs": {"16": 150.0, "32": 45.0, "64": 40.0}}}
    table = decode_rows(results)
    assert table["tiny openvino int4"]["roofline"] == "cache-resident"
    assert table["3b openvino int4"]["roofline"] == "40%"
    assert table["3b llama.cpp q8_0"]["status"] == "crashed: SIGSEGV (run 0, warm-up)"
    assert set(write_plots(results, tmp_path)) == {tmp_path / f"{k}.png" for k in
                                                    ("tokens_per_s", "roofline_fraction", "ttft_long_ms")}
    markdown = write_markdown(results, tmp_path).read_text()
    assert "# Benchmark results: Test CPU" in markdown and "cache-resident below **32 MiB**" in markdown
    assert "| 3b llama.cpp q8_0 | 3000 |  | crashed: SIGSEGV (run 0, warm-up) |" in markdown
    assert "## Failed configurations" in markdown and "  Segfault here" in markdown


def test_cache_resident_limit_and_large_size() -> None:
    sweep = {1: 300.0, 2: 290.0, 4: 250.0, 8: 200.0, 16: 120.0, 32: 46.0, 64: 41.0, 128: 40.0, 256: 40.0}
    assert cache_resident_limit(sweep) == 32  # the first size within 15 % of the plateau (40 GB/s)
    assert cache_resident_limit({1: 40.0, 2: 41.0, 4: 40.0}) == 1  # no cache effect seen at all
    assert cache_resident_limit({**sweep, 128: 25.0}) == 32  # a pass slowed down by other work does not move it
    measured = working_set_sweep(max_mib=8, seconds=0.01)
    assert list(measured) == [1, 2, 4, 8] and all(v > 0 for v in measured.values())
    assert engines.pick_large_size(32) == "1.5b"  # 1.5b's int4 weights (~810 MiB) are > 2 x 32 MiB
    assert engines.pick_large_size(480) == "3b"  # a Xeon whose reads stay fast up to 480 MiB
    assert engines.pick_large_size(4096) == "3b"  # none leaves such a cache: the largest
    assert engines.int4_weight_bytes("3b") >= 2 * 480 * 2**20
    assert cpu_slug({"cpu": "Intel(R) Xeon(R) Platinum 8480+"}) == "intel-xeon-platinum-8480"
    assert cpu_slug({"cpu": "AMD EPYC 7763 64-Core Processor"}) == "amd-epyc-7763"


SYSTEM_INFO = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | REPACK = 1 |"


def test_kernel_notes_say_who_used_amx() -> None:
    assert system_info_flags(SYSTEM_INFO)["AMX_INT8"] == "1"
    llama = {"system_info": SYSTEM_INFO, "cmake_args": "-DGGML_NATIVE=ON"}
    rows = [
        {"engine": "openvino", "precision": "int8", "build": {"OPTIMIZATION_CAPABILITIES": ["FP32", "BF16"],
                                                             "INFERENCE_PRECISION_HINT": "bf16"}},
        {"engine": "openvino", "precision": "fp16, f32 compute",
         "build": {"OPTIMIZATION_CAPABILITIES": ["FP32", "BF16"], "INFERENCE_PRECISION_HINT": "f32"}},
        {"engine": "llama.cpp", "precision": "q8_0", "status": "crashed: SIGSEGV"},
        {"engine": "llama.cpp", "precision": "q8_0, no extra buffer types (AMX off)",
         "build": {**llama, "extra_buffer_types": False}},
        {"engine": "llama.cpp", "precision": "q4_0", "build": {**llama, "extra_buffer_types": True}},
    ]
    builds = engine_builds(rows)
    assert builds["openvino"]["INFERENCE_PRECISION_HINT"] == {"int8": "bf16", "fp16, f32 compute": "f32"}
    assert builds["llama.cpp"]["cmake_args"] == "-DGGML_NATIVE=ON"
    notes = " ".join(kernel_notes({"flags": ["avx512f", "amx_bf16", "amx_int8"]}, builds, rows))
    assert "-DGGML_NATIVE=ON" in notes and "AMX_INT8" in notes
    assert "This CPU has AMX (amx_bf16, amx_int8)" in notes and "OpenVINO's oneDNN kernels use it" in notes
    assert "ran without AMX (and without repacked weights) in q8_0, no extra buffer types (AMX off)" in notes
    assert "AMX buffer type available in q4_0" in notes
    assert "This CPU has AMX" not in " ".join(kernel_notes({"flags": ["avx512f"]}, builds, rows))


def test_llama_cpp_quantized_configurations_fall_back_without_extra_buffer_types(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from nbhelpers.bench import llama_cpp_engine

    q8 = llama_cpp_engine.engine_spec(Path("/models/q8_0/model.gguf"), "q8_0")
    assert q8.fallback is not None and q8.fallback.fallback is None
    assert q8.fallback.precision == "q8_0, no extra buffer types (AMX off)"
    assert q8.fallback.kwargs["extra_buffer_types"] is False and "extra_buffer_types" not in q8.kwargs
    assert llama_cpp_engine.engine_spec(Path("f16.gguf"), "f16").fallback is None

    class Params:  # stands in for the ctypes struct llama_model_params
        use_extra_bufts = True

    low = types.SimpleNamespace(llama_model_default_params=Params)
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(llama_cpp=low))
    monkeypatch.setitem(sys.modules, "llama_cpp.llama_cpp", low)
    llama_cpp_engine.disable_extra_buffer_types()
    assert low.llama_model_default_params().use_extra_bufts is False
    low.llama_model_default_params = object  # a version without the field
    with pytest.raises(RuntimeError, match="use_extra_bufts"):
        llama_cpp_engine.disable_extra_buffer_types()


def test_command_line_timeout_and_large_size(tmp_path: Path) -> None:
    config, out = parse_args(["--out", str(tmp_path), "--timeout", "90", "--sizes", "0.5b", "large"])
    assert (config.timeout, config.sizes, out) == (90.0, ("0.5b", "large"), tmp_path)
    assert BenchConfig().sizes[-1] == "large" and BenchConfig().timeout == 600
    assert BenchConfig.quick_config().cache_sweep_mib == 256  # --quick sweeps the caches up to 256 MiB only

"""Child processes: an OpenVINO call that may crash the process (a native bug on some CPUs), or a measurement that
must not share a process with another (memory).

`compile_in_child(xml, "CPU", config)` compiles a model in a fresh Python process and returns a `ChildOutcome`:
whether it worked, the properties the compiled model reports, or how the child died (signal, exit code, the end
of its error output) in plain words. The notebook that asked goes on either way.

Known case (OpenVINO 2026.4.1, Intel Xeon with AMX): compiling an fp16-weight LLM on the CPU with two or more
streams (`PERFORMANCE_HINT: THROUGHPUT`) at the default bf16 compute kills the process with SIGFPE;
`repro/ov_multistream_sigfpe.py` reproduces it and reports whether the installed OpenVINO still has it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT = "NBHELPERS-RESULT:"
# Properties read back from the compiled model in the child (what the plugin actually chose).
PROPERTIES = ("NUM_STREAMS", "INFERENCE_PRECISION_HINT", "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "EXECUTION_DEVICES")

_COMPILE = """
import json, sys
import openvino as ov
xml, device, config, names = json.loads(sys.argv[1])
compiled = ov.Core().compile_model(xml, device, config)
found = {}
for name in names:
    try:
        value = compiled.get_property(name)
    except Exception:  # a property this device does not report
        continue
    if hasattr(value, "get_type_name"):  # ov.Type: 'bf16', 'f32'
        value = value.get_type_name()
    found[name] = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
print(RESULT + json.dumps(found), flush=True)
""".replace("RESULT", repr(RESULT))


@dataclass
class ChildOutcome:
    """What happened in the child: `ok`, its `result` (a dict it printed), or how it ended."""

    ok: bool
    what: str
    returncode: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""

    @property
    def signal_name(self) -> str | None:
        """'SIGFPE' and the like when the child was killed by a signal, else None."""
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    def describe(self) -> str:
        """One plain sentence: what ran and how it ended."""
        if self.ok:
            return f"{self.what}: works"
        if self.returncode is None:
            return f"{self.what}: did not finish in time (stopped)"
        how = f"crashed ({self.signal_name})" if self.signal_name else f"failed (exit code {self.returncode})"
        last = self.stderr_tail.strip().splitlines()[-1:] if self.stderr_tail.strip() else []
        return f"{self.what}: {how}" + (f": {last[0]}" if last else "")


def run_python(code: str, argument: Any, what: str, timeout: float = 600) -> ChildOutcome:
    """Run `code` in a new Python process with `json.dumps(argument)` as sys.argv[1].

    The code reports its result by printing `RESULT` followed by a JSON object on one line. Returns a
    ChildOutcome; never raises for a crash, an error or a timeout in the child.
    """
    try:
        run = subprocess.run([sys.executable, "-c", code, json.dumps(argument)], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return ChildOutcome(False, what, None, stderr_tail=_tail(exc.stderr))
    lines = [line for line in run.stdout.splitlines() if line.startswith(RESULT)]
    if run.returncode == 0 and lines:
        return ChildOutcome(True, what, 0, json.loads(lines[-1][len(RESULT):]))
    return ChildOutcome(False, what, run.returncode, stderr_tail=_tail(run.stderr))


def run_isolated(script: str, *args: object, timeout: float = 600) -> dict[str, Any]:
    """Run `script` with this interpreter in a new process and return the JSON object it prints last.

    For measurements that must not share a process (memory): unlike `run_python`, a failure raises.

    `args` arrive in the script as `sys.argv[1:]` (as strings). Raises RuntimeError with the script's
    error output if it fails or prints no JSON line.
    """
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)],
                            capture_output=True, text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"isolated script failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return json.loads(lines[-1])


def _tail(text: str | bytes | None, lines: int = 5) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").strip().splitlines()[-lines:])


def compile_in_child(model_xml: str | Path, device: str = "CPU", config: dict[str, Any] | None = None,
                     timeout: float = 600, label: str | None = None) -> ChildOutcome:
    """Compile `model_xml` on `device` with `config` in a child process; see ChildOutcome for the answer.

    `label` names the model in the outcome's description (default: its folder and file name).
    On success `result` holds the compiled model's NUM_STREAMS, INFERENCE_PRECISION_HINT,
    OPTIMAL_NUMBER_OF_INFER_REQUESTS and EXECUTION_DEVICES as strings (those the device reports).
    """
    config = {k: str(v) for k, v in (config or {}).items()}
    settings = ", ".join(f"{k}={v}" for k, v in config.items()) or "default settings"
    return run_python(_COMPILE, [str(model_xml), device, config, list(PROPERTIES)],
                      f"compile {label or Path(model_xml).parent.name + '/' + Path(model_xml).name} on {device} "
                      f"with {settings}", timeout)


def fp16_weight_model(folder: str | Path, width: int = 256, layers: int = 4) -> Path:
    """Save a small model with fp16 weights (as an fp16 export stores them) to `folder`; return its .xml path.

    Parameter [batch, tokens, width] -> `layers` x (MatMul with an fp16 constant, converted to f32, then Relu).
    """
    import numpy as np
    import openvino as ov
    from openvino import opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([-1, -1, width], ov.Type.f32, name="x")
    node = x
    for _ in range(layers):
        weight = ops.convert(ops.constant(rng.standard_normal((width, width)).astype(np.float16) / 16), ov.Type.f32)
        node = ops.relu(ops.matmul(node, weight, False, True))
    path = Path(folder) / "fp16_weights.xml"
    ov.save_model(ov.Model([node], [x], "fp16_weights"), path, compress_to_fp16=False)
    return path


def multi_stream_compile(timeout: float = 300) -> ChildOutcome:
    """Compile a small fp16-weight model with PERFORMANCE_HINT THROUGHPUT on the CPU, in a child process."""
    with tempfile.TemporaryDirectory(prefix="nbhelpers-streams-") as folder:
        return compile_in_child(fp16_weight_model(folder), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}, timeout,
                                label="a small fp16-weight model")


def first_that_compiles(model_xml: str | Path, device: str, candidates: list[dict[str, Any]],
                        timeout: float = 600) -> tuple[dict[str, Any] | None, list[ChildOutcome]]:
    """Try each config of `candidates` in a child process, in order; return (the first that compiled, every outcome).

    The config is None when none compiled. Typical use: the setting you want first, then its workaround.
    """
    outcomes = []
    for config in candidates:
        outcomes.append(compile_in_child(model_xml, device, config, timeout))
        if outcomes[-1].ok:
            return config, outcomes
    return None, outcomes

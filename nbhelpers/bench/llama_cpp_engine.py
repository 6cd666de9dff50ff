"""llama.cpp (through llama-cpp-python) as a benchmark peer: GGUF conversion, quantisation and a timed greedy loop.

Needs `make bench`, which builds llama-cpp-python from source for this CPU (GGML_NATIVE: AVX-512, AMX, ...
when present) and unpacks its source archive: the converter (`convert_hf_to_gguf.py`) and the `gguf` package
ship in the archive, not in the wheel.

Known case (llama-cpp-python 0.3.36, Intel Xeon with AMX, native build): the first q8_0 generation killed the
process with SIGSEGV. Each quantized configuration therefore declares a fallback that loads the model with
`use_extra_bufts = False`, which keeps ggml from placing weights in its extra buffer types (AMX, repacked layouts).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nbhelpers.bench.engines import Timing
from nbhelpers.bench.workers import EngineSpec
from nbhelpers.cache import build_once
from nbhelpers.settings import project_root

NO_EXTRA_BUFFERS = "no extra buffer types (AMX off)"


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return "0.3.36"  # requirements-bench.txt's pin

# Run the converter, declaring an unknown BPE pre-tokenizer as GPT-2's. The converter recognises
# pre-tokenizers by hashing the output of known ones and refuses any other ("BPE pre-tokenizer was
# not recognized"); the demo tokenizer is a GPT-2-style byte-level BPE, and speed does not depend
# on the vocabulary anyway.
_CONVERT = """
import sys
source = sys.argv[1]
sys.path[:0] = [source, source + "/gguf-py"]
import conversion.base as base
known = base.TextModel.get_vocab_base_pre
def get_vocab_base_pre(self, tokenizer):
    try:
        return known(self, tokenizer)
    except NotImplementedError:
        return "gpt-2"
base.TextModel.get_vocab_base_pre = get_vocab_base_pre
import convert_hf_to_gguf
sys.argv = ["convert_hf_to_gguf.py", *sys.argv[2:]]
convert_hf_to_gguf.main()
"""


def _bench_src() -> Path:
    return (project_root() or Path.cwd()) / ".venv" / "bench-src"


def cmake_args() -> str:
    """Return the CMAKE_ARGS llama-cpp-python was built with, as `make bench-install` recorded them."""
    recorded = _bench_src() / "cmake-args.txt"
    if recorded.is_file():
        return recorded.read_text(encoding="utf-8").strip() or "(none: llama.cpp's defaults, GGML_NATIVE=ON)"
    return "not recorded (llama-cpp-python was not installed by `make bench-install`)"


def llama_cpp_source() -> Path:
    """Return llama.cpp's source folder (converter, gguf-py): `NBHELPERS_LLAMA_CPP_SRC` or `make bench`'s copy.

    Raises FileNotFoundError with what to run when it is missing.
    """
    unpacked = _bench_src() / f"llama_cpp_python-{_installed_version()}"
    default = unpacked / "vendor" / "llama.cpp"
    folder = Path(os.environ.get("NBHELPERS_LLAMA_CPP_SRC", default))
    if not (folder / "convert_hf_to_gguf.py").is_file():
        raise FileNotFoundError(f"llama.cpp's converter is not in {folder}; run `make bench` (it unpacks the "
                                "llama-cpp-python source archive there), or set NBHELPERS_LLAMA_CPP_SRC")
    return folder


def gguf_file(source: Path, folder: Path, kind: str) -> Path:
    """Return the GGUF of the Hugging Face model at `source` in `kind` (f16, q8_0, q4_0, q4_k_m), cached.

    f16 comes from llama.cpp's converter; the others are quantised from it with `llama_model_quantize`.
    """
    import ctypes

    import llama_cpp

    path = folder / kind / "model.gguf"

    def convert(tmp: Path) -> None:
        subprocess.run([sys.executable, "-c", _CONVERT, str(llama_cpp_source()), str(source), "--outtype", "f16",
                        "--outfile", str(tmp / "model.gguf")], check=True, stdout=subprocess.DEVNULL)

    def quantize(tmp: Path) -> None:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}")
        params.nthread = os.cpu_count() or 1  # quantising: any core helps
        f16 = gguf_file(source, folder, "f16")
        if llama_cpp.llama_model_quantize(str(f16).encode(), str(tmp / "model.gguf").encode(), ctypes.byref(params)):
            raise RuntimeError(f"llama_model_quantize failed for {kind}")

    build_once(path.parent, convert if kind == "f16" else quantize, required=("model.gguf",))
    return path


def gguf_weight_bytes(path: Path) -> int:
    """Return the bytes of the GGUF's tensors without the token embedding table."""
    sys.path.insert(0, str(llama_cpp_source() / "gguf-py"))
    from gguf import GGUFReader

    return sum(int(t.n_bytes) for t in GGUFReader(path).tensors if t.name != "token_embd.weight")


def engine_spec(path: Path, kind: str) -> EngineSpec:
    """Return the worker spec of the GGUF at `path` (`kind`: f16, q8_0, ...); a quantized one falls back to loading
    without extra buffer types if it crashes or hangs."""
    factory = f"{__name__}:LlamaCppEngine"
    fallback = None
    if kind != "f16":
        label = f"{kind}, {NO_EXTRA_BUFFERS}"
        fallback = EngineSpec("llama.cpp", label, factory, {"path": str(path), "precision": label,
                                                            "extra_buffer_types": False})
    return EngineSpec("llama.cpp", kind, factory, {"path": str(path), "precision": kind}, fallback)


def disable_extra_buffer_types() -> None:
    """Make `Llama(...)` in this process load models with `use_extra_bufts = False`.

    `Llama` has no argument for it: the field exists only in the low-level `llama_model_params` struct, which
    `Llama.__init__` takes from `llama_cpp.llama_cpp.llama_model_default_params()`; this wraps that function.
    Meant for a worker process that loads one model. Raises RuntimeError if the installed version lacks the field.
    """
    import llama_cpp.llama_cpp as low

    default = low.llama_model_default_params
    if not hasattr(default(), "use_extra_bufts"):
        raise RuntimeError("this llama-cpp-python has no llama_model_params.use_extra_bufts (0.3.36 has)")

    def without_extra_buffer_types() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without_extra_buffer_types


class LlamaCppEngine:
    """A GGUF model in llama.cpp, greedy decoding with EOS banned, all cores.

    `extra_buffer_types=False` loads it without ggml's extra buffer types (no AMX, no repacked weights).
    """

    engine = "llama.cpp"

    def __init__(self, path: Path, precision: str, n_ctx: int = 2048, extra_buffer_types: bool = True) -> None:
        import psutil
        from llama_cpp import Llama

        if not extra_buffer_types:
            disable_extra_buffer_types()
        threads = psutil.cpu_count(logical=False) or 1  # as torch and OpenVINO use by default: physical cores
        self.precision, self.extra_buffer_types = precision, extra_buffer_types
        # verbose: llama.cpp's loading messages go to the worker's log, whose end a crash row shows
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                         flash_attn=True, verbose=True, seed=0)
        self.weight_bytes = gguf_weight_bytes(path)

    def build_info(self) -> dict[str, Any]:
        """Return `llama_print_system_info()` (the CPU features compiled in, e.g. AMX_INT8 = 1), the CMAKE_ARGS of
        the build and whether the extra buffer types were allowed."""
        import llama_cpp

        return {"system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
                "cmake_args": cmake_args(), "extra_buffer_types": self.extra_buffer_types}

    def _next_token(self) -> int:
        import llama_cpp
        import numpy as np

        n_vocab = self.llm.n_vocab()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm.ctx, -1), shape=(n_vocab,)).copy()
        logits[self.llm.token_eos()] = -np.inf
        return int(logits.argmax())

    def generate(self, prompt: list[int], new_tokens: int) -> Timing:
        self.llm.reset()  # forget the previous prompt: no prefix reuse
        start = time.perf_counter()
        self.llm.eval(prompt)
        token = self._next_token()
        first = time.perf_counter()
        for _ in range(new_tokens - 1):
            self.llm.eval([token])
            token = self._next_token()
        last = time.perf_counter()
        return Timing((first - start) * 1000, (new_tokens - 1) / (last - first))

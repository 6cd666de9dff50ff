"""llama.cpp (through llama-cpp-python) as a benchmark peer: GGUF conversion, quantisation and a timed greedy loop.

Needs `make bench`, which builds llama-cpp-python from source and unpacks its source archive: the
converter (`convert_hf_to_gguf.py`) and the `gguf` package ship in the archive, not in the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from nbhelpers.bench.engines import Timing
from nbhelpers.cache import build_once
from nbhelpers.settings import project_root


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


def llama_cpp_source() -> Path:
    """Return llama.cpp's source folder (converter, gguf-py): `NBHELPERS_LLAMA_CPP_SRC` or `make bench`'s copy.

    Raises FileNotFoundError with what to run when it is missing.
    """
    unpacked = (project_root() or Path.cwd()) / ".venv" / "bench-src" / f"llama_cpp_python-{_installed_version()}"
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


class LlamaCppEngine:
    """A GGUF model in llama.cpp, greedy decoding with EOS banned, all cores."""

    engine = "llama.cpp"

    def __init__(self, path: Path, precision: str, n_ctx: int = 2048) -> None:
        import psutil
        from llama_cpp import Llama

        threads = psutil.cpu_count(logical=False) or 1  # as torch and OpenVINO use by default: physical cores
        self.precision = precision
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                         flash_attn=True, verbose=False, seed=0)
        self.weight_bytes = gguf_weight_bytes(path)

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

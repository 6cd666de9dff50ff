"""The project's benchmark: OpenVINO against PyTorch, llama.cpp and the memory-bandwidth limit.

Run it with `python -m nbhelpers.bench --out <folder>` (or `make bench`, which also installs the
llama.cpp peer). It builds random-weight Llama models at realistic sizes, measures decode speed and
time to first token in every engine and precision interleaved, measures the machine's memory
bandwidth, and writes `results.json`, `results.md` and PNG plots. `--quick` runs a tiny version.
"""

from nbhelpers.bench.run import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]

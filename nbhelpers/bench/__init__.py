"""The project's benchmark: OpenVINO against PyTorch, llama.cpp and the memory-bandwidth limit.

Run it with `python -m nbhelpers.bench --out <folder>` (or `make bench`, which also installs the
llama.cpp peer). It measures up to what working set the CPU's caches serve reads, builds random-weight
Llama models at realistic sizes (and one large enough to leave the caches), measures decode speed and
time to first token in every engine and precision interleaved, each configuration in its own worker
process (a crash or a hang becomes a row that says so), measures the machine's memory bandwidth, and
writes `rows.jsonl` (as it goes), `results.json`, `results.md` and PNG plots into `<folder>/<cpu>/`.
`--quick` runs a tiny version.

Modules: run (what is measured), workers (the worker processes), engines and llama_cpp_engine (the
engines), machine (CPU, bandwidth, caches), kernels (what each engine was built with), report (output).
"""

from nbhelpers.bench.run import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]

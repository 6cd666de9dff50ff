"""Command line: `python -m nbhelpers.bench --out FOLDER [--quick] [--sizes ...] [--engines ...]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from nbhelpers.bench.engines import SIZES
from nbhelpers.bench.report import write_all
from nbhelpers.bench.run import BenchConfig, run_bench


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its results; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m nbhelpers.bench", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json, results.md and plots")
    parser.add_argument("--quick", action="store_true", help="a tiny model and one run each (checks the code paths)")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), help="model sizes (default: 125m 0.5b)")
    parser.add_argument("--engines", nargs="+", choices=["pytorch", "openvino", "llama.cpp"])
    parser.add_argument("--repeats", type=int, help="measured runs per engine (default 3)")
    parser.add_argument("--no-extras", action="store_true", help="skip speculative decoding, LoRA and KV-cache")
    args = parser.parse_args(argv)
    config = BenchConfig.quick_config() if args.quick else BenchConfig()
    if args.sizes:
        config = replace(config, sizes=tuple(args.sizes))
    if args.engines:
        config = replace(config, engines=tuple(args.engines))
    if args.repeats:
        config = replace(config, repeats=args.repeats)
    if args.no_extras:
        config = replace(config, extras=False)
    command = "python -m nbhelpers.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    results = run_bench(config, command=command)
    paths = write_all(results, args.out)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

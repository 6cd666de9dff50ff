"""Command line: `python -m nbhelpers.bench --out FOLDER [--quick] [--sizes ...] [--engines ...] [--timeout S]`.

Results go to FOLDER/<cpu>/ (for example results/intel-xeon-platinum-8480/), so that runs on different CPUs sit
side by side.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from nbhelpers.bench.engines import SIZES
from nbhelpers.bench.machine import cpu_slug, describe_machine
from nbhelpers.bench.report import write_all
from nbhelpers.bench.run import BenchConfig, run_bench


def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, Path]:
    """Return the configuration and the output folder (not yet CPU-specific) the command line asks for."""
    parser = argparse.ArgumentParser(prog="python -m nbhelpers.bench", description=__doc__)
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the results; they go to its subfolder named after the CPU")
    parser.add_argument("--quick", action="store_true", help="a tiny model and one run each (checks the code paths)")
    parser.add_argument("--sizes", nargs="+", choices=[*SIZES, "large"],
                        help="model sizes (default: 125m 0.5b large; large = the smallest of 1.5b and 3b whose int4 "
                             "weights leave the caches, with the equal-bit-width engines only)")
    parser.add_argument("--engines", nargs="+", choices=["pytorch", "openvino", "llama.cpp"])
    parser.add_argument("--repeats", type=int, help="measured runs per engine (default 3)")
    parser.add_argument("--no-extras", action="store_true", help="skip speculative decoding, LoRA and KV-cache")
    parser.add_argument("--tune", type=Path, metavar="FILE",
                        help="the report of `python -m nbhelpers tune --json FILE` to run as 'OpenVINO, recommended "
                             "here' (default: the tuner's stages run here on the benchmark's 0.5 B model)")
    parser.add_argument("--timeout", type=float,
                        help="seconds an engine's worker may take to load or to do one run before it is stopped and "
                             "reported (default 600)")
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
    if args.tune:
        if not args.tune.is_file():
            parser.error(f"--tune {args.tune}: no such file; write one with `python -m nbhelpers tune --json FILE`")
        config = replace(config, tune_json=str(args.tune))
    if args.timeout:
        config = replace(config, timeout=args.timeout)
    return config, args.out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its results; return the exit code."""
    config, out = parse_args(argv)
    folder = out / cpu_slug(describe_machine())
    print(f"writing to {folder} (rows.jsonl as each configuration is measured)")
    command = "python -m nbhelpers.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    results = run_bench(config, folder, command=command)
    paths = write_all(results, folder)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

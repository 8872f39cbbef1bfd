"""Side-by-side speed benchmark of mobilenet-mnist: fast path vs naive eager vs timm/torchvision.

Usage (from the repository root):

    python benchmarks/run_benchmarks.py                 # full run, a few minutes on 2 cores
    python benchmarks/run_benchmarks.py --quick         # seconds; checks the output only
    python benchmarks/run_benchmarks.py --widths 1.0 --compile --bf16

Writes ``benchmark.md`` and ``benchmark.json`` to ``--output-dir`` (default
``benchmarks/results/``) and prints the markdown table. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Run from a fresh clone without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobilenet_mnist.deploy.benchmark import add_arguments, config_from_args, run_from_args, to_markdown


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark, write and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s"
    )
    try:
        config_from_args(args)  # validate option values before anything runs
    except ValueError as err:
        parser.error(str(err))
    result, md_path, json_path = run_from_args(args)
    print(to_markdown(result))
    print(f"Wrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

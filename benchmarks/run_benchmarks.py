"""Side-by-side speed benchmark of mobilenet-mnist: fast path vs naive eager vs timm/torchvision.

Usage (from the repository root):

    python benchmarks/run_benchmarks.py                 # full run, a few minutes on 2 cores
    python benchmarks/run_benchmarks.py --quick         # seconds; checks the output only
    python benchmarks/run_benchmarks.py --widths 1.0 --compile --bf16

Writes ``benchmark.md`` and ``benchmark.json`` to ``--output-dir`` (default
``benchmarks/results/``, the committed results) and prints the markdown table. See
``benchmarks/README.md``. The installed command ``mobilenet-mnist benchmark`` is a smaller,
user-facing cousin: the library's own inference paths only, written where the user says.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict
from pathlib import Path

# Run from a fresh clone without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import BenchmarkConfig, quick_config, run_benchmark
from benchmarks.report import to_markdown, write_results

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def build_parser() -> argparse.ArgumentParser:
    """The script's options; defaults are :class:`~benchmarks.harness.BenchmarkConfig`'s."""
    d = BenchmarkConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--widths", type=float, nargs="+", default=list(d.widths), help="width multipliers α")
    add("--batch-size", type=int, default=d.batch_size, help="inference throughput batch")
    add("--train-batch-size", type=int, default=d.train_batch_size, help="training batch")
    add("--repeats", type=int, default=d.repeats, help="timed inference batches per round")
    add("--latency-repeats", type=int, default=d.latency_repeats, help="timed batch-1 calls per round")
    add("--train-steps", type=int, default=d.train_steps, help="timed training steps per round")
    add("--warmup", type=int, default=d.warmup, help="untimed calls before each series")
    add("--rounds", type=int, default=d.rounds, help="passes over all networks (samples pooled)")
    add("--threads", type=int, default=None, help="torch threads (default: all cores)")
    add("--no-peers", dest="peers", action="store_false", help="skip timm/torchvision models")
    add("--no-memory", dest="memory", action="store_false", help="skip peak-memory measurement")
    add("--compile", action="store_true", help="also time torch.compile (slow to start)")
    add("--bf16", action="store_true", help="also time bf16 (only on CPUs with native bf16)")
    add("--quick", action="store_true", help="tiny run for CI: checks the output, not speed")
    add("--output-dir", type=Path, default=RESULTS_DIR, help="where to write (default benchmarks/results)")
    add("-q", "--quiet", action="store_true", help="no progress messages")
    return parser


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """The :class:`BenchmarkConfig` of parsed options; with ``--quick``, options left at
    their defaults take :func:`~benchmarks.harness.quick_config` values."""
    options = {
        "widths": tuple(args.widths), "batch_size": args.batch_size,
        "train_batch_size": args.train_batch_size, "repeats": args.repeats,
        "latency_repeats": args.latency_repeats, "train_steps": args.train_steps,
        "warmup": args.warmup, "rounds": args.rounds, "threads": args.threads,
        "peers": args.peers, "memory": args.memory, "compile": args.compile, "bf16": args.bf16,
    }  # fmt: skip
    if not args.quick:
        return BenchmarkConfig(**options)
    defaults = asdict(BenchmarkConfig())
    changed = {k: v for k, v in options.items() if v != defaults[k] and k != "widths"}
    if tuple(args.widths) != tuple(defaults["widths"]):
        changed["widths"] = tuple(args.widths)
    return quick_config(**changed)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark, write and print the results."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    try:
        cfg = config_from_args(args)  # validate option values before anything runs
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    result = run_benchmark(cfg)
    md_path, json_path = write_results(result, args.output_dir)
    print(to_markdown(result))
    print(f"Wrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

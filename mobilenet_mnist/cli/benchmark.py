"""``mobilenet-mnist benchmark``: time the inference backends on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import non_negative_int, out, positive_int

#: Help line of ``mobilenet-mnist benchmark``.
_BENCHMARK_HELP = "time this library's inference backends on this machine: naive, torch, ONNX Runtime fp32 and int8"


def add_parser(sub: Any) -> None:
    # Defaults live in deploy.speed.SpeedConfig (not imported here: it needs torch); a test
    # keeps the numbers in these help texts equal to them.
    p = sub.add_parser(
        "benchmark", help=_BENCHMARK_HELP,
        description="Times, for each width, the naive eager model and optimize_for_inference on each backend "
        "(torch; with the onnx extra, ONNX Runtime fp32 and int8) at a large batch and at batch 1, with peak "
        "memory and the fraction of this CPU's matmul peak. Ctrl-C stops it and keeps the rows measured so far. "
        "For the comparison with timm and torchvision, run benchmarks/run_benchmarks.py from the repository.",
    )  # fmt: skip
    p.add_argument("--widths", type=float, nargs="+", help="width multipliers α (default 1 0.75 0.5 0.25)")
    p.add_argument("--batch-size", type=positive_int, help="the large batch, for images/s (default 256)")
    p.add_argument("--repeats", type=positive_int, help="timed large-batch calls per round (default 4)")
    p.add_argument("--latency-repeats", type=positive_int, help="timed batch-1 calls per round (default 30)")
    p.add_argument("--warmup", type=non_negative_int, help="untimed calls before each series (default 2)")
    p.add_argument("--rounds", type=positive_int,
                   help="passes over the ways of each width, samples pooled (default 3)")  # fmt: skip
    p.add_argument("--threads", type=positive_int, help="torch and ONNX Runtime threads (default: torch's)")
    p.add_argument("--no-onnx", dest="onnx", action="store_false", default=None, help="skip the ONNX Runtime rows")
    p.add_argument("--no-int8", dest="int8", action="store_false", default=None, help="skip the int8 row")
    p.add_argument("--no-memory", dest="memory", action="store_false", default=None,
                   help="skip the peak-memory measurement")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="a seconds-long run (α=0.25, tiny batches): checks, not speed")
    p.add_argument("--output", type=Path, metavar="DIR",
                   help="folder for benchmark.md and benchmark.json (default: a new mobilenet-mnist-benchmark-<time> "
                        "folder in the current directory)")  # fmt: skip
    p.set_defaults(func=run)


def _benchmark_config(args: argparse.Namespace) -> Any:
    from ..deploy import speed

    names = ("widths", "batch_size", "repeats", "latency_repeats", "warmup", "rounds", "threads", "onnx", "int8",
             "memory")  # fmt: skip
    options = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if "widths" in options:
        options["widths"] = tuple(options["widths"])
    return speed.quick_config(**options) if args.quick else speed.SpeedConfig(**options)


def run(args: argparse.Namespace) -> int:
    from ..deploy import speed, speed_report

    cfg = _benchmark_config(args)
    folder = args.output if args.output is not None else speed_report.new_output_dir()
    rows: list[dict[str, Any]] = []
    peak = None
    try:
        peak = speed.measure_peak(cfg)
        rows.extend(speed.iter_speed_rows(cfg))
    except KeyboardInterrupt:
        partial = speed_report.speed_result(cfg, rows, interrupted=True, matmul_peak=peak)
        paths = speed_report.write_speed_result(partial, folder)
        sys.stderr.write(f"mobilenet-mnist benchmark: interrupted; kept the {len(rows)} rows measured so far "
                         f"in {paths[0]} and {paths[1]}\n")  # fmt: skip
        return 130
    result = speed_report.speed_result(cfg, rows, matmul_peak=peak)
    markdown_path, json_path = speed_report.write_speed_result(result, folder)
    out(speed_report.to_markdown(result))
    out(f"written: {markdown_path} {json_path}")
    return 0

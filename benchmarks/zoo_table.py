"""The model-zoo table: width α × input size → accuracy, parameters, multiply-adds, CPU speed.

MNIST's analogue of the MobileNet paper's Tables 6–7. Accuracy is the registered full-test-set
accuracy of each published checkpoint (``tests/test_checkpoints.py`` re-measures it in CI);
parameters and multiply-adds come from :func:`mobilenet_mnist.profile_model`; throughput
(batch 256) and latency (batch 1, median) are measured here on the library's PyTorch
inference backend (:func:`mobilenet_mnist.optimize_for_inference` with ``backend="torch"``)
with all of torch's threads. Speed does not depend on the weights' values, so the timed
models are built from the architecture alone and the script runs offline on a fresh clone.

Run on an otherwise idle machine::

    python benchmarks/zoo_table.py                  # writes benchmarks/results/zoo_table.{md,json}
    python benchmarks/zoo_table.py --quick          # seconds; checks the output only
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import machine_info
from mobilenet_mnist import create_model, optimize_for_inference, profile_model
from mobilenet_mnist.deploy.speed import time_calls
from mobilenet_mnist.models.pretrained import get_pretrained_cfg, list_pretrained
from mobilenet_mnist.utils.files import atomic_write_bytes

SIZES = (32, 28, 24)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
logger = logging.getLogger("zoo_table")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist", help="weights tag to tabulate (default mnist)")
    parser.add_argument("--batch", type=int, default=256, help="throughput batch size (default 256)")
    parser.add_argument("--repeats", type=int, default=10, help="timed throughput batches (default 10)")
    parser.add_argument("--latency-repeats", type=int, default=200, help="timed batch-1 calls (default 200)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--quick", action="store_true", help="tiny repeats; output format only")
    return parser.parse_args(argv)


def measure_speed(name: str, size: int, batch: int, repeats: int, latency_repeats: int) -> dict[str, float]:
    """Fast-path throughput at ``batch`` and median batch-1 latency at ``size`` px."""
    model = optimize_for_inference(create_model(name).eval(), backend="torch")
    big, one = torch.randn(batch, 1, size, size), torch.randn(1, 1, size, size)
    batch_times = time_calls(lambda: model(big), warmup=2, repeats=repeats)
    latencies = time_calls(lambda: model(one), warmup=5, repeats=latency_repeats)
    return {
        "images_per_s": batch / statistics.median(batch_times),
        "latency_ms": 1000 * statistics.median(latencies),
    }


def table_rows(dataset: str, batch: int, repeats: int, latency_repeats: int) -> list[dict[str, Any]]:
    """One row per published checkpoint of ``dataset`` and input size."""
    rows = []
    names = sorted(list_pretrained(f"*.{dataset}"), key=lambda n: -get_pretrained_cfg(n).width_mult)
    for weights in names:
        cfg = get_pretrained_cfg(weights)
        for size in SIZES:
            cost = profile_model(create_model(cfg.model_name), input_size=size)
            row = {"weights": weights, "width_mult": cfg.width_mult, "input_size": size,
                   "test_accuracy": cfg.test_accuracy.get(size), "params": cost.params, "macs": cost.macs}
            row.update(measure_speed(cfg.model_name, size, batch, repeats, latency_repeats))
            logger.info("%s @%d: %.0f img/s, %.2f ms", weights, size, row["images_per_s"], row["latency_ms"])
            rows.append(row)
    return rows


def to_markdown(result: dict[str, Any]) -> str:
    """The table as GitHub markdown."""
    lines = [
        "| weights | α | input | test acc. % | params | mult-adds | img/s (batch 256) | ms (batch 1) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        acc = "–" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2f}"
        lines.append(
            f"| `{r['weights']}` | {r['width_mult']:g} | {r['input_size']} px | {acc} | {r['params'] / 1e6:.3f} M"
            f" | {r['macs'] / 1e6:.1f} M | {r['images_per_s']:,.0f} | {r['latency_ms']:.2f} |"
        )
    machine = result["machine"]
    lines.append("")
    lines.append(f"{machine['cpu']}, {machine['torch_threads']} torch threads, torch {machine['torch']}; "
                 f"load average before/after: {result['load_average']}. Command: `{result['command']}`.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, write ``zoo_table.md``/``.json``, print the markdown."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    repeats, latency_repeats = (2, 5) if args.quick else (args.repeats, args.latency_repeats)
    load_before = list(os.getloadavg())
    started = time.perf_counter()
    rows = table_rows(args.dataset, args.batch, repeats, latency_repeats)
    result = {
        "command": "python benchmarks/zoo_table.py" + (" --quick" if args.quick else ""),
        "machine": machine_info(),
        "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "duration_s": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    stem = "zoo_table_quick" if args.quick else "zoo_table"
    args.output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.output_dir / f"{stem}.json", json.dumps(result, indent=2).encode())
    markdown = to_markdown(result)
    atomic_write_bytes(args.output_dir / f"{stem}.md", markdown.encode())
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

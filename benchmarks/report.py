"""The report of ``benchmarks/run_benchmarks.py``: a Markdown table and the JSON record.

Reads the result dict of :func:`benchmarks.harness.run_benchmark` (its keys are
documented in ``benchmarks/README.md``) and writes ``benchmark.md`` and ``benchmark.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mobilenet_mnist.utils.files import atomic_write_bytes

__all__ = ["to_markdown", "write_results"]

_COLUMNS = (
    "network", "way", "M mult-adds", "infer img/s", "× naive", "% of peak",
    "latency ms (p90)", "× naive", "train img/s", "× naive", "mem infer MiB", "mem train MiB",
)


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def _markdown_row(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        cells = [row["network"], row["way"], row["status"]] + [""] * (len(_COLUMNS) - 3)
        return "| " + " | ".join(cells) + " |"
    cells = [
        row["network"], f"**{row['way']}**" if row["way"].startswith("fast") else row["way"],
        f"{row['macs'] / 1e6:.1f}", f"{row['infer_images_per_s']:,.0f}",
        _fmt(row.get("infer_speedup_vs_naive"), ".2f", "×"),
        f"{100 * row['infer_fraction_of_peak']:.0f} %",
        f"{row['latency_ms_median']:.2f} ({row['latency_ms_p90']:.2f})",
        _fmt(row.get("latency_speedup_vs_naive"), ".2f", "×"),
        _fmt(row["train_images_per_s"], ",.0f"), _fmt(row.get("train_speedup_vs_naive"), ".2f", "×"),
        _fmt(row["mem_infer_mib"], ".0f"), _fmt(row["mem_train_mib"], ".0f"),
    ]
    return "| " + " | ".join(cells) + " |"


def to_markdown(result: dict[str, Any]) -> str:
    """The result as a markdown section: machine line, table, and how to read it."""
    m, c = result["machine"], result["config"]
    load = result["load_average"]
    lines = [
        f"Machine: {m['cpu']}, {m['logical_cores']} logical cores, {m['torch_threads']} torch "
        f"threads, {m['cpu_capability']}; torch {m['torch']}, torchvision {m['torchvision']}, "
        f"timm {m['timm'] or 'not installed'}. Load average at start {load['start']}, end "
        f"{load['end']}.",
        "",
        f"fp32 matmul peak: **{result['matmul_peak_gmacs']:.1f} G multiply-adds/s** "
        f"({c['matmul_size']}² matrices, the better of torch.mm and oneDNN, best of 5 before and 5 after the "
        "timings). "
        f"Input {c['input_size']}×{c['input_size']}, 1 channel; inference at batch "
        f"{c['batch_size']}, latency at batch 1, training at batch {c['train_batch_size']}; "
        f"medians over {c['rounds']} round(s) of "
        f"{c['repeats']} / {c['latency_repeats']} / {c['train_steps']} timed calls.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(_COLUMNS) - 2)) + "|",
        *(_markdown_row(r) for r in result["rows"]),
        "",
        "× naive: speed-up over the same network run naively (for peers: over α=1.0 naive). "
        "% of peak: inference multiply-add rate / matmul peak. Memory: peak resident-set growth; "
        "inference: a fresh copy of the way running two batches (weights, caches, arenas, activations); "
        "training: a step in steady state (activations, gradients, scratch; weights and optimizer state excluded).",
    ]
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], output_dir: str | Path) -> tuple[Path, Path]:
    """Write ``benchmark.md`` and ``benchmark.json`` into ``output_dir`` (atomically).

    Returns:
        The markdown and JSON paths.
    """
    output_dir = Path(output_dir)
    md_path, json_path = output_dir / "benchmark.md", output_dir / "benchmark.json"
    atomic_write_bytes(md_path, to_markdown(result).encode("utf-8"))
    atomic_write_bytes(json_path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    return md_path, json_path

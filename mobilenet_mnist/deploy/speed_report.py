"""The report of a ``mobilenet-mnist benchmark`` run: a JSON record and a Markdown table.

:func:`speed_result` turns the rows of :func:`~.speed.iter_speed_rows` (all of them, or
those measured before a Ctrl-C) into one JSON-ready record with speed-ups over the naive
way; :func:`write_speed_result` writes ``benchmark.json`` and ``benchmark.md`` atomically into
a folder the user names, by default a new one from :func:`new_output_dir`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..utils.files import atomic_write_bytes
from .speed import INPUT_SHAPE, SpeedConfig, machine_info

__all__ = ["SCHEMA_VERSION", "new_output_dir", "speed_result", "to_markdown", "write_speed_result"]

#: Version of the JSON record's layout.
SCHEMA_VERSION = 1


def speed_result(cfg: SpeedConfig, rows: list[dict[str, Any]], *, interrupted: bool = False) -> dict[str, Any]:
    """The JSON-ready record of a run: machine, config, rows with speed-ups over ``naive``.

    Args:
        cfg: The configuration that was run.
        rows: Rows from :func:`~.speed.iter_speed_rows` (all of them, or those measured
            before a stop); they are copied, not changed.
        interrupted: Whether the run was stopped before the end.

    Returns:
        ``{"schema", "created", "command", "complete", "machine", "config", "rows"}``.
    """
    rows = [dict(row) for row in rows]
    naive = {r["width"]: r for r in rows if r["way"] == "naive"}
    for row in rows:
        ref = naive.get(row["width"])
        row["speedup_vs_naive"] = row["images_per_s"] / ref["images_per_s"] if ref else None
        row["latency_speedup_vs_naive"] = ref["latency_ms_median"] / row["latency_ms_median"] if ref else None
    return {
        "schema": SCHEMA_VERSION, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "complete": not interrupted,
        "machine": machine_info(), "config": asdict(cfg), "rows": rows,
    }  # fmt: skip


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def to_markdown(result: dict[str, Any]) -> str:
    """The result as a markdown section: machine line, table, and how to read it."""
    m, c = result["machine"], result["config"]
    table = [
        f"| network | way | img/s (batch {c['batch_size']}) | × naive | latency ms, median (p90) | × naive |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        throughput = f"{r['images_per_s']:,.0f} | {_fmt_ratio(r['speedup_vs_naive'])}"
        ms = f"{r['latency_ms_median']:.2f} ({r['latency_ms_p90']:.2f})"
        latency = f"{ms} | {_fmt_ratio(r['latency_speedup_vs_naive'])}"
        table.append(f"| {r['network']} | {r['way']} | {throughput} | {latency} |")
    lines = [
        f"Machine: {m['cpu']}, {m['logical_cores']} logical cores, {m['torch_threads']} torch threads, "
        f"{m['cpu_capability']}; torch {m['torch']}, onnxruntime {m['onnxruntime'] or 'not installed'}.",
        "", f"Medians of {c['repeats']} (batch {c['batch_size']}) and {c['latency_repeats']} (batch 1) "
        f"timed calls after {c['warmup']} warm-up calls; {'×'.join(map(str, INPUT_SHAPE))} inputs.", "", *table, "",
        "naive: eager, NCHW, BatchNorm unfused, autograd on. fast: `optimize_for_inference` under "
        "`torch.inference_mode()`. onnxruntime: the fp32 ONNX export on ONNX Runtime's CPU provider.",
    ]  # fmt: skip
    if not result["complete"]:
        lines += ["", f"**Interrupted**: only the {len(result['rows'])} rows above were measured."]
    return "\n".join(lines) + "\n"


def write_speed_result(result: dict[str, Any], folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``benchmark.md`` and ``benchmark.json`` into ``folder`` (created; files atomic).

    Returns:
        The markdown and JSON paths.
    """
    folder = Path(folder).expanduser()
    md_path, json_path = folder / "benchmark.md", folder / "benchmark.json"
    atomic_write_bytes(md_path, to_markdown(result).encode("utf-8"))
    atomic_write_bytes(json_path, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    return md_path, json_path


def new_output_dir(parent: str | os.PathLike[str] = ".") -> Path:
    """A folder name not yet taken: ``<parent>/mobilenet-mnist-benchmark-<YYYYmmdd-HHMMSS>[-N]``."""
    stem = Path(parent) / f"mobilenet-mnist-benchmark-{datetime.now():%Y%m%d-%H%M%S}"
    candidate, n = stem, 1
    while candidate.exists():
        n += 1
        candidate = stem.with_name(f"{stem.name}-{n}")
    return candidate

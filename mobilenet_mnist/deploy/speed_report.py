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
from .measure import machine_info
from .speed import INPUT_SHAPE, SpeedConfig

__all__ = ["SCHEMA_VERSION", "WAY_NOTES", "new_output_dir", "speed_result", "to_markdown", "write_speed_result"]

#: Version of the JSON record's layout (2: backend ways, default flag, memory, matmul peak).
SCHEMA_VERSION = 2

#: What each way is, for the note under the table.
WAY_NOTES = {
    "naive": "eager, NCHW, BatchNorm unfused, autograd on",
    "torch": '`optimize_for_inference(model, backend="torch")` under `torch.inference_mode()`',
    "onnxruntime": '`backend="onnxruntime"`: the fp32 ONNX export on ONNX Runtime',
    "onnxruntime-int8": '`backend="onnxruntime", int8=True`: static int8 (calibrated on the timing inputs)',
}


def speed_result(
    cfg: SpeedConfig,
    rows: list[dict[str, Any]],
    *,
    interrupted: bool = False,
    matmul_peak: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The JSON-ready record of a run: machine, config, rows with speed-ups over ``naive``.

    Args:
        cfg: The configuration that was run.
        rows: Rows from :func:`~.speed.iter_speed_rows` (all of them, or those measured
            before a stop); they are copied, not changed.
        interrupted: Whether the run was stopped before the end.
        matmul_peak: The CPU's matmul peak (:func:`~.speed.measure_peak`); adds each row's
            ``fraction_of_peak`` (its multiply-add rate over the peak).

    Returns:
        ``{"schema", "created", "command", "complete", "machine", "config", "matmul_peak_gmacs", "rows"}``.
    """
    rows = [dict(row) for row in rows]
    naive = {r["width"]: r for r in rows if r["way"] == "naive"}
    peak = (matmul_peak or {}).get("peak")
    for row in rows:
        ref = naive.get(row["width"])
        row["speedup_vs_naive"] = row["images_per_s"] / ref["images_per_s"] if ref else None
        row["latency_speedup_vs_naive"] = ref["latency_ms_median"] / row["latency_ms_median"] if ref else None
        macs = row.get("macs")
        row["fraction_of_peak"] = row["images_per_s"] * macs / 1e9 / peak if peak and macs else None
    return {
        "schema": SCHEMA_VERSION, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "complete": not interrupted,
        "machine": machine_info(), "config": asdict(cfg), "matmul_peak_gmacs": matmul_peak, "rows": rows,
    }  # fmt: skip


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def _table(result: dict[str, Any]) -> list[str]:
    c = result["config"]
    lines = [
        f"| network | way | img/s (batch {c['batch_size']}) | × naive | % of fp32 peak | latency ms, median (p90) "
        "| × naive | peak memory MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        way = f"**{r['way']}** (default)" if r.get("default") else r["way"]
        peak = _fmt(None if r.get("fraction_of_peak") is None else 100 * r["fraction_of_peak"], ".0f", " %")
        ms = f"{r['latency_ms_median']:.2f} ({r['latency_ms_p90']:.2f})"
        lines.append(
            f"| {r['network']} | {way} | {r['images_per_s']:,.0f} | {_fmt_ratio(r['speedup_vs_naive'])} | {peak} "
            f"| {ms} | {_fmt_ratio(r['latency_speedup_vs_naive'])} | {_fmt(r.get('mem_mib'), ',.0f')} |"
        )
    return lines


def _machine_line(result: dict[str, Any]) -> str:
    m, peak = result["machine"], result.get("matmul_peak_gmacs") or {}
    flags = ", ".join(m.get("cpu_flags") or []) or m["cpu_capability"]
    line = (f"Machine: {m['cpu']}, {m['logical_cores']} logical cores ({flags}), {m['torch_threads']} threads; "
            f"torch {m['torch']}, onnxruntime {m['onnxruntime'] or 'not installed'}; "
            f"load average at the start {m.get('load_average')}.")  # fmt: skip
    if peak:
        parts = ", ".join(f"{name} {value:.1f}" for name, value in peak.items() if name != "peak")
        line += f" fp32 matmul peak {peak['peak']:.1f} G multiply-adds/s ({parts})."
    return line


def to_markdown(result: dict[str, Any]) -> str:
    """The result as a markdown section: machine line, table, and how to read it."""
    c = result["config"]
    ways = dict.fromkeys(r["way"] for r in result["rows"])
    notes = "; ".join(f"{way}: {WAY_NOTES.get(way, way)}" for way in ways)
    lines = [
        _machine_line(result), "",
        f"Medians of {c.get('rounds', 1)} round(s) × {c['repeats']} (batch {c['batch_size']}) and "
        f"{c.get('rounds', 1)} × {c['latency_repeats']} (batch 1) timed calls, each series after {c['warmup']} "
        f"warm-up calls; {'×'.join(map(str, INPUT_SHAPE))} inputs.", "", *_table(result), "",
        f"{notes}. (default): what `optimize_for_inference(model)` uses here. % of fp32 peak: multiply-adds per "
        "second over the fp32 matmul peak (int8 can exceed it). Peak memory: resident-set growth while a fresh "
        "copy of the way runs two large batches (its weights, caches, arenas and activations).",
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

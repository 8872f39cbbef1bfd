"""Model-zoo tables, generated from the weight registry (``mobilenet_mnist.models``).

Every number comes from the registered :class:`~mobilenet_mnist.PretrainedCfg` entries;
when the registry is empty the page says so instead of showing a table.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import INCLUDE_DIR, REPO_DIR, list_table, literal, millions, note, write_if_changed

DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
#: Results of ``benchmarks/run_benchmarks.py`` committed with the release, if any.
BENCHMARK_JSON = REPO_DIR / "benchmarks" / "results" / "benchmark.json"
NO_CHECKPOINTS = "No published checkpoints yet: the weight registry of this build is empty."


def load_registry() -> list[Any] | None:
    """All registered checkpoints, or None when this checkout has no weight registry."""
    try:
        pretrained = importlib.import_module("mobilenet_mnist.models")
    except ModuleNotFoundError as error:
        if error.name == "mobilenet_mnist.models":
            return None
        raise
    return [pretrained.get_pretrained_cfg(name) for name in pretrained.list_pretrained()]


def by_dataset(cfgs: Sequence[Any]) -> dict[str, list[Any]]:
    """Checkpoints grouped by dataset, MNIST first, each group sorted by width."""
    groups: dict[str, list[Any]] = {}
    for cfg in cfgs:
        groups.setdefault(cfg.dataset, []).append(cfg)
    order = sorted(groups, key=lambda d: (d != "mnist", d))
    return {d: sorted(groups[d], key=lambda c: (-c.width_mult, c.name)) for d in order}


def accuracy_sides(cfgs: Sequence[Any]) -> list[int]:
    """Every input side any of ``cfgs`` was scored at, largest first."""
    return sorted({int(side) for cfg in cfgs for side in cfg.test_accuracy}, reverse=True)


def _accuracy(cfg: Any, side: int) -> str:
    scores = {int(k): v for k, v in cfg.test_accuracy.items()}
    return f"{scores[side]:.2f}" if side in scores else "—"


def load_speed(path: Path = BENCHMARK_JSON) -> dict[float, dict[str, Any]] | None:
    """Fast-path benchmark rows by width (``None`` without a results file)."""
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    rows = [r for r in result.get("rows", []) if r.get("way") == "fast" and r.get("status") == "ok"]
    return {float(row["width"]): row for row in rows}


def _speed_cells(cfg: Any, speed: dict[float, dict[str, Any]]) -> list[str]:
    row = speed.get(float(cfg.width_mult))
    if row is None or cfg.arch != "mnist":
        return ["—", "—"]
    return [f"{row['infer_images_per_s']:,.0f}", f"{row['latency_ms_median']:.2f}"]


def accuracy_table(cfgs: Sequence[Any], speed: dict[float, dict[str, Any]] | None = None) -> str:
    """Accuracy at every scored side, size, cost and (if measured) CPU speed per checkpoint."""
    sides = accuracy_sides(cfgs)
    header = ["checkpoint", "α", "input", *(f"{s} px" for s in sides),
              "params", "mult-adds", "file", "offline"]
    if speed:
        header += ["CPU img/s", "CPU ms (batch 1)"]
    rows = []
    for cfg in cfgs:
        rows.append([
            literal(cfg.name), f"{cfg.width_mult:g}", f"{cfg.input_size[-1]} px",
            *(_accuracy(cfg, s) for s in sides),
            millions(cfg.num_params), millions(cfg.macs, 1), f"{cfg.file_size / 2**20:.1f} MiB",
            "shipped" if cfg.shipped else "Hub", *(_speed_cells(cfg, speed) if speed else []),
        ])
    return list_table(header, rows, align_right_from=1)


def speed_note(path: Path = BENCHMARK_JSON) -> str:
    """Where the CPU columns come from: the benchmark file's machine, batch and input size."""
    result = json.loads(path.read_text(encoding="utf-8"))
    machine, config = result.get("machine", {}), result.get("config", {})
    return (f"CPU columns: this library's fast inference path, measured by "
            f"{literal(result.get('command', 'benchmarks/run_benchmarks.py'))} on {machine.get('cpu', 'a CPU')} "
            f"({machine.get('torch_threads', '?')} threads) at {config.get('input_size', 32)} px: "
            f"throughput at batch {config.get('batch_size', '?')}, median latency at batch 1 "
            f"(see :doc:`/speed`).\n")


def provenance_table(cfgs: Sequence[Any]) -> str:
    """Where each checkpoint's file lives, its hash, licence and training time."""
    header = ["checkpoint", "Hub repository", "revision", "sha256", "licence", "training"]
    rows = [
        [
            literal(cfg.name), literal(cfg.hf_hub_id), literal(cfg.hf_hub_revision),
            literal(cfg.sha256[:12] + "…"), cfg.license,
            f"{cfg.train_time_s / 60:.0f} min" if cfg.train_time_s else "—",
        ]
        for cfg in cfgs
    ]
    return list_table(header, rows)


def recipes(cfgs: Sequence[Any]) -> str:
    """The command that reproduces each checkpoint, as a bullet list (commands are long)."""
    items = [f"* {literal(cfg.name)}: {literal(cfg.recipe)}" for cfg in cfgs if cfg.recipe]
    return ("To reproduce:\n\n" + "\n".join(items) + "\n") if items else ""


def render_zoo(cfgs: Sequence[Any] | None) -> str:
    """The reST of the zoo tables (or a note when there is nothing to show)."""
    if cfgs is None:
        return note("This build has no weight registry (``mobilenet_mnist.models``).")
    if not cfgs:
        return note(NO_CHECKPOINTS)
    parts = []
    speed = load_speed()
    for dataset, group in by_dataset(cfgs).items():
        title = DATASET_TITLES.get(dataset, dataset)
        parts.append(f"{title}\n{'~' * len(title)}\n")
        parts.append(f"Top-1 accuracy (%) on the full {title} test set at each input side "
                     "(single model, no test-time augmentation); mult-adds at the checkpoint's "
                     "native input size.\n")
        parts.append(accuracy_table(group, speed))
        if speed:
            parts.append(speed_note())
        parts.append("Files and provenance:\n")
        parts.append(provenance_table(group))
        parts.append(recipes(group))
    return "\n".join(parts)


def generate_zoo() -> list[Any] | None:
    """Write ``generated/include/zoo_tables.rst``; return the registry entries (or None)."""
    cfgs = load_registry()
    write_if_changed(INCLUDE_DIR / "zoo_tables.rst", render_zoo(cfgs))
    return cfgs

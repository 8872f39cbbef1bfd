"""How long each published recipe would train on this machine's CPU, estimated.

For each preset, :func:`benchmarks.epoch_time.time_recipe_epoch`: ``--steps`` timed
steps of the real training loop on random-initialised weights (after a warm-up), scaled to
an epoch, plus one validation pass; times the preset's epochs. Run it on an idle
machine. Writes ``benchmarks/results/cpu_epoch_time.{json,md}``.

Run::

    python benchmarks/cpu_epoch_time.py --data-dir ../shared/data/mnist --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

# Run from a fresh clone without installing: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.epoch_time import time_recipe_epoch
from mobilenet_mnist.data.datasets import load_dataset, train_val_split
from mobilenet_mnist.training import get_preset
from mobilenet_mnist.utils.files import atomic_write_bytes

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("mnist_100", "mnist_075", "mnist_050", "mnist_025", "fashion_100")


def estimate(preset: str, data_dir: Path | None, steps: int, threads: int) -> dict:
    """Measured seconds per step and per validation pass, and the estimated training time."""
    cfg = get_preset(preset, device="cpu", threads=threads)
    full = load_dataset(cfg.dataset, "train", data_dir if cfg.dataset == "mnist" else None)
    train_idx, val_idx = train_val_split(len(full), cfg.val_size, seed=0)
    timing = time_recipe_epoch(cfg, full.subset(train_idx), full.subset(val_idx), steps)
    return {
        "preset": preset, "epochs": cfg.epochs, "step_s": round(timing["step_s"], 3),
        "eval_s": round(timing["eval_s"], 1), "epoch_s": round(timing["epoch_s"], 1),
        "total_h": round(timing["epoch_s"] * cfg.epochs / 3600, 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="MNIST folder (Fashion-MNIST: the system one)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [estimate(preset, args.data_dir, args.steps, args.threads) for preset in PRESETS]
    command = f"python benchmarks/cpu_epoch_time.py --threads {args.threads}"
    record = json.dumps({"command": command, "rows": rows}, indent=2) + "\n"
    atomic_write_bytes(RESULTS / "cpu_epoch_time.json", record.encode("utf-8"))
    lines = ["| preset | epochs | s/step | s/epoch | estimated total |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| `{r['preset']}` | {r['epochs']} | {r['step_s']} | {r['epoch_s']} | {r['total_h']} h |" for r in rows
    ]
    atomic_write_bytes(RESULTS / "cpu_epoch_time.md", ("\n".join(lines) + "\n").encode("utf-8"))
    print("\n".join(lines))  # a script, not the library: the table is its output


if __name__ == "__main__":
    main()

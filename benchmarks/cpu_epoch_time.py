"""How long each published recipe would train on this machine's CPU, estimated.

For each preset: the seconds per training step, timed over ``--steps`` steps of the real
training loop (after a short warm-up) on random-initialised weights, times the steps per
epoch, plus one validation pass per epoch; times the preset's epochs. Run it on an idle
machine. Writes ``benchmarks/results/cpu_epoch_time.{json,md}``.

Run::

    python benchmarks/cpu_epoch_time.py --data-dir ../shared/data/mnist --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from mobilenet_mnist.data import load_dataset, train_val_split
from mobilenet_mnist.evaluation import evaluate
from mobilenet_mnist.training import build_model, fit, get_preset

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("mnist_100", "mnist_075", "mnist_050", "mnist_025", "fashion_100")


def estimate(preset: str, data_dir: Path | None, steps: int, threads: int) -> dict:
    """Measured seconds per step and per validation pass, and the estimated training time."""
    cfg = get_preset(preset, device="cpu", threads=threads, init_from=None)
    full = load_dataset(cfg.dataset, "train", data_dir if cfg.dataset == "mnist" else None)
    train_idx, val_idx = train_val_split(len(full), cfg.val_size, seed=0)
    train_data, val_data = full.subset(train_idx), full.subset(val_idx)
    model = build_model(cfg, num_classes=len(full.classes))
    fit(model, train_data, dataclasses.replace(cfg, epochs=1, max_steps_per_epoch=3))  # warm-up
    began = time.perf_counter()
    fit(model, train_data, dataclasses.replace(cfg, epochs=1, max_steps_per_epoch=steps))
    step_s = (time.perf_counter() - began) / steps
    began = time.perf_counter()
    for size in cfg.eval_sizes:
        evaluate(model, val_data, size)
    eval_s = time.perf_counter() - began
    epoch_s = step_s * (len(train_data) // cfg.batch_size) + eval_s
    return {
        "preset": preset, "epochs": cfg.epochs, "step_s": round(step_s, 3), "eval_s": round(eval_s, 1),
        "epoch_s": round(epoch_s, 1), "total_h": round(epoch_s * cfg.epochs / 3600, 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="MNIST folder (Fashion-MNIST: the system one)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [estimate(preset, args.data_dir, args.steps, args.threads) for preset in PRESETS]
    RESULTS.mkdir(exist_ok=True)
    command = f"python benchmarks/cpu_epoch_time.py --threads {args.threads}"
    (RESULTS / "cpu_epoch_time.json").write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")
    lines = ["| preset | epochs | s/step | s/epoch | estimated total |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| `{r['preset']}` | {r['epochs']} | {r['step_s']} | {r['epoch_s']} | {r['total_h']} h |" for r in rows
    ]
    (RESULTS / "cpu_epoch_time.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))  # a script, not the library: the table is its output


if __name__ == "__main__":
    main()

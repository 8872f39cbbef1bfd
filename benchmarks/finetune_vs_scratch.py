"""Fine-tuned from MNIST weights vs trained from scratch on Fashion-MNIST, same budget.

Both runs use one recipe (:class:`~mobilenet_mnist.training.loop.TrainConfig`: same epochs, steps,
batch, schedule, augmentation and seed) and the same data; the only difference is the
starting point: the pretrained MNIST backbone with a fresh head, or random weights.
Validation accuracy (5,000 images held out from the training set) is measured before
training and after every epoch, test accuracy at the end. Writes
``benchmarks/results/finetune_vs_scratch.json`` and ``.png`` (accuracy against epochs);
``--quick`` writes ``finetune_vs_scratch_quick.*`` instead.

Run::

    python benchmarks/finetune_vs_scratch.py                    # α = 1.0, published MNIST weights
    python benchmarks/finetune_vs_scratch.py --width 0.25 --weights runs/mnist025/model --epochs 5
    python benchmarks/finetune_vs_scratch.py --weights path/to/mnist-folder --width 0.25 --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from mobilenet_mnist.data.datasets import ImageTensors, load_dataset, train_val_split
from mobilenet_mnist.models.factory import mobilenet_v1, model_name_for_width
from mobilenet_mnist.models.mobilenet import MobileNetV1
from mobilenet_mnist.training.evaluation import evaluate
from mobilenet_mnist.training.loop import TrainConfig, fit
from mobilenet_mnist.utils.files import atomic_path, atomic_write_bytes

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SIDE = 32
VAL_SIZE = 5_000
QUICK = {"train": 512, "val": 256, "test": 500, "steps": 4, "epochs": 2}
RUNS = ("finetuned", "scratch")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="MNIST weights: registered name, folder or Hub repo id "
                        "(default: the published ones for --width)")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier α (default 1.0)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of both runs (default 10)")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate of both runs (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of both runs")
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    parser.add_argument("--quick", action="store_true", help="2 epochs of 4 steps on 512 images (smoke test)")
    return parser.parse_args(argv)


# The comparison's recipe, fixed here so the published result stays reproducible: the
# ``fashion_100`` preset of release 0.2 (batch 128, no random erasing, from scratch).
COMPARISON_RECIPE = {
    "dataset": "fashion_mnist", "batch_size": 128, "weight_decay": 5e-4, "warmup_epochs": 0.5,
    "dropout": 0.2, "train_sizes": (28, 32),
    "augment": {"rotate_deg": 0.0, "scale": 0.1, "translate": 0.1, "hflip": 0.5},
}  # fmt: skip


def recipe(args: argparse.Namespace) -> TrainConfig:
    """The one recipe both runs share, at width ``args.width``."""
    cfg = TrainConfig.from_dict({
        **COMPARISON_RECIPE, "model": model_name_for_width(args.width), "epochs": args.epochs,
        "lr": args.lr, "seed": args.seed, "val_size": VAL_SIZE, "eval_sizes": (SIDE,),
    })  # fmt: skip
    if args.quick:
        cfg = dataclasses.replace(cfg, epochs=QUICK["epochs"], batch_size=64, max_steps_per_epoch=QUICK["steps"],
                                  val_size=QUICK["val"])
    return cfg


def load_splits(args: argparse.Namespace) -> tuple[ImageTensors, ImageTensors, ImageTensors]:
    """Train, validation (fixed split of the training set) and test sets."""
    full = load_dataset("fashion_mnist", "train", root=args.data_dir)
    test = load_dataset("fashion_mnist", "test", root=args.data_dir)
    train_idx, val_idx = train_val_split(len(full), VAL_SIZE, seed=0)
    if args.quick:
        train_idx, val_idx = train_idx[: QUICK["train"]], val_idx[: QUICK["val"]]
        test = test.subset(torch.arange(QUICK["test"]))
    return full.subset(train_idx), full.subset(val_idx), test


def initial_model(kind: str, args: argparse.Namespace, cfg: TrainConfig) -> MobileNetV1:
    """The starting point: MNIST backbone + fresh head, or random weights (same head init)."""
    if kind == "finetuned":
        weights = args.weights if args.weights is not None else True
        model = mobilenet_v1(pretrained=weights, width_mult=args.width, num_classes=10, dropout=cfg.dropout)
    else:
        model = mobilenet_v1(width_mult=args.width, num_classes=10, dropout=cfg.dropout)
    torch.manual_seed(cfg.seed)  # both heads start from the same random draw
    model.reset_classifier(10)
    return model


def run(kind: str, args: argparse.Namespace, cfg: TrainConfig, splits: tuple[ImageTensors, ...]) -> dict[str, Any]:
    """Train one starting point; return its accuracy curve and final test accuracy."""
    train_data, val_data, test = splits
    torch.manual_seed(cfg.seed)
    model = initial_model(kind, args, cfg)
    start = evaluate(model, val_data, SIDE).accuracy
    with tempfile.TemporaryDirectory() as scratch:  # fit's checkpoints are not needed afterwards
        result = fit(model, train_data, cfg, val_data, output_dir=scratch)
    test_accuracy = evaluate(result.model, test, SIDE).accuracy
    curve = [start] + [row[f"val_acc@{SIDE}"] for row in result.history]
    print(f"{kind:9s}: validation accuracy per epoch {[round(a, 2) for a in curve]}, "
          f"test {test_accuracy:.2f} %, {result.train_time_s:.0f} s")
    return {"val_accuracy": curve, "test_accuracy": test_accuracy, "train_time_s": result.train_time_s,
            "history": result.history}


def machine() -> dict[str, Any]:
    """What measured it."""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def plot(report: dict[str, Any], path: Path) -> None:
    """Validation accuracy against epochs for both runs, final test accuracy in the legend."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    labels = {"finetuned": "fine-tuned from MNIST", "scratch": "from scratch"}
    for kind in RUNS:
        curve = report["runs"][kind]["val_accuracy"]
        test = report["runs"][kind]["test_accuracy"]
        ax.plot(range(len(curve)), curve, marker="o", label=f"{labels[kind]} (test {test:.2f} %)")
    cfg = report["config"]
    ax.set(xlabel="epoch", ylabel=f"validation accuracy at {SIDE} px (%)",
           title=f"Fashion-MNIST, {cfg['model']}, same recipe and budget")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Run both, write JSON and PNG."""
    args = parse_args(argv)
    cfg = recipe(args)
    splits = load_splits(args)
    began = time.time()
    runs = {kind: run(kind, args, cfg, splits) for kind in RUNS}
    weights = args.weights or f"{model_name_for_width(args.width)}.mnist"
    report = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "quick": args.quick,
              "weights": weights, "config": cfg.to_dict(), "images": {"train": len(splits[0]),
              "val": len(splits[1]), "test": len(splits[2])}, "machine": machine(),
              "wall_time_s": round(time.time() - began, 1), "runs": runs}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = "finetune_vs_scratch" + ("_quick" if args.quick else "")
    text = json.dumps(report, indent=2) + "\n"
    atomic_write_bytes(args.output_dir / f"{stem}.json", text.encode("utf-8"))
    plot(report, args.output_dir / f"{stem}.png")
    print(f"wrote {args.output_dir / stem}.json and .png")


if __name__ == "__main__":
    main()

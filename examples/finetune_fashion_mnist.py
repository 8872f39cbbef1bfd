"""Fine-tune the pretrained MNIST MobileNet on Fashion-MNIST, evaluate it, save it.

What it shows:

1. ``mobilenet_v1(pretrained=True, num_classes=10)`` loads the MNIST backbone;
   ``reset_classifier(10)`` gives it a fresh head, since digit logits mean nothing
   for clothes.
2. A linear probe first (``freeze_backbone``: only the new head learns, the
   backbone's weights and BatchNorm statistics stay put), then ``unfreeze_backbone``
   and full fine-tuning, so the random head's first gradients do not wreck the
   pretrained features.
3. ``fit`` is the library's training engine (augmentation, warm-up + cosine schedule,
   EMA, atomic checkpoints, ``--resume``) on any in-memory ``ImageTensors``, here
   Fashion-MNIST minus a fixed validation split.
4. ``evaluate`` scores the test set; ``save_pretrained`` writes a Hugging Face style
   folder (weights, config with the clothing labels, model card) that
   ``from_pretrained`` loads.

Run::

    python examples/finetune_fashion_mnist.py                      # α = 1.0, published weights
    python examples/finetune_fashion_mnist.py --width 0.25 --epochs 5 --output runs/fmnist025
    python examples/finetune_fashion_mnist.py --weights path/to/mnist-folder --width 0.25 --quick

Fashion-MNIST is read from ``--data-dir`` (the four IDX files) or, by default, from
Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``).
``--weights`` takes a registered name (default ``mobilenet_v1_100.mnist``, or the one
for ``--width``), a folder written by ``save_pretrained`` or a Hub repo id; ``--width``
must match the weights. ``--quick`` (or ``MOBILENET_MNIST_EXAMPLES_QUICK=1``) trains a
few steps on a few hundred images and scores 500 test images: a smoke test, not a
useful model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import torch

from mobilenet_mnist import MobileNetV1, TrainConfig, evaluate, fit, freeze_backbone, mobilenet_v1, save_pretrained
from mobilenet_mnist.data import ImageTensors, load_dataset, train_val_split
from mobilenet_mnist.training import unfreeze_backbone
from mobilenet_mnist.training.state import CHECKPOINT_NAME

DATASET = "fashion_mnist"
VAL_SIZE = 5_000
QUICK = {"train": 512, "val": 256, "test": 500, "steps": 4}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="pretrained MNIST weights: registered name, folder or Hub repo id "
                        "(default: the published ones for --width)")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier α of the weights (default 1.0)")
    parser.add_argument("--epochs", type=int, default=10, help="full fine-tuning epochs (default 10)")
    parser.add_argument("--probe-epochs", type=int, default=1, help="head-only epochs first (default 1; 0 skips)")
    parser.add_argument("--lr", type=float, default=0.05, help="peak learning rate of full fine-tuning")
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--output", type=Path, default=Path("runs/finetune_fashion_mnist"),
                        help="run folder: checkpoints, metrics.jsonl and the saved model in model/")
    parser.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("MOBILENET_MNIST_EXAMPLES_QUICK") == "1",
                        help="a few steps on a few hundred images (smoke test)")
    return parser.parse_args(argv)


def recipe(args: argparse.Namespace) -> TrainConfig:
    """The full fine-tuning recipe: the MNIST recipe with a lower peak learning rate."""
    cfg = TrainConfig(
        model=mobilenet_v1(width_mult=args.width).pretrained_cfg["architecture"], dataset=DATASET,
        epochs=args.epochs, lr=args.lr, warmup_epochs=0.5, val_size=VAL_SIZE, eval_sizes=(32,),
    )
    if args.quick:
        cfg = dataclasses.replace(cfg, epochs=1, batch_size=64, max_steps_per_epoch=QUICK["steps"],
                                  train_sizes=(32,), val_size=QUICK["val"])
    return cfg


def probe_recipe(cfg: TrainConfig, epochs: int) -> TrainConfig:
    """Head-only training: a plain high learning rate, no EMA (a handful of weights)."""
    return dataclasses.replace(cfg, epochs=epochs, lr=0.1, warmup_epochs=0.0, ema_decay=0.0)


def load_splits(args: argparse.Namespace) -> tuple[ImageTensors, ImageTensors, ImageTensors]:
    """Train, validation (fixed split of the training set) and test sets."""
    full = load_dataset(DATASET, "train", root=args.data_dir)
    test = load_dataset(DATASET, "test", root=args.data_dir)
    train_idx, val_idx = train_val_split(len(full), VAL_SIZE, seed=0)
    if args.quick:
        train_idx, val_idx = train_idx[: QUICK["train"]], val_idx[: QUICK["val"]]
        test = test.subset(torch.arange(QUICK["test"]))
    return full.subset(train_idx), full.subset(val_idx), test


def pretrained_model(args: argparse.Namespace) -> MobileNetV1:
    """The MNIST backbone with a fresh 10-class head."""
    if args.weights is None:
        model = mobilenet_v1(pretrained=True, width_mult=args.width, num_classes=10, dropout=0.1)
    else:
        model = mobilenet_v1(pretrained=args.weights, width_mult=args.width, num_classes=10, dropout=0.1)
    # The MNIST head also has 10 outputs, so it was loaded; start from a fresh one instead.
    model.reset_classifier(10)
    return model


def main(argv: list[str] | None = None) -> None:
    """Probe, fine-tune, evaluate on the test set, save in the Hugging Face layout."""
    args = parse_args(argv)
    cfg = recipe(args)
    print("recipe:", json.dumps(cfg.to_dict()))
    train_data, val_data, test = load_splits(args)
    torch.manual_seed(cfg.seed)
    model = pretrained_model(args)
    print(f"loaded {model.pretrained_cfg.get('source', 'weights')}; new head for {len(train_data.classes)} classes")

    resuming = args.resume and (args.output / CHECKPOINT_NAME).exists()
    if args.probe_epochs > 0 and not resuming:  # a resumed run restores the probed weights
        probed = fit(freeze_backbone(model), train_data, probe_recipe(cfg, args.probe_epochs), val_data)
        model = unfreeze_backbone(probed.model)
        print(f"linear probe: validation accuracy {probed.history[-1]['val_acc@32']:.2f} %")

    result = fit(model, train_data, cfg, val_data, output_dir=args.output, resume=resuming)
    for row in result.history:
        print(f"epoch {row['epoch']}: validation accuracy {row['val_acc@32']:.2f} %")
    accuracy = {side: evaluate(result.model, test, side).accuracy for side in (32, 28)}
    for side, value in accuracy.items():
        print(f"test accuracy at {side} px on {len(test)} images: {value:.2f} %")

    folder = save_pretrained(
        result.model, args.output / "model", metrics={"test_accuracy": accuracy}, dataset=DATASET,
        tag=DATASET, labels=test.classes, recipe=json.dumps(cfg.to_dict()), train_time_s=result.train_time_s,
    )
    print(f"saved to {folder} (load it with from_pretrained({str(folder)!r}))")


if __name__ == "__main__":
    main()

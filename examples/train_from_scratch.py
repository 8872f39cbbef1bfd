"""Train MobileNet V1 on MNIST from scratch with the library's recipe, evaluate it, save it.

What it shows: a recipe is one ``TrainConfig`` (here a named preset with
overrides); ``train`` holds MNIST in memory, keeps a fixed validation split, writes an
atomic checkpoint every epoch (``--resume`` continues a killed run) and returns the
final weights; ``evaluate`` scores them on the test set; ``save_pretrained`` writes a
folder that ``from_pretrained`` (or ``mobilenet_v1(pretrained=folder)``) loads and
``push_to_hub`` can publish.

Run::

    python examples/train_from_scratch.py --data-dir path/to/mnist --preset fast
    python examples/train_from_scratch.py --data-dir path/to/mnist --preset default \\
        --output runs/alpha100 --resume
    python examples/train_from_scratch.py --data-dir path/to/mnist --quick

``--quick`` (or ``MOBILENET_MNIST_EXAMPLES_QUICK=1``) trains a few steps and scores
1,000 test digits: a smoke test of the setup, not a useful model.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from mobilenet_mnist import evaluate, get_preset, load_dataset, save_pretrained, train

QUICK_OVERRIDES = {"epochs": 1, "max_steps_per_epoch": 10, "batch_size": 64, "val_size": 500}
QUICK_TEST_IMAGES = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="fast", help="recipe preset (default: fast)")
    parser.add_argument("--epochs", type=int, help="override the preset's number of epochs")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files")
    parser.add_argument("--output", type=Path, default=Path("runs/train_from_scratch"),
                        help="run folder for checkpoints, metrics and the saved model")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("MOBILENET_MNIST_EXAMPLES_QUICK") == "1",
                        help="train a few steps only (smoke test)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Train, evaluate on the test set, save in the Hugging Face layout."""
    args = parse_args(argv)
    overrides = dict(QUICK_OVERRIDES) if args.quick else {}
    if args.epochs:
        overrides["epochs"] = args.epochs
    cfg = get_preset(args.preset, **overrides)
    print("recipe:", json.dumps(cfg.to_dict()))

    result = train(cfg, data_dir=args.data_dir, output_dir=args.output, resume=args.resume)
    print(f"trained {cfg.model} for {cfg.epochs} epoch(s) in {result.train_time_s:.1f} s")

    test = load_dataset(cfg.dataset, "test", root=args.data_dir)
    if args.quick:
        test = test.subset(torch.arange(QUICK_TEST_IMAGES))
    accuracy = {}
    for side in cfg.eval_sizes:
        accuracy[side] = evaluate(result.model, test, side).accuracy
        print(f"test accuracy at {side} px on {len(test)} images: {accuracy[side]:.2f} %")

    folder = save_pretrained(
        result.model, args.output / "model", metrics={"test_accuracy": accuracy},
        dataset=cfg.dataset, tag=cfg.dataset, recipe=json.dumps(cfg.to_dict()),
        train_time_s=result.train_time_s,
    )
    print(f"saved to {folder} (load it with from_pretrained({str(folder)!r}))")


if __name__ == "__main__":
    main()

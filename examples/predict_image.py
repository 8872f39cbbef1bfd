"""Predict the digit in your own image files with a pretrained model.

What it shows: reading ordinary images (PNG, JPEG, any size, colour or gray) with
Pillow, making them look like MNIST (grayscale, white digit on a black background),
preprocessing them with the checkpoint's own transform and printing the top-k digits
with their probabilities.

Run::

    python examples/predict_image.py digit.png another.jpg
    python examples/predict_image.py scan.png --weights path/to/saved-folder --top-k 3

An image whose border is mostly light (a dark digit on white paper) is inverted
first; ``--no-invert`` turns that off. ``--quick`` is accepted for uniformity with the
other examples and changes nothing: predicting a few images is already quick.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mobilenet_mnist import create_transform, from_pretrained, mobilenet_v1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", type=Path, help="image files")
    parser.add_argument("--weights", help="checkpoint folder, .safetensors file or Hub repo id "
                        "(default: the published MNIST weights)")
    parser.add_argument("--top-k", type=int, default=3, help="how many digits to list")
    parser.add_argument("--no-invert", action="store_true", help="never invert images")
    parser.add_argument("--quick", action="store_true", help="accepted; has no effect")
    return parser.parse_args(argv)


def load_gray(path: Path, invert: bool = True) -> np.ndarray:
    """An image file as a uint8 (H, W) array, white digit on black like MNIST."""
    gray = np.array(Image.open(path).convert("L"))  # a writable copy
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if invert and border.mean() > 127:  # light background: a dark digit on paper
        gray = 255 - gray
    return gray


def main(argv: list[str] | None = None) -> None:
    """Predict every image given on the command line."""
    args = parse_args(argv)
    model = from_pretrained(args.weights) if args.weights else mobilenet_v1(pretrained=True)
    model.eval()
    transform = create_transform(model.pretrained_cfg)
    labels = model.pretrained_cfg.get("labels") or [str(i) for i in range(model.num_classes)]
    top_k = min(args.top_k, model.num_classes)
    for path in args.images:
        x = transform(load_gray(path, invert=not args.no_invert))  # (1, C, S, S)
        with torch.inference_mode():
            probabilities = model(x).softmax(dim=1)[0]
        values, indices = probabilities.topk(top_k)
        ranked = ", ".join(f"{labels[i]} ({p:.1%})" for p, i in zip(values.tolist(), indices.tolist(), strict=True))
        print(f"{path}: {ranked}")


if __name__ == "__main__":
    main()

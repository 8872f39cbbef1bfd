"""Quick start: load a pretrained model, classify MNIST test digits, count its cost.

What it shows:

1. ``mobilenet_v1(pretrained=True)`` gives the published MNIST weights (α = 1.0,
   32×32 input); ``from_pretrained`` loads any checkpoint folder written by
   ``save_pretrained``, a ``.safetensors`` file or a Hugging Face Hub repo id.
2. ``create_transform(model.pretrained_cfg)`` turns raw 28×28 uint8 digits into the
   model's input exactly as the checkpoint expects (resize, normalize).
3. The model returns logits; ``argmax`` gives the digit, ``softmax`` probabilities.
   Scoring runs in batches, with a tqdm progress bar on stderr.
4. ``profile_model`` counts parameters and multiply-adds.

Run::

    python examples/quickstart.py --data-dir path/to/mnist
    python examples/quickstart.py --weights path/to/saved-folder --quick

MNIST is read from ``--data-dir`` (the four IDX files, gzipped or not) or from
``$MOBILENET_MNIST_DATA``; ``--download`` lets torchvision fetch it. ``--quick`` (or
``MOBILENET_MNIST_EXAMPLES_QUICK=1``) scores 256 digits instead of all 10,000.
"""

from __future__ import annotations

import argparse
import os

import torch
from tqdm.auto import tqdm

from mobilenet_mnist import (
    create_transform,
    from_pretrained,
    load_dataset,
    mobilenet_v1,
    profile_model,
)

QUICK_IMAGES = 256


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="checkpoint folder, .safetensors file or Hub repo id "
                        "(default: the published MNIST weights)")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files")
    parser.add_argument("--download", action="store_true", help="download MNIST if missing")
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("MOBILENET_MNIST_EXAMPLES_QUICK") == "1",
                        help=f"score only the first {QUICK_IMAGES} test digits")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Load the model and data, predict, and print accuracy and costs."""
    args = parse_args(argv)
    # 1. The model, in eval mode (BatchNorm uses its running statistics).
    model = from_pretrained(args.weights) if args.weights else mobilenet_v1(pretrained=True)
    model.eval()
    cost = profile_model(model)
    side = model.input_size
    print(f"model: α = {model.width_mult:g}, input {side}×{side}, "
          f"{cost.params / 1e6:.2f} M parameters, {cost.macs / 1e6:.1f} M mult-adds")

    # 2. Raw digits: uint8 tensors of shape (N, 28, 28), white on black.
    test = load_dataset("mnist", "test", root=args.data_dir, download=args.download)
    count = QUICK_IMAGES if args.quick else len(test)
    images, labels = test.images[:count], test.labels[:count]
    transform = create_transform(model.pretrained_cfg)

    # 3. Predict in batches (with a progress bar); the model returns logits.
    batches = tqdm(images.split(500), desc="scoring", unit="batch", leave=False)
    with torch.inference_mode():
        logits = torch.cat([model(transform(batch)) for batch in batches])
    confidence, predictions = logits.softmax(dim=1).max(dim=1)

    print("first 10 labels:     ", labels[:10].tolist())
    print("first 10 predictions:", predictions[:10].tolist())
    print("their probabilities: ", [round(p, 3) for p in confidence[:10].tolist()])
    accuracy = 100.0 * (predictions == labels).float().mean().item()
    print(f"accuracy on {count} test digits: {accuracy:.2f} %")


if __name__ == "__main__":
    main()

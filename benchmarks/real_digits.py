"""Accuracy on digits that are not MNIST's, with ``preprocess`` and with ``prepare_digits``; its cost.

Usage (from the repository root; scikit-learn and the Debian font packages installed,
see ``benchmarks/digit_sets.py``):

    python benchmarks/real_digits.py --data-dir ../shared/data/mnist
    python benchmarks/real_digits.py --data-dir DIR --quick      # smaller sets, seconds

Scores ``mobilenet_v1(pretrained=True)`` (α = 1.0, 32 px) on scikit-learn's 1,797 8×8
handwritten digits, on printed digits (every installed font × every digit, twice, dark
ink on light paper at a random size and place) and on the first MNIST test images, fed
two ways: ``preprocess`` (the printed digits inverted first, as the docs tell users to)
and ``prepare_digits``. Then times ``normalize_digits`` per image (best of 3 rounds, one
thread) on each kind of input. Prints a markdown table and writes it to
``benchmarks/results/real_digits.md`` unless ``--no-write`` or ``--quick``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.digit_sets import printed_digits, render_glyphs, sklearn_digits
from mobilenet_mnist import load_dataset, mobilenet_v1
from mobilenet_mnist.data.digits import normalize_digits, prepare_digits
from mobilenet_mnist.data.transforms import preprocess
from mobilenet_mnist.utils.files import atomic_write_bytes

RESULT = Path(__file__).resolve().parent / "results" / "real_digits.md"


def accuracy(model: torch.nn.Module, x: torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """Top-1 accuracy in percent, in batches of 500."""
    with torch.inference_mode():
        predicted = torch.cat([model(x[i : i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return 100 * (predicted == torch.as_tensor(labels)).float().mean().item()


def digit_sets(data_dir: Path, quick: bool) -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
    """name → (uint8 images, labels, dark ink on light paper)."""
    sk_images, sk_labels = sklearn_digits()
    pr_images, pr_labels = printed_digits(n_per_font_digit=1 if quick else 2, seed=0)
    test = load_dataset("mnist", "test", root=data_dir)
    count = 300 if quick else 2000
    if quick:
        sk_images, sk_labels = sk_images[:300], sk_labels[:300]
    return {
        f"scikit-learn digits (8×8, {len(sk_labels):,})": (sk_images, sk_labels, False),
        f"printed digits (64×64, {len(pr_labels):,})": (pr_images, pr_labels, True),
        f"MNIST test (28×28, first {count:,})": (test.images[:count].numpy(), test.labels[:count].numpy(), False),
    }


def accuracy_table(model: torch.nn.Module, sets: dict[str, tuple[np.ndarray, np.ndarray, bool]]) -> str:
    """The markdown table: accuracy per set with each preprocessing."""
    lines = ["| set | `preprocess` | `prepare_digits` |", "|---|---:|---:|"]
    for name, (images, labels, dark) in sets.items():
        plain = accuracy(model, preprocess(255 - images if dark else images), labels)
        prepared = accuracy(model, prepare_digits(images, blank="keep"), labels)
        lines.append(f"| {name} | {plain:.2f} % | {prepared:.2f} % |")
    return "\n".join(lines)


def photos(count: int) -> np.ndarray:
    """``count`` 640×480 photos of printed digits (a 480×480 page widened by its edges)."""
    pages, _ = render_glyphs("0123456789", n_per_font_char=1, seed=1, size=480)
    return np.pad(pages[:count], ((0, 0), (0, 0), (80, 80)), mode="edge")


def ms_per_image(run: Callable[[], object], count: int, rounds: int = 3) -> float:
    """Best of ``rounds`` wall-clock times of ``run()``, in ms per image."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 1000 * best / count


def cost_table(sets: dict[str, tuple[np.ndarray, np.ndarray, bool]], quick: bool) -> str:
    """The markdown table of ``normalize_digits`` ms per image, batched and one at a time."""
    sk, pr, mn = (images for images, _, _ in sets.values())
    inputs = {"8×8": sk, "28×28": mn, "64×64": pr, "640×480": photos(5 if quick else 20)}
    lines = ["| input | batch | ms per image, batched | ms for one image |", "|---|---:|---:|---:|"]
    for name, images in inputs.items():
        batched = ms_per_image(lambda images=images: normalize_digits(images, blank="keep"), len(images))
        single = ms_per_image(lambda images=images: normalize_digits(images[0], blank="keep"), 1)
        lines.append(f"| {name} | {len(images):,} | {batched:.2f} | {single:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and print (and write) both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--quick", action="store_true", help="small sets (a check that it runs); writes nothing")
    parser.add_argument("--no-write", dest="write", action="store_false", help=f"do not write {RESULT.name}")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = mobilenet_v1(pretrained=True).eval()
    sets = digit_sets(args.data_dir, args.quick)
    accuracy_text = accuracy_table(model, sets)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cost_text = cost_table(sets, args.quick)
    torch.set_num_threads(threads)
    text = (
        "`mobilenet_v1(pretrained=True)` (α = 1.0, 32 px), top-1 accuracy. `preprocess`: the printed "
        "digits inverted to white on black first, otherwise as they are.\n\n"
        f"{accuracy_text}\n\n`normalize_digits` cost on one CPU thread (torch {torch.__version__}), "
        f"best of 3 rounds:\n\n{cost_text}\n"
    )
    print(text)
    if args.write and not args.quick:
        atomic_write_bytes(RESULT, text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Robustness of every published checkpoint: digits that are not MNIST's, and MNIST-C-style corruptions.

Usage (from the repository root; scikit-learn and the Debian font packages installed,
see ``benchmarks/digit_sets.py``)::

    python benchmarks/real_digits.py --data-dir ../shared/data/mnist            # measure, write results/
    python benchmarks/real_digits.py --data-dir DIR --write                      # + registry, hub/ cards
    python benchmarks/real_digits.py --data-dir DIR --quick                      # small sets, writes nothing

Every checkpoint of ``mobilenet_mnist.list_pretrained()`` (weights from ``hub/<name>/``,
their sha256 checked against the registry) is scored, top-1 accuracy in %:

* digit models, each set fed two ways: ``preprocess`` (the dark-on-paper digits inverted to
  white on black first, as the docs tell users to; everything else as it is) and
  ``prepare_digits``:

  - scikit-learn's 1,797 handwritten 8×8 digits (:func:`benchmarks.digit_sets.sklearn_digits`);
  - printed digits, every installed font × digit twice (:func:`benchmarks.digit_sets.printed_digits`);
  - digits in 30 handwriting typefaces, four renderings of each font × digit
    (:func:`benchmarks.digit_sets.handwriting_digits`);
  - the first ``--mnist-count`` (2,000) MNIST test images, clean and under each corruption
    of :mod:`benchmarks.corruptions` at its :data:`~benchmarks.corruptions.DEFAULT_STRENGTH`
    (seed 0, the same corrupted images for every checkpoint);

* the Fashion-MNIST model (not a digit model): the first ``--mnist-count`` Fashion-MNIST
  test images, clean and corrupted the same way, through ``preprocess`` only
  (``prepare_digits`` looks for a digit's ink and would crop clothing).

The preprocessed and ``prepare_digits`` inputs are computed once per set and shared by the
checkpoints; inference runs on one thread through ``optimize_for_inference``. Then
``normalize_digits`` is timed per image (best of 3 rounds, one thread) on each kind of input.

Writes ``benchmarks/results/real_digits.md`` and ``.json`` (unless ``--quick`` or
``--no-write``). ``--write`` also stores ``metrics["robustness"]`` (flat ``"set/feed"``
keys, see :func:`robustness_metrics`) in ``mobilenet_mnist/weights/registry.json`` and
rewrites ``hub/<name>/config.json`` and ``README.md`` (:func:`refresh_checkpoint_metadata`);
the weight files are not touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.checkpoint_options import REPO_ROOT, add_checkpoint_options
from benchmarks.corruptions import CORRUPTIONS, DEFAULT_STRENGTH, corrupt
from benchmarks.digit_sets import handwriting_digits, printed_digits, render_glyphs, sklearn_digits
from benchmarks.measure import command_line, load_average
from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.data.digits import normalize_digits, prepare_digits
from mobilenet_mnist.data.transforms import preprocess
from mobilenet_mnist.deploy import optimize_for_inference
from mobilenet_mnist.hub.load import from_pretrained
from mobilenet_mnist.hub.publish import refresh_checkpoint_metadata
from mobilenet_mnist.models.pretrained import get_pretrained_cfg, list_pretrained, write_registry_entry
from mobilenet_mnist.utils.files import atomic_write_bytes, sha256_file

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
FEEDS = ("preprocess", "prepare_digits")
BATCH = 500
logger = logging.getLogger("real_digits")

#: Corruption units, for the tables.
UNITS = {"shift": " px", "rotate": "°", "scale": "×", "blur": " px σ", "noise": " σ", "impulse": "",
         "invert": "", "thicken": " px", "thin": " px", "lines": "", "contrast": "×", "brightness": ""}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with the MNIST IDX files")
    add_checkpoint_options(parser, backend="onnxruntime")
    parser.add_argument("--mnist-count", type=int, default=2000, help="first N test images corrupted (2000)")
    parser.add_argument("--quick", action="store_true", help="small sets (a check that it runs); writes nothing")
    parser.add_argument("--no-write", dest="results", action="store_false", help="do not write results/")
    parser.add_argument("--write", action="store_true", help="store metrics['robustness'] in the registry and hub/")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.mnist_count < 1:
        parser.error(f"--mnist-count must be >= 1, got {args.mnist_count}")
    if args.quick:
        args.mnist_count = min(args.mnist_count, 300)
    return args


# ------------------------------------------------------------------------- data
@dataclasses.dataclass
class ImageSet:
    """One evaluation set: its inputs per feed (computed once), labels, and whether its ink is dark."""

    key: str
    title: str
    images: torch.Tensor
    labels: torch.Tensor
    dark: bool = False
    feeds: dict[tuple[Any, ...], torch.Tensor] = dataclasses.field(default_factory=dict)

    def inputs(self, feed: str, side: int, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
        """The model input of this set through ``feed`` at ``side`` px, normalized by ``mean``/``std`` (cached)."""
        key = (feed, side, tuple(mean), tuple(std))
        if key not in self.feeds:
            if feed == "preprocess":
                self.feeds[key] = preprocess(255 - self.images if self.dark else self.images, side, mean, std)
            else:
                self.feeds[key] = prepare_digits(self.images, side, mean, std, blank="keep")
        return self.feeds[key]


def _strength_text(name: str) -> str:
    return f"{DEFAULT_STRENGTH[name]:g}{UNITS.get(name, '')}"


def corrupted_sets(prefix: str, title: str, images: torch.Tensor, labels: torch.Tensor) -> list[ImageSet]:
    """The clean set and one set per corruption at its default strength (seed 0)."""
    sets = [ImageSet(prefix, f"{title}, clean", images, labels)]
    for name in CORRUPTIONS:
        sets.append(ImageSet(f"{prefix}_c/{name}={DEFAULT_STRENGTH[name]:g}", f"{name} {_strength_text(name)}",
                             corrupt(images, name, DEFAULT_STRENGTH[name], seed=0), labels))  # fmt: skip
    return sets


def digit_sets(args: argparse.Namespace) -> list[ImageSet]:
    """scikit-learn digits, printed digits, handwriting typefaces, MNIST test clean and corrupted."""
    sk_images, sk_labels = sklearn_digits()
    pr_images, pr_labels = printed_digits(n_per_font_digit=1 if args.quick else 2, seed=0)
    hw_images, hw_labels = handwriting_digits(n_per_font_digit=1 if args.quick else 4, seed=0)
    if args.quick:
        sk_images, sk_labels = sk_images[:300], sk_labels[:300]
    test = load_dataset("mnist", "test", root=args.data_dir)
    count = args.mnist_count
    return [
        ImageSet("sklearn_digits", f"scikit-learn digits (8×8, {len(sk_labels):,})",
                 torch.from_numpy(sk_images), torch.from_numpy(sk_labels)),
        ImageSet("printed_digits", f"printed digits (64×64, {len(pr_labels):,})",
                 torch.from_numpy(pr_images), torch.from_numpy(pr_labels), dark=True),
        ImageSet("handwriting_digits", f"handwriting typefaces (64×64, {len(hw_labels):,})",
                 torch.from_numpy(hw_images), torch.from_numpy(hw_labels), dark=True),
        *corrupted_sets("mnist", f"MNIST test (first {count:,})", test.images[:count], test.labels[:count]),
    ]  # fmt: skip


def fashion_sets(args: argparse.Namespace) -> list[ImageSet]:
    """Fashion-MNIST test clean and corrupted."""
    test = load_dataset("fashion_mnist", "test", root=args.fashion_dir)
    count = args.mnist_count
    return corrupted_sets("fashion_mnist", f"Fashion-MNIST test (first {count:,})", test.images[:count],
                          test.labels[:count])  # fmt: skip


# ------------------------------------------------------------------------- scoring
def accuracy(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent, in batches of :data:`BATCH`."""
    with torch.inference_mode():
        predicted = torch.cat([model(x[i : i + BATCH]).argmax(1) for i in range(0, len(x), BATCH)])
    return 100.0 * float((predicted == labels).double().mean())


def score_checkpoint(name: str, sets: list[ImageSet], feeds: tuple[str, ...], args: argparse.Namespace) -> dict:
    """One checkpoint's accuracy on every set through every feed."""
    cfg = get_pretrained_cfg(name)
    folder = args.hub_root / name
    if sha256_file(folder / cfg.filename) != cfg.sha256:
        raise ValueError(f"{folder / cfg.filename} does not match the registry's sha256 for {name}.")
    model = optimize_for_inference(from_pretrained(folder).eval(), backend=args.backend)
    results: dict[str, dict[str, float]] = {}
    for image_set in sets:
        results[image_set.key] = {}
        for feed in feeds:
            x = image_set.inputs(feed, cfg.input_size[-1], tuple(cfg.mean), tuple(cfg.std))
            results[image_set.key][feed] = round(accuracy(model, x, image_set.labels), 2)
    return {"name": name, "dataset": cfg.dataset, "feeds": list(feeds), "results": results}


def robustness_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The registry's ``metrics["robustness"]``: ``"set/feed"`` → accuracy (%).

    The registry holds one level of named sub-metrics (as ``metrics["calibration"]``), so
    the sets are flattened: ``"sklearn_digits/preprocess"``, ``"mnist_c/rotate=30/prepare_digits"``
    (corruption name and strength, see :mod:`benchmarks.corruptions`).
    """
    return {f"{key}/{feed}": value for key, feeds in row["results"].items() for feed, value in feeds.items()}


def store(row: dict[str, Any], hub_root: Path) -> None:
    """Registry entry (``metrics["robustness"]``) and the hub/ folder's config.json and card."""
    cfg = get_pretrained_cfg(row["name"])
    updated = dataclasses.replace(cfg, metrics={**cfg.metrics, "robustness": robustness_metrics(row)})
    write_registry_entry(updated, overwrite=True)
    refresh_checkpoint_metadata(row["name"], hub_root=hub_root)
    logger.info("Stored the robustness of %s in the registry and %s.", row["name"], hub_root / row["name"])


# ------------------------------------------------------------------------- cost
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


def cost_rows(sets: list[ImageSet], quick: bool) -> list[dict[str, Any]]:
    """``normalize_digits`` ms per image, batched (at most 500 images) and one at a time."""
    by_key = {s.key: s.images for s in sets}
    count = 100 if quick else 500
    inputs = {"8×8": by_key["sklearn_digits"][:count], "28×28": by_key["mnist"][:count],
              "64×64": by_key["printed_digits"][:count], "640×480": photos(5 if quick else 20)}  # fmt: skip
    rows = []
    for name, images in inputs.items():
        batched = ms_per_image(lambda images=images: normalize_digits(images, blank="keep"), len(images))
        single = ms_per_image(lambda images=images: normalize_digits(images[0], blank="keep"), 1)
        rows.append(
            {"input": name, "batch": len(images), "ms_batched": round(batched, 2), "ms_single": round(single, 2)}
        )
    return rows


# ------------------------------------------------------------------------- writing
def _cell(results: dict[str, float] | None) -> str:
    if results is None:
        return ""
    return " / ".join(f"{results[feed]:.1f}" for feed in FEEDS if feed in results)


def accuracy_table(rows: list[dict[str, Any]], sets: list[ImageSet]) -> str:
    """Markdown: one row per set, one column per checkpoint; cells ``preprocess / prepare_digits``."""
    names = [r["name"] for r in rows]
    lines = ["| set | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---:|" * len(names)]
    for image_set in sets:
        cells = [_cell(r["results"].get(image_set.key)) for r in rows]
        if any(cells):
            lines.append(f"| {image_set.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: ``normalize_digits`` cost per input kind."""
    lines = ["| input | batch | ms per image, batched | ms for one image |", "|---|---:|---:|---:|"]
    lines += [f"| {r['input']} | {r['batch']:,} | {r['ms_batched']:.2f} | {r['ms_single']:.2f} |" for r in rows]
    return "\n".join(lines)


def to_markdown(result: dict[str, Any], sets: list[ImageSet]) -> str:
    """The results page: accuracy per checkpoint and set, then the cost table."""
    return (
        "Top-1 accuracy (%) of every published checkpoint; a cell is `preprocess / prepare_digits` "
        "(the Fashion-MNIST model: `preprocess` only). `preprocess`: the printed and typeface digits inverted to "
        "white on black first, everything else as it is. Corruptions (`benchmarks/corruptions.py`, seed 0) of the "
        f"first {result['mnist_images']:,} test images of each dataset.\n\n"
        f"{accuracy_table(result['rows'], sets)}\n\n"
        f"`normalize_digits` cost on one CPU thread (torch {torch.__version__}), best of 3 rounds:\n\n"
        f"{cost_table(result['cost'])}\n\n"
        f"Reproduce: `{result['command']}` ({result['duration_s']:.0f} s on this machine).\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Measure every checkpoint; write results (and with ``--write`` the registry and hub/ folders)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)  # the feeds' many small ops are far slower with threads on a busy CPU
    started, load_start = time.perf_counter(), load_average()
    digits: list[ImageSet] = []
    fashion: list[ImageSet] = []
    rows = []
    for name in args.names or list_pretrained():
        t0 = time.perf_counter()
        if get_pretrained_cfg(name).dataset == "mnist":
            digits = digits or digit_sets(args)
            rows.append(score_checkpoint(name, digits, FEEDS, args))
        else:
            fashion = fashion or fashion_sets(args)
            rows.append(score_checkpoint(name, fashion, ("preprocess",), args))
        logger.info("%s: %s (%.0f s)", name, json.dumps(rows[-1]["results"]), time.perf_counter() - t0)
        if args.write and not args.quick:
            store(rows[-1], args.hub_root)
    cost = cost_rows(digits, args.quick) if digits else []
    result = {
        "command": command_line(), "load_average": [load_start, load_average()],
        "duration_s": round(time.perf_counter() - started, 1), "backend": args.backend, "threads": 1,
        "mnist_images": args.mnist_count, "strengths": DEFAULT_STRENGTH, "rows": rows, "cost": cost,
    }  # fmt: skip
    markdown = to_markdown(result, digits + fashion)
    print(markdown)
    if args.results and not args.quick:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.output_dir / "real_digits.json", (json.dumps(result, indent=2) + "\n").encode())
        atomic_write_bytes(args.output_dir / "real_digits.md", markdown.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

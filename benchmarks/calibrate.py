"""Calibrate every published checkpoint: temperature, "not a digit?" threshold, measured on held-out data.

For each checkpoint (``mobilenet_mnist.list_pretrained()``, weights from ``hub/<name>/``,
their sha256 checked against the registry):

1. **Temperature** (Guo et al., 2017): fitted on the recipe's validation split, the
   ``val_size`` training images that ``train`` held out (``train_val_split(60000, val_size,
   seed=0)``, as ``mobilenet_mnist.training.loop.train`` does), so on images the weights
   never trained on; preprocessing as in training (:func:`mobilenet_mnist.preprocess`).
2. **Calibration error** on the full test set, before (T = 1) and after: ECE with 15
   equal-width bins, NLL; for digit models also through :func:`normalize_digits`
   (``Predictor``'s default path).
3. **Not-a-digit score and threshold**, chosen on validation data: the same validation
   digits against non-digits generated with seed ``--val-seed`` (printed letters that do
   not look like digits, uniform noise, blurred noise blobs, blank pages with paper noise,
   and the other dataset: Fashion-MNIST training images for the MNIST models, MNIST
   training digits for the Fashion-MNIST one). The score method with the best validation
   AUROC is kept; the threshold keeps ``--keep`` of the validation digits
   (:func:`choose_threshold`).
4. **Report** on the test sets: test digits against non-digits generated with seed
   ``--test-seed`` (other letters renderings, other noise) and the other dataset's
   *test* split: AUROC of the score (images where ink was found), and the share of each
   set that ``Predictor`` flags (``is_digit=False``: blank, or score above the threshold).
   For the MNIST models also printed digits (fonts, seed ``--test-seed``) and
   scikit-learn's 8×8 handwritten digits: accuracy and the share wrongly flagged.

Images go through exactly what :class:`mobilenet_mnist.deploy.Predictor` does:
digit models with ``prepare=True`` (the digits normalized once and shared by the
checkpoints), the Fashion-MNIST model with ``prepare=False``.

Usage::

    python benchmarks/calibrate.py --data-dir ../shared/data/mnist            # measure, write results/
    python benchmarks/calibrate.py --data-dir DIR --write                      # + registry, hub/ cards
    python benchmarks/calibrate.py --data-dir DIR --limit 500 --names mobilenet_v1_025.mnist  # a smoke run

``--write`` stores ``temperature``, ``ood_score``, ``ood_threshold`` and
``metrics["calibration"]`` in ``mobilenet_mnist/weights/registry.json`` and rewrites
``hub/<name>/config.json`` and ``README.md`` (:func:`refresh_checkpoint_metadata`); the
weight files are not touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.checkpoint_options import REPO_ROOT, add_checkpoint_options
from benchmarks.digit_sets import printed_digits, render_glyphs, sklearn_digits
from benchmarks.measure import command_line, load_average
from mobilenet_mnist.data.datasets import ImageTensors, load_dataset, train_val_split
from mobilenet_mnist.data.digits import normalize_digits
from mobilenet_mnist.deploy import Predictor
from mobilenet_mnist.hub.load import from_pretrained
from mobilenet_mnist.hub.publish import refresh_checkpoint_metadata
from mobilenet_mnist.models.pretrained import get_pretrained_cfg, list_pretrained, write_registry_entry
from mobilenet_mnist.training.calibration import (
    SCORE_METHODS,
    auroc,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    not_a_digit_score,
)
from mobilenet_mnist.training.config import get_preset
from mobilenet_mnist.utils.files import atomic_write_bytes, sha256_file

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
#: Letters that do not look like a digit in common fonts (left out: O o D Q I i l j J Z z S s b G T B g q).
LETTERS = "ACEFHKLMNPRUVWXYacdefhkmnprtuvwxy"
N_BINS = 15
logger = logging.getLogger("calibrate")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST IDX folder (default: $MOBILENET_MNIST_DATA)")
    add_checkpoint_options(parser, backend="auto")
    parser.add_argument("--keep", type=float, default=0.99, help="share of validation digits to accept (0.99)")
    parser.add_argument("--val-seed", type=int, default=1, help="seed of the validation non-digits (1)")
    parser.add_argument("--test-seed", type=int, default=2, help="seed of the test non-digits (2)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many images per set (smoke runs)")
    parser.add_argument("--write", action="store_true", help="store the results in the registry and hub/ folders")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


# ------------------------------------------------------------------------- data
DATASET_TITLES = {"mnist": "MNIST digits", "fashion_mnist": "Fashion-MNIST"}


def non_digit_sets(seed: int) -> dict[str, torch.Tensor]:
    """Generated images that hold no digit: printed letters, noise, noise blobs, blank pages (uint8)."""
    rng = np.random.default_rng(seed)
    letters, _ = render_glyphs(LETTERS, n_per_font_char=1, seed=seed, size=64)
    noise = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    field = torch.rand(300, 1, 36, 36, generator=torch.Generator().manual_seed(seed))
    blobs = torch.nn.functional.avg_pool2d(field, 9, 1)[:, 0]  # smooth random shapes, 28×28
    low, high = blobs.amin((1, 2), keepdim=True), blobs.amax((1, 2), keepdim=True)
    paper = rng.uniform(170, 250, (300, 1, 1)) + rng.normal(0, 1, (300, 64, 64)) * rng.uniform(2, 10, (300, 1, 1))
    return {
        "letters": torch.from_numpy(letters),
        "noise": torch.from_numpy(noise),
        "noise blobs": ((blobs - low) / (high - low) * 255).round().to(torch.uint8),
        "blank pages": torch.from_numpy(np.clip(np.rint(paper), 0, 255).astype(np.uint8)),
    }


def _random_rows(data: ImageTensors, count: int, seed: int) -> torch.Tensor:
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return data.images[order[:count]]


def load_data(args: argparse.Namespace) -> dict[str, Any]:
    """Both datasets, and every image set by name (``"val/letters"``, ``"mnist/other-test"``, ...)."""
    datasets = {
        "mnist": {s: load_dataset("mnist", s, args.data_dir) for s in ("train", "test")},
        "fashion_mnist": {s: load_dataset("fashion_mnist", s, args.fashion_dir) for s in ("train", "test")},
    }
    sets = {f"val/{k}": v for k, v in non_digit_sets(args.val_seed).items()}
    sets.update({f"test/{k}": v for k, v in non_digit_sets(args.test_seed).items()})
    for name, splits in datasets.items():  # the non-digits of the other dataset's models
        sets[f"{name}/other-val"] = _random_rows(splits["train"], 1000, args.val_seed)
        sets[f"{name}/other-test"] = _random_rows(splits["test"], 1000, args.test_seed)
    printed, printed_labels = printed_digits(1, seed=args.test_seed)
    labels = {"printed digits": torch.from_numpy(printed_labels)}
    sets["printed digits"] = torch.from_numpy(printed)
    sk_images, sk_labels = sklearn_digits()
    sets["sklearn digits"], labels["sklearn digits"] = torch.from_numpy(sk_images), torch.from_numpy(sk_labels)
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
        labels = {k: v[: args.limit] for k, v in labels.items()}
    return {"datasets": datasets, "sets": sets, "labels": labels}


# ------------------------------------------------------------------------- model outputs
class Scorer:
    """One checkpoint's logits for named image sets, through ``Predictor``'s path.

    Digit models see the images as ``Predictor(prepare=True)`` shows them: normalized by
    :func:`normalize_digits` (once per set, shared by the checkpoints), then resized and
    normalized as :func:`~mobilenet_mnist.preprocess` does.
    """

    def __init__(self, model: torch.nn.Module, backend: str, prepare: bool, normalized: dict[str, Any]) -> None:
        self.raw = Predictor(model, backend=backend, prepare=False)
        self.prepare = prepare
        self._normalized = normalized
        self._logits: dict[tuple[str, bool], tuple[torch.Tensor, torch.Tensor]] = {}

    def logits(self, key: str, images: torch.Tensor, prepare: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, has_ink) of the set ``key``, computed once per checkpoint."""
        prepare = self.prepare if prepare is None else prepare
        if (key, prepare) not in self._logits:
            if prepare:
                if key not in self._normalized:
                    self._normalized[key] = normalize_digits(images, blank="keep")
                digits, has_ink = self._normalized[key]
                self._logits[key, prepare] = (self.raw.logits(digits).logits, has_ink)
            else:
                out = self.raw.logits(images)
                self._logits[key, prepare] = (out.logits, out.has_ink)
        return self._logits[key, prepare]

    def scores(self, sets: dict[str, torch.Tensor], temperature: float, method: str) -> dict[str, Any]:
        """Set name → (not-a-digit scores, has_ink)."""
        out = {}
        for key, images in sets.items():
            logits, has_ink = self.logits(key, images)
            out[key] = (not_a_digit_score(logits, temperature, method), has_ink)
        return out


def recipe_split(cfg: Any) -> tuple[str, torch.Tensor]:
    """The dataset and validation indices of the recipe that trained ``cfg`` (``--preset NAME``)."""
    preset = get_preset(cfg.recipe.split("--preset ")[1].split()[0])
    _, val_idx = train_val_split(60_000, preset.val_size, seed=0)  # the split train() holds out
    return preset.dataset, val_idx


def _nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    return float(torch.nn.functional.cross_entropy(logits.double() / temperature, labels))


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * float((logits.argmax(1) == labels).double().mean())


def _ece(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    return 100.0 * expected_calibration_error(logits / temperature, labels, N_BINS, kind="logits")


# ------------------------------------------------------------------------- one checkpoint
def calibrate_temperature(scorer: Scorer, val: tuple[str, ImageTensors], test: tuple[str, ImageTensors]) -> dict:
    """T on the validation split (training preprocessing); ECE/NLL on the test set."""
    (val_key, val_data), (test_key, test_data) = val, test
    val_logits, _ = scorer.logits(val_key, val_data.images, prepare=False)
    temperature = fit_temperature(val_logits, val_data.labels)
    logits, labels = scorer.logits(test_key, test_data.images, prepare=False)[0], test_data.labels
    row = {
        "temperature": temperature,
        "val_accuracy": _accuracy(val_logits, val_data.labels),
        "test_accuracy": _accuracy(logits, labels),
        "ece_val_before": _ece(val_logits, val_data.labels),
        "ece_val_after": _ece(val_logits, val_data.labels, temperature),
        "ece_before": _ece(logits, labels),
        "ece_after": _ece(logits, labels, temperature),
        "nll_before": _nll(logits, labels),
        "nll_after": _nll(logits, labels, temperature),
    }
    if scorer.prepare:
        prepared, _ = scorer.logits(test_key, test_data.images, prepare=True)
        row["test_accuracy_prepared"] = _accuracy(prepared, labels)
        row["ece_after_prepared"] = _ece(prepared, labels, temperature)
    return row


def choose_method(
    scorer: Scorer, digits: dict[str, torch.Tensor], others: dict[str, torch.Tensor], temp: float
) -> dict:
    """Validation AUROC of every score method (non-digits with ink vs digits); the best one."""
    aurocs = {}
    for method in SCORE_METHODS:
        ((digit_scores, digit_ink),) = scorer.scores(digits, temp, method).values()
        inked = torch.cat([s[ink] for s, ink in scorer.scores(others, temp, method).values()])
        aurocs[method] = auroc(inked, digit_scores[digit_ink])
    return {"val_auroc": aurocs, "method": max(aurocs, key=aurocs.get)}


def _flagged(scores: torch.Tensor, has_ink: torch.Tensor, threshold: float) -> float:
    """Share (%) that Predictor flags: no ink, or a score above the threshold."""
    return 100.0 * float((~has_ink | (scores > threshold)).double().mean())


def evaluate_threshold(scorer: Scorer, digits: dict[str, torch.Tensor], others: dict[str, torch.Tensor],
                       temp: float, method: str, threshold: float) -> dict[str, Any]:  # fmt: skip
    """Test AUROC per non-digit set and overall; the share of each set flagged."""
    ((test_scores, test_ink),) = scorer.scores(digits, temp, method).values()
    reference = test_scores[test_ink]
    row: dict[str, Any] = {"digits_flagged": _flagged(test_scores, test_ink, threshold), "sets": {}}
    for key, (scores, ink) in scorer.scores(others, temp, method).items():
        row["sets"][key.split("/")[-1]] = {
            "images": len(scores), "blank": 100.0 * float((~ink).double().mean()),
            "auroc": auroc(scores[ink], reference) if bool(ink.any()) else None,
            "flagged": _flagged(scores, ink, threshold),
        }  # fmt: skip
    inked = torch.cat([s[ink] for s, ink in scorer.scores(others, temp, method).values()])
    row["ood_auroc"] = auroc(inked, reference)
    counts = {k: s["images"] for k, s in row["sets"].items()}
    row["non_digits_flagged"] = sum(row["sets"][k]["flagged"] * n for k, n in counts.items()) / sum(counts.values())
    return row


def other_digit_sets(scorer: Scorer, data: dict[str, Any], temp: float, method: str, threshold: float) -> dict:
    """Printed and scikit-learn digits: accuracy and the share wrongly flagged (MNIST models)."""
    out = {}
    for key in ("printed digits", "sklearn digits"):
        logits, ink = scorer.logits(key, data["sets"][key])
        scores = not_a_digit_score(logits, temp, method)
        out[key] = {"images": len(logits), "accuracy": _accuracy(logits, data["labels"][key]),
                    "flagged": _flagged(scores, ink, threshold)}  # fmt: skip
    return out


def calibrate_checkpoint(name: str, data: dict[str, Any], args: argparse.Namespace, normalized: dict) -> dict:
    """Every measurement of one checkpoint, as a JSON-ready dict."""
    cfg = get_pretrained_cfg(name)
    folder = args.hub_root / name
    if sha256_file(folder / cfg.filename) != cfg.sha256:
        raise ValueError(f"{folder / cfg.filename} does not match the registry's sha256 for {name}.")
    dataset, val_idx = recipe_split(cfg)
    other = "fashion_mnist" if dataset == "mnist" else "mnist"
    splits = data["datasets"][dataset]
    val, test = splits["train"].subset(val_idx), splits["test"]
    if args.limit:
        val, test = val.subset(torch.arange(args.limit)), test.subset(torch.arange(args.limit))
    scorer = Scorer(from_pretrained(folder).eval(), args.backend, dataset == "mnist", normalized)
    val_key, test_key = f"{dataset}/val/{len(val_idx)}", f"{dataset}/test"
    row: dict[str, Any] = {"name": name, "dataset": dataset, "prepare": scorer.prepare, "val_images": len(val)}
    row.update(calibrate_temperature(scorer, (val_key, val), (test_key, test)))
    temp, sets = row["temperature"], data["sets"]
    val_others = {k: v for k, v in sets.items() if k.startswith("val/")} | {
        f"val/{DATASET_TITLES[other]}": sets[f"{other}/other-val"]}  # fmt: skip
    test_others = {k: v for k, v in sets.items() if k.startswith("test/")} | {
        f"test/{DATASET_TITLES[other]}": sets[f"{other}/other-test"]}  # fmt: skip
    row.update(choose_method(scorer, {val_key: val.images}, val_others, temp))
    ((digit_scores, digit_ink),) = scorer.scores({val_key: val.images}, temp, row["method"]).values()
    other_scores = torch.cat([s[ink] for s, ink in scorer.scores(val_others, temp, row["method"]).values()])
    row["threshold"] = choose_threshold(digit_scores[digit_ink], other_scores, keep=args.keep)
    row.update(evaluate_threshold(scorer, {test_key: test.images}, test_others, temp, row["method"], row["threshold"]))
    if dataset == "mnist":
        row["other_digits"] = other_digit_sets(scorer, data, temp, row["method"], row["threshold"])
    return row


# ------------------------------------------------------------------------- writing
def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def store(row: dict[str, Any], hub_root: Path) -> None:
    """Registry entry (calibration fields and metrics) and the hub/ folder's config.json and card."""
    cfg = get_pretrained_cfg(row["name"])
    calibration = {key: round(row[key], 4) for key in (
        "temperature", "ece_before", "ece_after", "nll_before", "nll_after", "ood_auroc", "digits_flagged",
        "non_digits_flagged")}  # fmt: skip
    updated = dataclasses.replace(
        cfg, temperature=row["temperature"], ood_score=row["method"], ood_threshold=row["threshold"],
        metrics={**cfg.metrics, "calibration": calibration},
    )  # fmt: skip
    write_registry_entry(updated, overwrite=True)
    refresh_checkpoint_metadata(row["name"], hub_root=hub_root)
    logger.info("Stored the calibration of %s in the registry and %s.", row["name"], hub_root / row["name"])


def to_markdown(rows: list[dict[str, Any]], command: str) -> str:
    """The table of the docs' calibration page."""
    lines = [
        "| checkpoint | T | ECE before | ECE after | NLL before → after | score | threshold | AUROC | "
        "non-digits flagged | test digits flagged |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['name']}` | {r['temperature']:.3f} | {r['ece_before']:.2f} % | {r['ece_after']:.2f} % | "
            f"{r['nll_before']:.3f} → {r['nll_after']:.3f} | {r['method']} | {r['threshold']:.2f} | "
            f"{r['ood_auroc']:.3f} | {r['non_digits_flagged']:.1f} % | {r['digits_flagged']:.2f} % |"
        )
    lines += ["", f"Reproduce: `{command}`", "", _set_table(rows)]
    return "\n".join(lines) + "\n"


def _set_table(rows: list[dict[str, Any]]) -> str:
    """Per checkpoint and non-digit set: AUROC (inked images) and the share flagged."""
    names = list(dict.fromkeys(name for r in rows for name in r["sets"]))
    lines = ["| checkpoint | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for r in rows:
        cells = []
        for name in names:
            s = r["sets"].get(name)
            auc = "—" if s is None or s["auroc"] is None else f"{s['auroc']:.3f}"
            cells.append("" if s is None else f"{auc} / {s['flagged']:.0f} %")
        lines.append(f"| `{r['name']}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every checkpoint; write results (and with ``--write`` the registry and hub/ folders)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started, load_start = time.perf_counter(), load_average()
    data = load_data(args)
    normalized: dict[str, Any] = {}
    rows = []
    for name in args.names or list_pretrained():
        t0 = time.perf_counter()
        rows.append(_round(calibrate_checkpoint(name, data, args, normalized)))
        logger.info("%s: %s (%.0f s)", name, json.dumps({k: v for k, v in rows[-1].items() if k != "sets"}),
                    time.perf_counter() - t0)  # fmt: skip
        if args.write and not args.limit:
            store(rows[-1], args.hub_root)
    command = command_line()
    result = {"command": command, "load_average": [load_start, load_average()],
              "duration_s": round(time.perf_counter() - started, 1), "keep": args.keep, "rows": rows}  # fmt: skip
    stem = "calibration" if not args.limit else "calibration_smoke"
    args.output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.output_dir / f"{stem}.json", (json.dumps(result, indent=2) + "\n").encode())
    markdown = to_markdown(rows, command)
    atomic_write_bytes(args.output_dir / f"{stem}.md", markdown.encode())
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

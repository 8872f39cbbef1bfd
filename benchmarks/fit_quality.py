"""Fit the input-quality and stability weights (``QUALITY_WEIGHTS``, ``STABILITY_WEIGHT``) on the hard set's dev split.

Usage (from the repository root)::

    python benchmarks/fit_quality.py --data-dir DIR                 # dev split, 300 per setting
    python benchmarks/fit_quality.py --data-dir DIR --per-setting 50  # a quick look

For every image of :func:`benchmarks.hard_digits.hard_digits` (split ``dev``: MNIST test
images 2,000–5,999, never the ``test`` split the results are reported on), the default
checkpoint's logits (before temperature and quality), the ink finder's signs of doubt
(:mod:`mobilenet_mnist.data.quality`) and the unsteadiness under turned copies
(:mod:`mobilenet_mnist.deploy.stability`) are collected; the weights ``w >= 0`` minimize the
negative log-likelihood of the true labels under ``softmax(logits · exp(-signs · w) / T)``
(the unsteadiness being the last sign), with the checkpoint's own temperature ``T`` held
fixed (so a clean, steady image, all signs 0, keeps its MNIST calibration). Prints the
weights and writes ``benchmarks/results/quality_fit.json`` with the NLL and the share of
wrong answers at probability >= 0.9 before and after; copy the weights into
``QUALITY_WEIGHTS`` and ``STABILITY_WEIGHT`` by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.checkpoint_options import REPO_ROOT
from benchmarks.hard_digits import hard_digits
from benchmarks.hard_set import DEFAULT_MNIST, as_input
from mobilenet_mnist.data.digits import doubt_signs
from mobilenet_mnist.data.quality import QUALITY_WEIGHTS, SIGNS
from mobilenet_mnist.deploy.predictor import DEFAULT_MODEL, Predictor
from mobilenet_mnist.deploy.stability import STABILITY_WEIGHT, VIEW_ANGLES, unsteadiness
from mobilenet_mnist.utils.files import atomic_write_bytes

RESULT = REPO_ROOT / "benchmarks" / "results" / "quality_fit.json"


def collect(data_dir: Path, per_setting: int, predictor: Predictor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The dev split's raw logits (N, C), labels (N,) and signs of doubt (N, len(SIGNS) + 1), the
    unsteadiness last."""
    logits, labels, signs = [], [], []
    for images, setting_labels in hard_digits(data_dir, "dev", per_setting).values():
        inputs = [as_input(image) for image in images]
        outputs = predictor.logits(inputs)
        logits.append(outputs.logits)
        # The signs themselves (normalize_digits_with_quality gives only their weighted sum).
        ink_signs = doubt_signs(inputs)
        unsteady = unsteadiness(outputs.logits, outputs.view_logits, predictor.temperature)
        signs.append(torch.cat([ink_signs, unsteady[:, None]], 1))
        labels.append(torch.as_tensor(setting_labels, dtype=torch.long))
    return torch.cat(logits).double(), torch.cat(labels), torch.cat(signs).double()


def nll(
    logits: torch.Tensor, labels: torch.Tensor, signs: torch.Tensor, weights: torch.Tensor, t: float
) -> torch.Tensor:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits · exp(-signs · weights) / t)``."""
    return F.cross_entropy(logits * torch.exp(-signs @ weights)[:, None] / t, labels)


def fit(logits: torch.Tensor, labels: torch.Tensor, signs: torch.Tensor, t: float) -> torch.Tensor:
    """Weights >= 0 (a softplus of free parameters) minimizing :func:`nll`, by L-BFGS."""
    raw = torch.zeros(signs.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([raw], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nll(logits, labels, signs, F.softplus(raw), t)
        loss.backward()
        return loss

    optimizer.step(closure)
    return F.softplus(raw).detach()


def summary(logits: torch.Tensor, labels: torch.Tensor, signs: torch.Tensor, weights: torch.Tensor, t: float) -> dict:
    """NLL, and the share (%) of wrong answers with probability >= 0.9, under ``weights``."""
    probs = (logits * torch.exp(-signs @ weights)[:, None] / t).softmax(1)
    top, label = probs.max(1)
    wrong = label != labels
    return {
        "nll": round(float(nll(logits, labels, signs, weights, t)), 5),
        "wrong_confident": round(100 * float((top[wrong] >= 0.9).double().mean()), 2),
        "right_confident": round(100 * float((top[~wrong] >= 0.9).double().mean()), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_MNIST, help="folder with the MNIST IDX files")
    parser.add_argument("--per-setting", type=int, default=300, help="dev images per setting (300)")
    parser.add_argument("--output", type=Path, default=RESULT, help="where the JSON record goes")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    predictor = Predictor(DEFAULT_MODEL, backend="torch")
    logits, labels, signs = collect(args.data_dir, args.per_setting, predictor)
    t = predictor.temperature
    weights = fit(logits, labels, signs, t)
    in_use = [*QUALITY_WEIGHTS, STABILITY_WEIGHT]
    record = {
        "model": DEFAULT_MODEL, "split": "dev", "per_setting": args.per_setting, "images": len(labels),
        "temperature": t, "signs": [*SIGNS, "unsteadiness"], "view_angles": list(VIEW_ANGLES),
        "weights": [round(float(w), 4) for w in weights], "in_use": in_use,
        "without_quality": summary(logits, labels, signs, torch.zeros_like(weights), t),
        "fitted": summary(logits, labels, signs, weights, t),
        "without_stability": summary(logits, labels, signs[:, : len(SIGNS)], weights[: len(SIGNS)], t),
        "in_use_result": summary(logits, labels, signs, torch.tensor(in_use, dtype=torch.float64), t),
        "command": "python benchmarks/fit_quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }  # fmt: skip
    atomic_write_bytes(args.output, (json.dumps(record, indent=1) + "\n").encode())
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Figures of every published MNIST checkpoint, measured on the test set during the build.

For each MNIST checkpoint (the four widths) the build reuses :mod:`.evaluation`'s cached
test logits (keyed by the checkpoint's sha256 and the test files) and draws:

* the first test digits it gets wrong, true → predicted (``generated/include/zoo_mistakes.rst``,
  pulled into the model-zoo page by the evaluation include);
* reliability diagrams before and after temperature scaling, 15 equal-width confidence
  bins, ECE in the legends (``generated/include/calibration_reliability.rst``);
* accuracy against rotation, shift and noise strength per width, through ``preprocess``
  (solid) and ``prepare_digits`` (dashed), on a fixed subset of the test digits with the
  corruptions of ``benchmarks/corruptions.py`` (``generated/include/real_digits_corruptions.rst``);
  the accuracies are cached in ``generated/cache`` per checkpoint and settings.

Without a checkpoint, the data or the corruptions module each include gets a note
instead, unless strict mode (``MOBILENET_MNIST_DOCS_STRICT=1``) asks for a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sphinx.util import logging

from .common import (
    CACHE_DIR,
    FIGURE_DIR,
    INCLUDE_DIR,
    REPO_DIR,
    figure,
    literal,
    mnist_dir,
    note,
    write_if_changed,
)
from .evaluation import (
    FigureUnavailableError,
    _cache_key,
    draw_grid,
    fast_copy,
    load_test_set,
    softmax,
    strict,
    test_logits,
)

logger = logging.getLogger(__name__)

#: Confidence bins of the reliability diagrams (as in the ECE of the calibration page).
ECE_BINS = 15
#: Mistakes shown per checkpoint, and per row.
MISTAKES_SHOWN = 36
MISTAKE_COLUMNS = 12
#: The corruptions plotted, in panel order, and how their strength is written.
CURVE_CORRUPTIONS = {"rotate": "rotation (degrees)", "shift": "shift (pixels)",
                     "noise": "Gaussian noise (std, gray levels)"}
#: The first test digits the corruption curves are measured on.
CURVE_DIGITS = 500
CURVE_SEED = 0
#: The two ways into the model the curves compare.
PATHS = ("preprocess", "prepare_digits")
COLORS = ("#1565c0", "#2e7d32", "#ef6c00", "#c62828", "#6a1b9a")


@dataclass
class Checkpoint:
    """A published MNIST checkpoint and its test-set logits."""

    name: str
    model: Any
    logits: np.ndarray

    @property
    def temperature(self) -> float:
        """The fitted temperature of the checkpoint (1.0 when it has none)."""
        return float(self.model.pretrained_cfg.get("temperature") or 1.0)

    @property
    def width(self) -> str:
        """The width multiplier as written in the legends, e.g. ``α = 0.25``."""
        return f"α = {self.model.pretrained_cfg.get('width_mult', '?')}"


# ------------------------------------------------------------------------- loading
def mnist_checkpoints() -> list[str]:
    """The published checkpoints trained on MNIST, narrowest first."""
    import mobilenet_mnist

    return sorted(name for name in mobilenet_mnist.list_pretrained() if name.endswith(".mnist"))


def load_checkpoint(name: str) -> Any:
    """``from_pretrained(REPO/hub/<name>)`` in eval mode, or :class:`FigureUnavailableError`."""
    import mobilenet_mnist

    folder = REPO_DIR / "hub" / name
    try:
        return mobilenet_mnist.from_pretrained(folder).eval()
    except Exception as error:  # any failure means: this checkpoint is not usable here
        raise FigureUnavailableError(
            f"from_pretrained({folder}) failed in this build ({type(error).__name__}: {error})"
        ) from error


def load_checkpoints(data: Any, folder: Path) -> list[Checkpoint]:
    """Every MNIST checkpoint with its (cached) test logits."""
    names = mnist_checkpoints()
    if not names:
        raise FigureUnavailableError("list_pretrained() has no MNIST checkpoint")
    checkpoints = []
    for name in names:
        model = load_checkpoint(name)
        checkpoints.append(Checkpoint(name, model, test_logits(model, data, folder, fast=True)))
    return checkpoints


# ------------------------------------------------------------------------- reliability
def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, accuracy and mean confidence per equal-width bin of the top-1 confidence.

    The bins are those of
    :func:`~mobilenet_mnist.training.calibration.expected_calibration_error`: bin ``k``
    holds the confidences in ``(k / n_bins, (k + 1) / n_bins]``.

    Args:
        probs: Class probabilities (N, C).
        labels: True classes (N,).
        n_bins: Number of bins.

    Returns:
        ``(count, accuracy, confidence)``, each of length ``n_bins``; accuracy and
        confidence are NaN in empty bins.
    """
    confidence = probs.max(axis=1).astype(np.float64)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
        mean_conf = np.bincount(bins, weights=confidence, minlength=n_bins) / count
    return count, accuracy, mean_conf


def ece_from_bins(count: np.ndarray, accuracy: np.ndarray, confidence: np.ndarray) -> float:
    """The expected calibration error (a fraction) from :func:`reliability_bins`."""
    used = count > 0
    return float((count[used] * np.abs(accuracy[used] - confidence[used])).sum() / count.sum())


def draw_reliability(panels: list[tuple[str, np.ndarray, float]], labels: np.ndarray, path: Path) -> None:
    """A 2-row grid of reliability diagrams: raw softmax on top, temperature-scaled below.

    Args:
        panels: ``(title, logits, temperature)`` per checkpoint (one column each).
        labels: True classes of the logits' rows.
        path: PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(panels), figsize=(3.1 * len(panels), 6.4), dpi=100,
                             sharex=True, sharey=True, squeeze=False)
    edges = np.linspace(0, 1, ECE_BINS + 1)
    for col, (title, logits, temperature) in enumerate(panels):
        for row, t in enumerate((1.0, temperature)):
            ax = axes[row, col]
            count, accuracy, confidence = reliability_bins(softmax(logits / t), labels)
            ece = ece_from_bins(count, accuracy, confidence)
            shown = np.nan_to_num(accuracy)
            ax.bar(edges[:-1], shown, width=1 / ECE_BINS, align="edge", color=COLORS[0],
                   edgecolor="white", label=f"accuracy (ECE {100 * ece:.2f} %)")
            gap_low = np.minimum(shown, np.nan_to_num(confidence))
            gap = np.abs(np.nan_to_num(confidence) - shown)
            ax.bar(edges[:-1], gap, bottom=gap_low, width=1 / ECE_BINS, align="edge",
                   color="#ef5350", alpha=0.35, edgecolor="#c62828", label="gap to confidence")
            ax.plot([0, 1], [0, 1], "--", color="#555", linewidth=1)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.legend(loc="upper left", fontsize=7, frameon=False)
            heading = "T = 1 (raw softmax)" if row == 0 else f"T = {t:.3g} (calibrated)"
            ax.set_title(f"{title}\n{heading}" if row == 0 else heading, fontsize=8.5)
            if row == 1:
                ax.set_xlabel("confidence (top-1 probability)")
            if col == 0:
                ax.set_ylabel("accuracy")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def build_reliability(checkpoints: list[Checkpoint], labels: np.ndarray) -> str:
    """Draw the reliability diagrams and return the include text."""
    panels = [(c.name, c.logits, c.temperature) for c in checkpoints]
    draw_reliability(panels, labels, FIGURE_DIR / "calibration_reliability.png")
    return figure(
        "calibration_reliability.png", "Reliability diagrams before and after temperature scaling",
        f"Reliability diagrams of the MNIST checkpoints on the {len(labels):,} test digits, "
        f"measured during this build: top-1 confidence in {ECE_BINS} equal-width bins, the "
        "share of right answers per bin (blue) and its gap to the bin's mean confidence "
        "(red). Top: the raw softmax, all answers near 91 % (label smoothing); bottom: "
        "divided by the checkpoint's temperature, on the diagonal. Almost all digits fall "
        "in the top bin, so the bars of the lower bins rest on a few images each.")


# ------------------------------------------------------------------------- mistakes
def mistake_indices(labels: np.ndarray, logits: np.ndarray, count: int = MISTAKES_SHOWN) -> list[int]:
    """The first ``count`` test digits the logits classify wrongly, in test-set order."""
    return np.flatnonzero(logits.argmax(axis=1) != labels)[:count].tolist()


def build_mistakes(checkpoints: list[Checkpoint], images: np.ndarray, labels: np.ndarray) -> str:
    """Draw one grid of mistakes per checkpoint and return the include text."""
    parts = [
        "The first mistakes of every MNIST checkpoint on the test set, titled true→predicted "
        "with the calibrated probability of the prediction.\n"
    ]
    for checkpoint in checkpoints:
        indices = mistake_indices(labels, checkpoint.logits)
        errors = int((checkpoint.logits.argmax(axis=1) != labels).sum())
        probs = softmax(checkpoint.logits / checkpoint.temperature)
        file = f"mistakes_{checkpoint.name.replace('.', '_')}.png"
        draw_grid(images, labels, probs, FIGURE_DIR / file, indices=indices, columns=MISTAKE_COLUMNS)
        shown = f"the first {len(indices)}" if len(indices) < errors else f"all {errors}"
        parts.append(figure(file, f"Test digits {checkpoint.name} gets wrong",
                            f"{literal(checkpoint.name)}: {errors} mistakes on the "
                            f"{len(labels):,} test digits ({shown} shown)."))
    return "\n".join(parts)


# ------------------------------------------------------------------------- corruptions
def load_corruptions() -> Any:
    """``benchmarks.corruptions`` from the repository, or :class:`FigureUnavailableError`."""
    import importlib
    import sys

    if str(REPO_DIR) not in sys.path:
        sys.path.insert(0, str(REPO_DIR))
    try:
        return importlib.import_module("benchmarks.corruptions")
    except ImportError as error:
        raise FigureUnavailableError(f"benchmarks/corruptions.py cannot be imported ({error})") from error


def curve_settings(corruptions: Any) -> dict[str, tuple[float, ...]]:
    """The strengths plotted per corruption (those of ``STRENGTHS``)."""
    return {name: tuple(float(s) for s in corruptions.STRENGTHS[name]) for name in CURVE_CORRUPTIONS}


def curve_cache_key(model: Any, folder: Path, settings: dict[str, tuple[float, ...]], source: bytes) -> str:
    """Cache key of one checkpoint's curves: weights, test files, settings and corruption code."""
    digest = hashlib.sha256(_cache_key(model, folder).encode())
    digest.update(json.dumps([settings, CURVE_DIGITS, CURVE_SEED, PATHS], sort_keys=True).encode())
    digest.update(source)
    return digest.hexdigest()[:20]


class CorruptedInputs:
    """Model inputs of the corrupted test subset, made once and shared by the checkpoints."""

    def __init__(self, corruptions: Any, images: Any) -> None:
        self.corruptions = corruptions
        self.images = images
        self._made: dict[tuple[Any, ...], Any] = {}

    @staticmethod
    def key(name: str, strength: float, path: str, cfg: dict[str, Any]) -> tuple[Any, ...]:
        """What the inputs depend on; strength 0 of every corruption is the clean subset."""
        size, mean, std = cfg["input_size"][-1], tuple(cfg["mean"]), tuple(cfg["std"])
        return ("clean", 0.0) if strength == 0 else (name, strength), path, size, mean, std

    def get(self, name: str, strength: float, path: str, cfg: dict[str, Any]) -> Any:
        """The normalized (N, C, S, S) inputs for one corruption, strength and path."""
        from mobilenet_mnist import prepare_digits, preprocess

        key = self.key(name, strength, path, cfg)
        _, path, size, mean, std = key
        if key not in self._made:
            digits = self.images if strength == 0 else self.corruptions.corrupt(
                self.images, name, strength, seed=CURVE_SEED)
            if path == "preprocess":
                self._made[key] = preprocess(digits, size, mean, std)
            else:
                self._made[key] = prepare_digits(digits, size, mean, std, blank="keep")
        return self._made[key]


def measure_curves(model: Any, labels: Any, inputs: CorruptedInputs,
                   settings: dict[str, tuple[float, ...]]) -> dict[str, dict[str, list[float]]]:
    """Top-1 accuracy (%) per path, corruption and strength for one checkpoint."""
    import torch

    fast = fast_copy(model)
    measured: dict[tuple[Any, ...], float] = {}  # the clean subset is measured once per path
    results: dict[str, dict[str, list[float]]] = {path: {} for path in PATHS}
    with torch.inference_mode():
        for path in PATHS:
            for name, strengths in settings.items():
                for strength in strengths:
                    key = inputs.key(name, strength, path, model.pretrained_cfg)
                    if key not in measured:
                        x = inputs.get(name, strength, path, model.pretrained_cfg)
                        predictions = torch.cat([
                            fast(x[i:i + 500].contiguous(memory_format=torch.channels_last)).argmax(1)
                            for i in range(0, len(x), 500)])
                        measured[key] = round(100.0 * float((predictions == labels).float().mean()), 3)
                results[path][name] = [measured[inputs.key(name, s, path, model.pretrained_cfg)]
                                       for s in strengths]
    return results


def cached_curves(checkpoint: Checkpoint, folder: Path, labels: Any, inputs: CorruptedInputs,
                  settings: dict[str, tuple[float, ...]], source: bytes) -> dict[str, Any]:
    """:func:`measure_curves`, read from ``generated/cache`` when measured before."""
    path = CACHE_DIR / f"corruption_curves_{curve_cache_key(checkpoint.model, folder, settings, source)}.json"
    if path.exists():
        return json.loads(path.read_text())
    curves = measure_curves(checkpoint.model, labels, inputs, settings)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(curves, indent=1))
    os.replace(tmp, path)
    return curves


def draw_curves(curves: dict[str, dict[str, Any]], settings: dict[str, tuple[float, ...]], path: Path) -> None:
    """One panel per corruption: accuracy against strength, a colour per checkpoint.

    Args:
        curves: Per legend label, the result of :func:`measure_curves`.
        settings: The strengths per corruption.
        path: PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(settings), figsize=(4.1 * len(settings), 3.9), dpi=100,
                             sharey=True, squeeze=False)
    for ax, (name, strengths) in zip(axes[0], settings.items(), strict=True):
        for color, (label, result) in zip(COLORS, curves.items(), strict=False):
            for style, route in (("-", "preprocess"), ("--", "prepare_digits")):
                ax.plot(strengths, result[route][name], style, marker="o", markersize=3,
                        color=color, label=f"{label}, {route}")
        ax.set_xlabel(CURVE_CORRUPTIONS[name])
        ax.set_xticks(strengths)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("top-1 accuracy (%)")
    axes[0, 0].set_ylim(0, 100)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def build_curves(checkpoints: list[Checkpoint], data: Any, folder: Path) -> str:
    """Measure (or read) the corruption curves, draw them and return the include text."""
    corruptions = load_corruptions()
    settings = curve_settings(corruptions)
    source = Path(corruptions.__file__).read_bytes()
    images, labels = data.images[:CURVE_DIGITS], data.labels[:CURVE_DIGITS]
    inputs = CorruptedInputs(corruptions, images)
    curves = {c.width: cached_curves(c, folder, labels, inputs, settings, source) for c in checkpoints}
    draw_curves(curves, settings, FIGURE_DIR / "real_digits_corruptions.png")
    return figure(
        "real_digits_corruptions.png", "Accuracy against rotation, shift and noise per width",
        f"Top-1 accuracy of the MNIST checkpoints on the first {len(labels):,} test digits, "
        "corrupted with ``benchmarks/corruptions.py`` (seed 0; rotation in a random direction, "
        "shift in a random direction, additive Gaussian noise), measured during this build. "
        "Solid: the digits fed through ``preprocess``; dashed: through ``prepare_digits`` "
        "(re-centred and re-sized like MNIST's digits first).")


# ------------------------------------------------------------------------- entry point
INCLUDES = {
    "zoo_mistakes.rst": "the test digits each MNIST checkpoint gets wrong",
    "calibration_reliability.rst": "the reliability diagrams of the MNIST checkpoints",
    "real_digits_corruptions.rst": "the accuracy against rotation, shift and noise per width",
}


def _unavailable(reason: Exception, what: str) -> str:
    if strict():
        raise reason
    logger.info("Figure skipped (%s): %s", what, reason)
    return note(f"Here the build draws {what} when the checkpoints load and MNIST is "
                f"available. In this build: {literal(reason)}")


def generate_digit_figures() -> list[str]:
    """Write the three includes (figures, or notes saying what was missing).

    Returns:
        The names of the includes that got figures.
    """
    folder = mnist_dir()
    texts: dict[str, str] = {}
    try:
        data = load_test_set(folder)
        checkpoints = load_checkpoints(data, folder)
    except FigureUnavailableError as reason:
        texts = {file: _unavailable(reason, what) for file, what in INCLUDES.items()}
    else:
        FIGURE_DIR.mkdir(parents=True, exist_ok=True)
        labels = data.labels.numpy()
        texts["zoo_mistakes.rst"] = build_mistakes(checkpoints, data.images.numpy(), labels)
        texts["calibration_reliability.rst"] = build_reliability(checkpoints, labels)
        try:
            texts["real_digits_corruptions.rst"] = build_curves(checkpoints, data, folder)
        except FigureUnavailableError as reason:
            texts["real_digits_corruptions.rst"] = _unavailable(reason, INCLUDES["real_digits_corruptions.rst"])
    for file, text in texts.items():
        write_if_changed(INCLUDE_DIR / file, text)
    return [file for file, text in texts.items() if ".. figure::" in text]

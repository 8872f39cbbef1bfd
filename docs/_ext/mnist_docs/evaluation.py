"""Figures of the default pretrained model on the MNIST test set, measured during the build.

The default checkpoint (``mobilenet_v1(pretrained=True)``) is run on all 10,000 test
digits; the logits are cached in ``generated/cache`` keyed by the checkpoint's sha256
and the test files, so later builds only redraw. From them come a grid of test digits
with predictions (mistakes in red), the confusion matrix, per-class accuracy and the
most confused pairs. Without the checkpoint or the data, the page gets a note instead,
unless strict mode (``MOBILENET_MNIST_DOCS_STRICT=1``) asks for a failure.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from sphinx.util import logging

from .common import (
    CACHE_DIR,
    FIGURE_DIR,
    INCLUDE_DIR,
    figure,
    list_table,
    literal,
    mnist_dir,
    note,
    write_if_changed,
)

logger = logging.getLogger(__name__)

STRICT_ENV = "MOBILENET_MNIST_DOCS_STRICT"
GRID_COLUMNS = 12
GRID_ROWS = 6
#: Pulls in the mistakes of every MNIST checkpoint (written by :mod:`.figures_digits`).


class FigureUnavailableError(Exception):
    """The inputs a figure needs are missing; the message says which and how to get them."""


def strict() -> bool:
    """Whether a missing checkpoint or data folder must fail the build."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def load_default_model() -> Any:
    """``mobilenet_v1(pretrained=True)`` in eval mode, or :class:`FigureUnavailableError`."""
    from mobilenet_mnist import mobilenet_v1

    try:
        return mobilenet_v1(pretrained=True).eval()
    except Exception as error:  # any failure means: no usable default checkpoint in this build
        raise FigureUnavailableError(
            f"mobilenet_v1(pretrained=True) failed in this build ({type(error).__name__}: "
            f"{error})"
        ) from error


def load_test_set(folder: Path) -> Any:
    """The MNIST test split from ``folder`` via the library's loader."""
    from mobilenet_mnist.data import load_dataset

    if not folder.is_dir():
        raise FigureUnavailableError(f"the MNIST folder {folder} does not exist (set MOBILENET_MNIST_DATA)")
    return load_dataset("mnist", "test", root=folder)


def _cache_key(model: Any, folder: Path) -> str:
    digest = hashlib.sha256(str(model.pretrained_cfg.get("sha256")).encode())
    if model.pretrained_cfg.get("sha256") is None:  # no registry hash: hash the weights
        for tensor in model.state_dict().values():
            digest.update(tensor.detach().cpu().numpy().tobytes())
    for path in sorted(folder.glob("t10k-*")):
        digest.update(f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def fast_copy(model: Any) -> Any:
    """``optimize_for_inference(model, backend="torch")``: the same logits, faster on a CPU."""
    from mobilenet_mnist.deploy import optimize_for_inference

    fast = optimize_for_inference(model, backend="torch")
    if not hasattr(fast, "pretrained_cfg"):  # predict_logits reads mean, std and channels
        fast.pretrained_cfg = model.pretrained_cfg
    return fast


def test_logits(model: Any, data: Any, folder: Path, *, fast: bool = False) -> np.ndarray:
    """(10000, 10) logits of ``model`` on the test set at its native size, cached on disk.

    Args:
        model: The checkpoint (its ``pretrained_cfg`` names the cache entry).
        data: The MNIST test split.
        folder: The MNIST folder (its test files are part of the cache key).
        fast: On a cache miss, run :func:`fast_copy` of the model instead of the model.
    """
    from mobilenet_mnist.training import predict_logits

    path = CACHE_DIR / f"mnist_test_logits_{_cache_key(model, folder)}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    runner = fast_copy(model) if fast else model
    logits = predict_logits(runner, data.images, model.input_size).numpy()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, logits, allow_pickle=False)
    os.replace(tmp, path)
    return logits


def grid_indices(labels: np.ndarray, predictions: np.ndarray) -> list[int]:
    """The first test digits in order, with the rows at the bottom given to mistakes."""
    total = GRID_ROWS * GRID_COLUMNS
    mistakes = np.flatnonzero(predictions != labels)[: total // 3].tolist()
    firsts = [i for i in range(len(labels)) if i not in set(mistakes)][: total - len(mistakes)]
    return firsts + mistakes


def draw_grid(images: np.ndarray, labels: np.ndarray, probs: np.ndarray, path: Path,
              indices: list[int] | None = None, columns: int = GRID_COLUMNS) -> None:
    """Digits with predicted class and probability; mistakes framed and titled in red.

    Args:
        images: uint8 (N, 28, 28) digits.
        labels: True classes (N,).
        probs: Class probabilities (N, C).
        path: PNG file to write.
        indices: The digits to show, in order (default: :func:`grid_indices`).
        columns: Digits per row; the rows follow from ``len(indices)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predictions = probs.argmax(axis=1)
    indices = grid_indices(labels, predictions) if indices is None else indices
    rows = max(1, -(-len(indices) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.95, rows * 1.15), dpi=100,
                             squeeze=False)
    for ax, index in zip(axes.flat, indices, strict=False):
        wrong = predictions[index] != labels[index]
        ax.imshow(images[index], cmap="gray_r", interpolation="nearest")
        text = f"{predictions[index]} ({probs[index].max():.0%})"
        if wrong:
            text = f"{labels[index]}→{predictions[index]} ({probs[index].max():.0%})"
        ax.set_title(text, fontsize=7.5, color="#c62828" if wrong else "#222")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor("#c62828" if wrong else "#bbb")
            spine.set_linewidth(2.5 if wrong else 0.5)
    for ax in list(axes.flat)[len(indices):]:
        ax.axis("off")
    fig.tight_layout(pad=0.4)
    fig.savefig(path)
    plt.close(fig)


def draw_confusion(confusion: np.ndarray, classes: tuple[str, ...], path: Path) -> None:
    """Confusion matrix with counts; the colour scale is logarithmic so rare errors show."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(6.2, 5.4), dpi=110)
    shown = np.where(confusion > 0, confusion, np.nan)
    vmax = max(int(confusion.max()), 2)
    image = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=vmax))
    for (row, col), count in np.ndenumerate(confusion):
        if count:
            dark = np.log(count) / np.log(vmax) > 0.6  # white text on dark cells
            color = "white" if dark else ("#b71c1c" if row != col else "#111")
            ax.text(col, row, str(count), ha="center", va="center", fontsize=7.5, color=color)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="images (log scale)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def render_tables(result: Any) -> str:
    """Per-class accuracy and most confused pairs as reST tables."""
    per_class = result.per_class_accuracy()
    rows = [[name, f"{acc:.2f}"] for name, acc in per_class.items()]
    pairs = [[true, pred, str(count)] for true, pred, count in result.most_confused(8)]
    text = "Per-class accuracy:\n\n" + list_table(["digit", "top-1 %"], rows, align_right_from=1)
    if pairs:
        text += "\nMost confused pairs:\n\n" + list_table(
            ["true", "predicted", "images"], pairs, align_right_from=2)
    return text


def build_evaluation(folder: Path) -> str:
    """Measure, draw and return the include text for the default model's evaluation."""
    import torch

    from mobilenet_mnist.training import EvalResult

    model = load_default_model()
    data = load_test_set(folder)
    logits = test_logits(model, data, folder, fast=True)
    labels = data.labels.numpy()
    predictions = logits.argmax(axis=1)
    n = len(data.classes)
    confusion = np.bincount(labels * n + predictions, minlength=n * n).reshape(n, n)
    accuracy = 100.0 * float((predictions == labels).mean())
    result = EvalResult(accuracy, len(labels), model.input_size, torch.from_numpy(confusion),
                        data.classes)
    FIGURE_DIR.mkdir(parents=True, exist_ok=True)
    draw_grid(data.images.numpy(), labels, softmax(logits), FIGURE_DIR / "mnist_predictions.png")
    draw_confusion(confusion, data.classes, FIGURE_DIR / "mnist_confusion.png")
    cfg = model.pretrained_cfg
    name = cfg.get("name") or (f"{cfg.get('architecture')}.{cfg['tag']}" if cfg.get("tag") else None)
    name = f"``{name}``" if name else "the default checkpoint"
    summary = (f"Measured during this build: {name} at {model.input_size} px classifies "
               f"{accuracy:.2f} % of the {len(labels):,} MNIST test digits correctly "
               f"({result.errors} mistakes).\n")
    grid = figure("mnist_predictions.png", "MNIST test digits with predictions",
                  "The first test digits with the predicted class and its probability; the "
                  "bottom rows are the first mistakes, framed in red as true→predicted.")
    matrix = figure("mnist_confusion.png", "Confusion matrix on the MNIST test set",
                    "Confusion matrix on the MNIST test set (rows: true digit).", width="70%")
    return "\n".join([summary, grid, matrix, render_tables(result)])


def generate_evaluation() -> bool:
    """Write ``generated/include/zoo_evaluation.rst`` (figures and tables, or a note).

    Returns:
        Whether the figures were drawn.
    """
    folder = mnist_dir()
    try:
        text = build_evaluation(folder)
    except FigureUnavailableError as reason:
        if strict():
            raise
        logger.info("Evaluation figures skipped: %s", reason)
        text = note(f"The prediction grid and confusion matrix of the default checkpoint are "
                    f"drawn here when it loads and MNIST is available. In this build: "
                    f"{literal(reason)}")
        write_if_changed(INCLUDE_DIR / "zoo_evaluation.rst", text)
        return False
    write_if_changed(INCLUDE_DIR / "zoo_evaluation.rst", text)
    return True

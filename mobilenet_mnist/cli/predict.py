"""``mobilenet-mnist predict``: labels with calibrated probabilities for image files and folders.

``IMAGE...`` prints one line per file: the top-k labels with calibrated probabilities
(:class:`~mobilenet_mnist.deploy.Predictor`), and ``[not a digit?]`` or
``[blank]`` where the image does not look like a digit. A ``FOLDER`` predicts the images in
it; a folder whose subfolders are named by label (``0/`` … ``9/``, as torchvision's
``ImageFolder``) is scored instead: the lines list the images predicted wrong or flagged,
then come the accuracy, the per-class accuracy and the confusion matrix.

A file that cannot be read gives one line on stderr and the other files are still
predicted; the exit status is then 2 (as for every input error of the command).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import load_model, out, positive_int

_EPILOG = """images are made to look like MNIST first (dark ink on paper and light ink on dark both work,
any size, the digit found and centered); --raw feeds them as they are (white digits on black,
like MNIST). Probabilities are calibrated (temperature scaling) for the published weights.
exit status: 0; 2 if an argument or any file was wrong (the other files are still predicted)."""

#: Images predicted per model call.
_CHUNK = 256


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict", help="top-k classes for image files or folders", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE|FOLDER",
                   help="image files (PNG, JPEG, ...) or folders of them; a folder with one subfolder per label "
                        "(0/ ... 9/) is scored: accuracy and confusion matrix")  # fmt: skip
    p.add_argument("--model", default="mobilenet_v1_100.mnist", help="weights to use")
    p.add_argument("--top-k", type=positive_int, default=3)
    p.add_argument("--raw", action="store_true", help="feed images as they are (already MNIST-like: white on black)")
    p.add_argument("--invert", action="store_true",
                   help="invert the images first and feed them as they are (implies --raw; without --raw, "
                        "dark-on-light images are recognized by themselves)")  # fmt: skip
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="inference backend (default auto: ONNX Runtime if installed, which first exports the "
                        "model for a few seconds; torch starts fastest for a few images)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy.predictor import Predictor

    model = load_model(args.model).eval()
    labels = tuple(model.pretrained_cfg.get("labels") or (str(i) for i in range(model.num_classes)))
    images, failed = [], 0
    for path, label, problem in _collect(args.images, labels):  # every file read before the backend is built
        image = None if problem else _read(path, args.invert)
        if problem:
            _error(problem)
        if image is None:
            failed += 1
        else:
            images.append((path, label, image))
    if images:
        predictor = Predictor(model, backend=args.backend, prepare=not (args.raw or args.invert))
        results = _predict(predictor, [image for _, _, image in images], args.top_k)
        _report([(path, label, result) for (path, label, _), result in zip(images, results, strict=True)], labels)
    return 2 if failed else 0


# ------------------------------------------------------------------------- inputs
def _error(message: str) -> None:
    """One line on stderr, as the command's other errors look."""
    import sys

    sys.stderr.write(f"mobilenet-mnist predict: error: {message}\n")


def _image_suffixes() -> set[str]:
    from PIL import Image

    return {suffix.lower() for suffix in Image.registered_extensions()}


def _collect(paths: list[Path], labels: tuple[str, ...]) -> list[tuple[Path, str | None, str | None]]:
    """(file, true label or None, problem or None) for every input, in order."""
    items: list[tuple[Path, str | None, str | None]] = []
    for path in paths:
        if not path.is_dir():
            items.append((path, None, None if path.exists() else f"Image file {path} does not exist."))
            continue
        found = _folder_items(path, labels)
        if not found:
            problem = (
                f"{path} is a folder; pass image files (PNG, JPEG, ...) or a folder that holds some (it holds none)."
            )
            items.append((path, None, problem))
        items += [(file, label, None) for file, label in found]
    return items


def _folder_items(folder: Path, labels: tuple[str, ...]) -> list[tuple[Path, str | None]]:
    """The images of a folder; of its label subfolders when every subfolder is named by a label."""
    suffixes = _image_suffixes()
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    if subfolders and all(p.name in labels for p in subfolders):
        return [(f, sub.name) for sub in subfolders for f in sorted(sub.iterdir()) if f.suffix.lower() in suffixes]
    return [(f, None) for f in sorted(folder.iterdir()) if f.is_file() and f.suffix.lower() in suffixes]


def _read(path: Path, invert: bool) -> Any:
    """The image of ``path`` (inverted on request), or None after an error line."""
    from ..data.transforms import open_image

    try:
        image = open_image(path)
    except (OSError, ValueError) as error:
        _error(str(error))
        return None
    if not invert:
        return image
    import torch

    from ..data.transforms import to_batch

    x = to_batch(image, 1)  # preprocess's conversions (alpha onto black, 16-bit and float modes kept exact)
    return 255 - x if x.dtype == torch.uint8 else 1 - x


def _predict(predictor: Any, images: list[Any], top_k: int) -> list[Any]:
    results = []
    for start in range(0, len(images), _CHUNK):
        results += predictor(images[start : start + _CHUNK], top_k=top_k)
    return results


# ------------------------------------------------------------------------- output
def _line(path: Path, result: Any, truth: str | None = None) -> str:
    ranked = ", ".join(f"{label} ({p:.1%})" for label, p in result.top_k)
    mark = "  [blank]" if result.blank else ("" if result.is_digit else "  [not a digit?]")
    expected = f"  (true: {truth})" if truth is not None else ""
    return f"{path}: {ranked}{mark}{expected}"


def _report(scored: list[tuple[Path, str | None, Any]], labels: tuple[str, ...]) -> None:
    """One line per image; for labelled images only the misses, then the scores."""
    for path, truth, result in scored:
        if truth is None or truth != result.label or not result.is_digit:
            out(_line(path, result, truth))
    labelled = [(truth, result) for _, truth, result in scored if truth is not None]
    if labelled:
        _scores(labelled, labels)


def _scores(labelled: list[tuple[str, Any]], labels: tuple[str, ...]) -> None:
    """Accuracy, per-class accuracy and the confusion matrix (rows: true, columns: predicted)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for truth, result in labelled:
        matrix[index[truth]][index[result.label]] += 1
    right = sum(matrix[i][i] for i in range(len(labels)))
    flagged = sum(not result.is_digit for _, result in labelled)
    out(f"accuracy: {100 * right / len(labelled):.2f} % ({right}/{len(labelled)} images); "
        f"{flagged} flagged as not a digit")  # fmt: skip
    rows = enumerate(zip(labels, matrix, strict=True))
    per_class = [f"{label}: {100 * row[i] / sum(row):.2f}" for i, (label, row) in rows if sum(row)]
    out(f"per-class accuracy (%): {', '.join(per_class)}")
    width = max(5, *(len(label) + 1 for label in labels), len(str(max(map(max, matrix)))) + 1)
    out("confusion matrix (rows: true, columns: predicted):")
    out(" " * width + "".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, matrix, strict=True):
        out(f"{label:>{width}}" + "".join(f"{count:>{width}}" for count in row))

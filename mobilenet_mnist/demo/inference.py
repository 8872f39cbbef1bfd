"""What the demo page computes, with no web framework: a picture in, a displayable answer out.

:class:`CheckpointCache` holds one :class:`~mobilenet_mnist.deploy.Predictor` per
published checkpoint, built the first time a page asks for it (thread-safe: several
users at once share one). :func:`recognize` turns what the page sends (a sketch from
Gradio's Sketchpad, an uploaded photo) into a :class:`DemoResult`: the 28×28 digit the
model saw, the top-k probabilities and whether it looks like a digit at all.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ..utils.names import unknown_name_message

__all__ = [
    "DEFAULT_MODEL", "DISPLAY_SIDE", "CheckpointCache", "DemoResult", "describe", "recognize", "seen_html", "to_pil",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: The checkpoint a page starts with: it ships inside the package, so it works offline.
DEFAULT_MODEL = "mobilenet_v1_100.mnist"
#: Side in CSS pixels of the 28×28 input shown on the page (enlarged crisply, one block per pixel).
DISPLAY_SIDE = 224
_DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


@dataclass(frozen=True)
class DemoResult:
    """What the page shows for one picture.

    Attributes:
        seen: The 28×28 digit the model saw (a PIL image, mode ``L``, white ink on black).
        top: Top-k class names → probabilities, most likely first (empty for a blank picture).
        is_digit: Whether the picture looks like the checkpoint's training images (False
            for a blank picture, or a not-a-digit score above the threshold).
        verdict: One line (Markdown): the answer, and the not-a-digit score against the
            checkpoint's threshold.
    """

    seen: Any
    top: dict[str, float]
    is_digit: bool
    verdict: str


class CheckpointCache:
    """Predictors for published checkpoints, each built on first use and then shared.

    Args:
        names: The checkpoints offered (default: every published one,
            :func:`~mobilenet_mnist.list_pretrained`).
        weights_dir: A folder with one checkpoint folder per name (``DIR/<name>/model.safetensors``,
            the layout of the Hub repos and of ``hub/`` in a source checkout), read instead of
            the Hugging Face Hub for the names it holds; each file must have the registry's sha256.
        backend: Inference backend of every predictor (``"torch"`` starts in well under a second).

    Raises:
        KeyError: If a name is not a published checkpoint (the message lists the valid ones).
        ValueError: If ``names`` is empty.
        NotADirectoryError: If ``weights_dir`` is given but is not a folder.
    """

    def __init__(
        self, names: Sequence[str] | None = None, *, weights_dir: str | Path | None = None, backend: str = "torch"
    ) -> None:
        from ..models.pretrained import list_pretrained

        published = list_pretrained()
        self.names: tuple[str, ...] = tuple(published if names is None else names)
        if not self.names:
            raise ValueError("names must list at least one checkpoint; see mobilenet_mnist.list_pretrained().")
        for name in self.names:
            if name not in published:
                raise KeyError(unknown_name_message("checkpoint", name, published))
        if weights_dir is not None and not Path(weights_dir).is_dir():
            raise NotADirectoryError(f"weights_dir {str(weights_dir)!r} is not a folder.")
        self.weights_dir = None if weights_dir is None else Path(weights_dir)
        self.backend = backend
        self._predictors: dict[str, Any] = {}
        self._locks = {name: threading.Lock() for name in self.names}

    def check(self, name: str) -> str:
        """Return ``name`` if it is offered, else raise ``KeyError`` listing the offered names."""
        if name not in self.names:
            raise KeyError(unknown_name_message("checkpoint", str(name), self.names))
        return name

    def get(self, name: str) -> Any:
        """The predictor of checkpoint ``name``, loading it on first use.

        Raises:
            KeyError: If ``name`` is not offered.
            WeightsUnavailableError: If its weights are neither shipped, in ``weights_dir``,
                cached nor downloadable.
        """
        self.check(name)
        with self._locks[name]:  # one load per checkpoint, however many users ask at once
            if name not in self._predictors:
                self._predictors[name] = self._load(name)
            return self._predictors[name]

    def is_loaded(self, name: str) -> bool:
        """Whether checkpoint ``name`` has been loaded already."""
        return name in self._predictors

    def _load(self, name: str) -> Any:
        """A predictor for ``name``, with its registry record (labels, calibration).

        The weights come from ``weights_dir`` when it holds the file (checked against the
        registry's sha256), else as :func:`~mobilenet_mnist.create_model` finds them. Digit
        preparation is on for MNIST checkpoints only; others (Fashion-MNIST) take the
        picture as it is, as :class:`~mobilenet_mnist.deploy.Predictor` advises.

        Raises:
            ValueError: If the file in ``weights_dir`` is not the published one.
        """
        from ..deploy.predictor import Predictor
        from ..models.factory import create_model
        from ..models.pretrained import get_pretrained_cfg

        cfg = get_pretrained_cfg(name)
        prepare = cfg.dataset in (None, "mnist")
        local = None if self.weights_dir is None else self.weights_dir / name / cfg.filename
        if local is None or not local.is_file():
            logger.info("Loading %s", name)
            return Predictor(name, backend=self.backend, prepare=prepare)
        logger.info("Loading %s from %s", name, local)
        model = create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(local)}).eval()
        found = model.pretrained_cfg["sha256"]  # hashed while the file was read: no second pass
        if cfg.sha256 and found != cfg.sha256:
            raise ValueError(
                f"{local} is not the published {name}: its sha256 is {found}, the registry's {cfg.sha256}. "
                f"Replace it with the published file, or remove it to load {name} from the Hugging Face Hub."
            )
        return Predictor(model, backend=self.backend, prepare=prepare)


def to_pil(value: Any, *, sketch: bool = False) -> Any:
    """The picture in what a Gradio image component sends, as a PIL image.

    Args:
        value: A PIL image, a numpy array (H×W, H×W×3 or H×W×4), an ImageEditor/Sketchpad
            value (a mapping with ``"composite"``, else ``"background"`` and ``"layers"``),
            or None.
        sketch: Flatten transparency onto white (a sketch: black strokes on a transparent
            or white canvas). Without it, transparency is left for digit preparation.

    Returns:
        The PIL image, or None when there is none (an empty component).

    Raises:
        TypeError: For any other type.
    """
    if isinstance(value, Mapping):
        value = _editor_picture(value)
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = Image.fromarray(value.astype(np.uint8) if value.dtype != np.uint8 else value)
    if not isinstance(value, Image.Image):
        raise TypeError(
            f"Expected a PIL image, a numpy array or an image editor value (a dict), got {type(value).__name__}."
        )
    if sketch and (value.mode in ("RGBA", "LA", "PA") or "transparency" in value.info):
        white = Image.new("RGBA", value.size, (255, 255, 255, 255))
        value = Image.alpha_composite(white, value.convert("RGBA")).convert("RGB")
    return value


def _editor_picture(value: Mapping[str, Any]) -> Any:
    """The flattened picture of an ImageEditor value: its composite, else the background and layers."""
    if value.get("composite") is not None:
        return value["composite"]
    pictures = [p for p in (value.get("background"), *(value.get("layers") or ())) if p is not None]
    if not pictures:
        return None
    images = [to_pil(p).convert("RGBA") for p in pictures]
    flat = images[0]
    for layer in images[1:]:
        flat = Image.alpha_composite(flat, layer.resize(flat.size))
    return flat


def recognize(cache: CheckpointCache, model: str, picture: Any, *, sketch: bool = False, top_k: int = 3) -> DemoResult:
    """Run checkpoint ``model`` on one picture, for display.

    Args:
        cache: Where the predictors are.
        model: The checkpoint's name (one of ``cache.names``).
        picture: The digit (a PIL image): a sketch or photo, any size, dark ink on light or light on dark.
        sketch: The picture is a drawing (dark strokes on white). A checkpoint that takes
            pictures as they are (not MNIST: no digit preparation) gets it inverted, light
            on dark like its training images.
        top_k: How many classes to list.

    Returns:
        The :class:`DemoResult`; a blank picture (no ink) gives ``is_digit=False`` and no classes.

    Raises:
        KeyError: If ``model`` is not offered.
        WeightsUnavailableError: If the checkpoint's weights cannot be loaded.
    """
    predictor = cache.get(model)
    if sketch and not predictor.prepare:
        picture = ImageOps.invert(picture.convert("L"))
    (prediction,) = predictor([picture], top_k=top_k)
    seen = _to_image(prediction.image)
    if prediction.blank:
        return DemoResult(seen, {}, False, "**Blank**: no ink found. Draw a digit or upload a photo of one.")
    top = {label: float(p) for label, p in prediction.top_k}
    return DemoResult(seen, top, bool(prediction.is_digit), _verdict(prediction, predictor))


def _verdict(prediction: Any, predictor: Any) -> str:
    """One Markdown line: the answer, and whether the picture looks like the checkpoint's training images."""
    digits = predictor.pretrained_cfg.get("dataset") in (None, "mnist")
    calibrated = ", calibrated" if predictor.calibrated else ""
    answer = f"**{prediction.label}** ({prediction.probability:.1%}{calibrated})"
    if predictor.threshold is None:
        return f"{answer}; this checkpoint has no not-a-digit threshold, so only blank pictures are flagged."
    score = f"not-a-digit score {prediction.score:.2f}, flagged above {predictor.threshold:.2f}"
    if prediction.is_digit:
        return f"{answer}; looks like {'a digit' if digits else 'its training images'} ({score})."
    return (
        f"**{'Not a digit?' if digits else 'Unlike its training images?'}** The model's best guess is {answer}, "
        f"but the picture is unlike the images it was trained on ({score})."
    )


def _to_image(image: Any) -> Image.Image:
    """A (1, H, W) float tensor in [0, 1] as a PIL image (mode ``L``)."""
    pixels = (image.detach().float().clamp(0, 1).squeeze(0).cpu().numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(pixels)


def seen_html(image: Any) -> str:
    """The digit the model saw as an inline ``<img>``, enlarged with square pixels.

    Inline (a ``data:`` URL) rather than a file: nothing is written to Gradio's file cache,
    where two users getting the same picture at once could read a half-written file.

    Args:
        image: The 28×28 picture (a PIL image), or None (an empty frame).

    Returns:
        HTML for a ``gradio.HTML`` component.
    """
    style = (
        f"width:{DISPLAY_SIDE}px;height:{DISPLAY_SIDE}px;background:#000;image-rendering:pixelated;"
        "display:block;margin:auto"
    )
    if image is None:
        return f'<div class="seen-empty" style="{style}"></div>'
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="the 28×28 input the model saw" src="data:image/png;base64,{data}" style="{style}">'


def describe(name: str) -> str:
    """One Markdown line about a published checkpoint: data set, width, size and test accuracy."""
    from ..models.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    accuracy = (cfg.metrics or {}).get("test_accuracy") or {}
    side = cfg.input_size[-1]
    acc = accuracy.get(side, accuracy.get(str(side)))
    dataset = _DATASET_NAMES.get(cfg.dataset or "", cfg.dataset or "unknown data")
    parts = [f"trained on {dataset}", f"width ×{cfg.width_mult:g}" if cfg.width_mult else None]
    parts.append(f"{cfg.num_params / 1e6:.2f} M parameters" if cfg.num_params else None)
    parts.append(f"{acc:.2f}% test accuracy" if acc is not None else None)
    return f"`{name}`: " + ", ".join(p for p in parts if p) + "."

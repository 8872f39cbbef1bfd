"""Digits in, labels with calibrated probabilities and a "not a digit?" flag out.

:class:`Predictor` holds what a prediction needs, built once: the model on the fast
inference path (:func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference`), its
preprocessing (``input_size``, ``mean``, ``std`` from ``model.pretrained_cfg``) and its
calibration (``temperature``, ``ood_score``, ``ood_threshold``, measured for every
published checkpoint by ``benchmarks/calibrate.py``). :func:`predict` is the one-call form.

What the numbers mean (see the docs' calibration page):

* ``probability`` is ``softmax(logits · q · s / T)``: among images the model gives 0.9, about
  90 % are right (on images like its test set, and on the hard digit set of the docs' "Your
  own digits" page). ``q`` is the image's input ``quality``
  (:func:`~mobilenet_mnist.data.digits.normalize_digits_with_quality`): 1 for a clean digit,
  lower when the ink finder had to take printed lines or faint ink out, the ink is scattered
  or cut by the image's edge, the cases where a model is confidently wrong. ``s`` is the
  prediction's ``stability`` (:mod:`~mobilenet_mnist.deploy.stability`): near 1 when the
  digit turned by ±20° reads the same, lower when it does not. A model without a temperature, such as
  one you trained yourself, uses ``T = 1``: its probabilities are the raw softmax, which
  label smoothing caps near 0.9 (fit one with
  :func:`~mobilenet_mnist.training.calibration.fit_temperature` and pass ``temperature=``);
* ``score`` is the not-a-digit score (:func:`~mobilenet_mnist.training.calibration.not_a_digit_score`
  of ``logits · q · s`` with the checkpoint's ``ood_score`` method, ``"margin"`` by default):
  higher means less like the training images, or a doubtful cleanup;
* ``is_digit`` is False for a blank image (no ink found) or a score above the checkpoint's
  threshold. A model without a threshold flags blank images only.

With ``prepare=True`` (the default) images of any kind (dark ink on paper, photos, a
small digit in a corner) are first made to look like MNIST by
:func:`~mobilenet_mnist.data.digits.normalize_digits`; ``prepare=False`` feeds images that
already look like MNIST (white on black, centered) as :func:`~mobilenet_mnist.preprocess`
does, the right choice for non-digit models such as the Fashion-MNIST checkpoint.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.digits import FRAME, normalize_digits_with_quality, shorter_sides
from ..data.ink import MIN_CONTRAST
from ..data.transforms import check_normalization, open_image, preprocess, resize_normalize, to_batch
from ..models.mobilenet import MNIST_MEAN, MNIST_STD
from ..training.calibration import calibrated_probs, not_a_digit_score
from ..utils.checks import check_bool, check_module, check_number, is_int
from .optimize import backend_of, check_backend, optimize_for_inference
from .stability import MIN_SIDE_FOR_VIEWS, VIEW_ANGLES, turned_views, unsteadiness
from .stability import stability as view_stability

__all__ = ["DEFAULT_MODEL", "DigitPrediction", "Predictor", "PredictorOutputs", "predict"]

logger = logging.getLogger(__name__)

#: The checkpoint :class:`Predictor` and :func:`predict` use by default (shipped in the package).
DEFAULT_MODEL = "mobilenet_v1_100.mnist"
#: Score method used when a model's ``pretrained_cfg`` names none.
DEFAULT_OOD_SCORE = "margin"
#: Images per forward pass.
_BATCH = 256
#: How many predictors :func:`predict` keeps, by model name.
_CACHE_SIZE = 4
#: Held while :func:`predict` looks up or builds a kept predictor: the first calls from a
#: thread pool would otherwise each build (and export) their own copy of the same model.
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class DigitPrediction:
    """The prediction for one image.

    Attributes:
        label: Top-1 label.
        probability: Calibrated top-1 probability, ``softmax(logits · quality · stability / T)``.
        top_k: The ``top_k`` (label, calibrated probability) pairs, most likely first.
        is_digit: False when the image is blank or its not-a-digit score is past the
            model's threshold.
        score: The not-a-digit score (higher: less like the training images).
        image: (1, 28, 28) float in [0, 1]: the MNIST-style image the model saw, before
            its resize and normalization.
        blank: True when no ink was found (``is_digit`` is then False; ``label`` is the
            model's guess for an empty image).
        quality: The input's quality in (0, 1] (:mod:`mobilenet_mnist.data.quality`): 1 for a
            clean digit (and with ``prepare=False``), lower the more the ink finder had to
            clean up; the temperature is divided by it.
        stability: How steady the answer stays with the digit turned by ±20°, in (0, 1]
            (:mod:`mobilenet_mnist.deploy.stability`): near 1 when the turned copies read
            the same, lower when they do not (1 with ``prepare=False``); the temperature is
            divided by it too.
    """

    label: str
    probability: float
    top_k: tuple[tuple[str, float], ...]
    is_digit: bool
    score: float
    image: torch.Tensor
    blank: bool = False
    quality: float = 1.0
    stability: float = 1.0


@dataclass(frozen=True)
class PredictorOutputs:
    """What :meth:`Predictor.logits` returns: the raw material of the predictions.

    Attributes:
        logits: float32 (N, num_classes), before the temperature and the quality.
        images: float32 (N, 1, 28, 28) in [0, 1], the MNIST-style images the model saw.
        has_ink: bool (N,), False for blank images.
        quality: float32 (N,) in (0, 1], the input quality (all 1 with ``prepare=False``).
        view_logits: float32 (V, N, num_classes), the logits of the images turned by each of
            :data:`~mobilenet_mnist.deploy.stability.VIEW_ANGLES` (V = 0 with ``prepare=False``);
            for images that are not turned (``turned`` False), their upright logits.
        turned: bool (N,), True for the images whose turned copies count: prepared images of
            ``MIN_SIDE_FOR_VIEWS`` (32) pixels a side or more.
    """

    logits: torch.Tensor
    images: torch.Tensor
    has_ink: torch.Tensor
    quality: torch.Tensor
    view_logits: torch.Tensor
    turned: torch.Tensor


# ------------------------------------------------------------------------- checks
def _check_top_k(top_k: object) -> int:
    if not is_int(top_k):
        raise TypeError(f"top_k must be an int >= 1 (how many classes to list), got {type(top_k).__name__}.")
    if top_k < 1:
        raise ValueError(f"top_k must be an int >= 1 (how many classes to list), got {top_k}.")
    return int(top_k)


def _load(model: Any) -> nn.Module:
    """The model: loaded by name (as the CLI's ``--model``), or the module given."""
    if isinstance(model, (str, os.PathLike)):
        from ..hub.load import load_model_by_name

        return load_model_by_name(model)
    if not isinstance(model, nn.Module):
        raise TypeError(
            "model must be a weight name (e.g. 'mobilenet_v1_100.mnist'), a folder, file or Hub repo id, "
            f"or a torch.nn.Module, got {type(model).__name__}."
        )
    return model


# ------------------------------------------------------------------------- the predictor
class Predictor:
    """A model ready to label digits: fast inference path, preprocessing and calibration, built once.

    Calling it is thread-safe: several threads may share one predictor (nothing is
    mutated after construction; both inference backends take concurrent calls).

    Example:
        >>> import torch
        >>> from mobilenet_mnist.deploy import Predictor
        >>> predictor = Predictor(backend="torch")  # the shipped mobilenet_v1_100.mnist  # doctest: +SKIP
        >>> page = torch.full((60, 40), 230, dtype=torch.uint8)
        >>> page[10:50, 18:22] = 20                    # a dark "1" on light paper
        >>> (result,) = predictor(page)  # doctest: +SKIP
        >>> result.label, result.is_digit  # doctest: +SKIP
        ('1', True)

    Args:
        model: A weight name, folder, file or Hub repo id (loaded as ``mobilenet-mnist
            predict --model`` does), or a model (an ``nn.Module``, normally a
            :class:`~mobilenet_mnist.MobileNetV1`; it is not modified).
        backend: ``"auto"`` (ONNX Runtime when installed, else PyTorch), ``"torch"`` or
            ``"onnxruntime"``; see :func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference`.
        prepare: Make any digit image look like MNIST first
            (:func:`~mobilenet_mnist.data.digits.normalize_digits`); False for images that
            already do, and for non-digit models (Fashion-MNIST).
        temperature: Use this temperature instead of the model's ``pretrained_cfg["temperature"]``
            (default: the model's, or 1.0 without one).
        threshold: Use this not-a-digit threshold instead of the model's
            ``pretrained_cfg["ood_threshold"]`` (default: the model's, or none).

    Raises:
        TypeError: For a ``model``, ``backend``, ``prepare``, ``temperature`` or ``threshold``
            of the wrong type.
        ValueError: For an unknown backend, a temperature <= 0, or a model whose
            ``pretrained_cfg`` names an unknown score method or bad ``mean``/``std``.
        KeyError: For an unknown weight name (with the closest registered names).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | nn.Module = DEFAULT_MODEL,
        *,
        backend: str = "auto",
        prepare: bool = True,
        temperature: float | None = None,
        threshold: float | None = None,
    ) -> None:
        check_backend(backend)
        self.prepare = check_bool("prepare", prepare)
        module = _load(model)
        check_module(module, "Predictor")
        cfg = dict(getattr(module, "pretrained_cfg", None) or {})
        self.pretrained_cfg = cfg
        self._set_preprocessing(cfg)
        self._set_calibration(cfg, temperature, threshold)
        self.labels: tuple[str, ...] | None = tuple(cfg["labels"]) if cfg.get("labels") else None
        if prepare and cfg.get("dataset") not in (None, "mnist"):
            logger.warning(
                "Predictor: prepare=True reshapes images into MNIST's digit frame, but this model was trained on "
                "%s; pass prepare=False for images like its training images.",
                cfg.get("dataset"),
            )
        self._fast = optimize_for_inference(module, backend=backend)
        self.backend = backend_of(self._fast)

    def _set_preprocessing(self, cfg: dict[str, Any]) -> None:
        size = cfg.get("input_size") or (1, 32, 32)
        self.mean = tuple(cfg.get("mean") or (MNIST_MEAN,) * size[0])
        self.std = tuple(cfg.get("std") or (MNIST_STD,) * size[0])
        self.in_chans = check_normalization(self.mean, self.std, size[0])
        self.input_size = int(size[-1])

    def _set_calibration(self, cfg: dict[str, Any], temperature: Any, threshold: Any) -> None:
        chosen = cfg.get("temperature") if temperature is None else temperature
        self.temperature = float(check_number("temperature", 1.0 if chosen is None else chosen, 0, low_inclusive=False))
        chosen = cfg.get("ood_threshold") if threshold is None else threshold
        self.threshold = None if chosen is None else float(check_number("threshold", chosen))
        self.ood_score = str(cfg.get("ood_score") or DEFAULT_OOD_SCORE)
        not_a_digit_score(torch.zeros(1, 2), self.temperature, self.ood_score)  # an unknown method fails here

    @property
    def calibrated(self) -> bool:
        """Whether the probabilities are calibrated (a temperature other than 1 is in use)."""
        return self.temperature != 1.0

    def __repr__(self) -> str:
        name = self.pretrained_cfg.get("architecture", "model")
        tag = self.pretrained_cfg.get("tag")
        return (
            f"Predictor({name}{'.' + tag if tag else ''}, backend={self.backend!r}, prepare={self.prepare}, "
            f"temperature={self.temperature:.4g}, threshold={self.threshold})"
        )

    # ----------------------------------------------------------------- calling
    def __call__(self, images: Any, top_k: int = 3) -> list[DigitPrediction]:
        """Label images.

        Args:
            images: One image or several: an image file's path, a PIL image, a
                uint8/uint16/float tensor or numpy array of shape (H, W), (N, H, W) or (N, C, H, W), or a list of any of
                these, of any sizes (everything :func:`~mobilenet_mnist.preprocess` takes).
            top_k: How many (label, probability) pairs each prediction lists (at most the
                number of classes).

        Returns:
            One :class:`DigitPrediction` per image, in order (batches and lists flattened).

        Raises:
            TypeError: For unsupported image types or dtypes, or a ``top_k`` that is no int.
            ValueError: For ``top_k`` < 1, unreadable image files, bad shapes, empty inputs
                or values out of range.
        """
        k = _check_top_k(top_k)
        outputs = self.logits(images)
        return self._predictions(outputs, k)

    def logits(self, images: Any) -> PredictorOutputs:
        """The model's logits for ``images`` (before the temperature), the images it saw, and ink.

        Args:
            images: As for calling the predictor.

        Returns:
            A :class:`PredictorOutputs`.

        Raises:
            TypeError: For unsupported image types or dtypes.
            ValueError: For bad shapes, empty inputs or values out of range.
        """
        images = _opened(images)
        if not self.prepare:
            x, seen, has_ink = self._raw_inputs(images)
            logits = self._forward(x)
            not_turned = torch.zeros(len(x), dtype=torch.bool)
            no_views = logits.new_zeros(0, *logits.shape)
            return PredictorOutputs(logits, seen, has_ink, torch.ones(len(x)), no_views, not_turned)
        seen, has_ink, quality = normalize_digits_with_quality(images, blank="keep")
        turned = shorter_sides(images) >= MIN_SIDE_FOR_VIEWS
        views = turned_views(seen[turned]) if bool(turned.any()) else seen[:0]
        # The turned copies go through the model with the images, in the same batches.
        x = preprocess(torch.cat([seen, views]), self.input_size, self.mean, self.std, self.in_chans)
        every = self._forward(x)
        logits = every[: len(seen)]
        view_logits = logits.expand(len(VIEW_ANGLES), -1, -1).clone()  # not turned: the upright logits
        view_logits[:, turned] = every[len(seen) :].view(len(VIEW_ANGLES), -1, logits.shape[1])
        return PredictorOutputs(logits, seen, has_ink, quality, view_logits, turned)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's float32 logits for the preprocessed batch ``x``, in batches of ``_BATCH``."""
        with torch.inference_mode():
            return torch.cat([self._fast(x[i : i + _BATCH]).float() for i in range(0, len(x), _BATCH)]).cpu()

    def _raw_inputs(self, images: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images that already look like MNIST: the model's input, the 28×28 view and has_ink."""
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        if not items:
            raise ValueError("Predictor got an empty list of images; pass at least one image.")
        inputs, views = [], []
        for index, item in enumerate(items):
            try:
                batch = to_batch(item, self.in_chans)
            except (TypeError, ValueError) as error:
                prefix = f"Image {index} of the list: " if isinstance(images, (list, tuple)) else ""
                raise type(error)(f"{prefix}{error}") from error
            batch = batch.float().div_(255) if batch.dtype == torch.uint8 else batch.float()
            inputs.append(resize_normalize(batch, self.input_size, self.mean, self.std))
            views.append(_frame_view(batch))
        seen = torch.cat(views)
        flat = seen.flatten(1)
        has_ink = (flat.amax(1) - flat.amin(1)) > MIN_CONTRAST
        return torch.cat(inputs), seen, has_ink

    def stability(self, outputs: PredictorOutputs) -> torch.Tensor:
        """(N,) float32 in (0, 1]: how steady each answer stays with the digit turned
        (:mod:`~mobilenet_mnist.deploy.stability`, at this predictor's temperature); 1 for
        the images that were not turned (``outputs.turned``: under 32 px, or ``prepare=False``).

        Args:
            outputs: What :meth:`logits` returned.
        """
        steady = view_stability(unsteadiness(outputs.logits, outputs.view_logits, self.temperature))
        return torch.where(outputs.turned, steady, 1.0)

    def _predictions(self, outputs: PredictorOutputs, k: int) -> list[DigitPrediction]:
        steady = self.stability(outputs)
        # The temperature divided by the quality and the stability.
        logits = outputs.logits * (outputs.quality * steady)[:, None]
        labels = self.labels or tuple(str(i) for i in range(logits.shape[1]))
        probs = calibrated_probs(logits, self.temperature)
        top = probs.topk(min(k, logits.shape[1]), dim=1)
        scores = not_a_digit_score(logits, self.temperature, self.ood_score)
        typical = torch.ones_like(outputs.has_ink) if self.threshold is None else scores <= self.threshold
        is_digit = (outputs.has_ink & typical).tolist()
        results = []
        for row, (values, indices) in enumerate(zip(top.values.tolist(), top.indices.tolist(), strict=True)):
            pairs = tuple((labels[i], float(p)) for p, i in zip(values, indices, strict=True))
            results.append(DigitPrediction(
                label=pairs[0][0], probability=pairs[0][1], top_k=pairs, is_digit=bool(is_digit[row]),
                score=float(scores[row]), image=outputs.images[row], blank=not bool(outputs.has_ink[row]),
                quality=float(outputs.quality[row]), stability=float(steady[row]),
            ))  # fmt: skip
        return results


def _opened(images: Any) -> Any:
    """``images`` with file paths (one, or entries of a list) replaced by their decoded images."""
    if isinstance(images, (str, os.PathLike)):
        return open_image(images)
    if isinstance(images, (list, tuple)):
        return [open_image(item) if isinstance(item, (str, os.PathLike)) else item for item in images]
    return images


def _frame_view(batch: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float in [0, 1] → (N, 1, 28, 28) gray, resized as the model's input is."""
    gray = batch.mean(dim=1, keepdim=True) if batch.shape[1] > 1 else batch
    if tuple(gray.shape[-2:]) == (FRAME, FRAME):
        return gray.clone()
    return F.interpolate(gray, size=(FRAME, FRAME), mode="bilinear", align_corners=False).clamp_(0, 1)


# ------------------------------------------------------------------------- one call
@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_predictor(model: str | os.PathLike[str], backend: str, prepare: bool) -> Predictor:
    return Predictor(model, backend=backend, prepare=prepare)


def predict(
    images: Any,
    model: str | os.PathLike[str] | nn.Module = DEFAULT_MODEL,
    *,
    top_k: int = 3,
    prepare: bool = True,
    backend: str = "auto",
) -> list[DigitPrediction]:
    """Label digit images with calibrated probabilities and a "not a digit?" flag.

    The one-call form of :class:`Predictor` (see it and this module's docstring for what
    the numbers mean). Predictors built from a model *name* are kept (the last four), so
    repeated calls do not reload or re-export the model; pass a module, or build a
    :class:`Predictor` yourself, to control that.

    Example:
        >>> from PIL import Image
        >>> from mobilenet_mnist import predict
        >>> (result,) = predict(Image.open("digit.png"))  # doctest: +SKIP
        >>> result.label, f"{result.probability:.1%}", result.is_digit  # doctest: +SKIP
        ('7', '99.8%', True)

    Args:
        images: One image or several, of any kind and size (see :class:`Predictor`).
        model: A weight name, folder, file, Hub repo id, or a model.
        top_k: How many (label, probability) pairs each prediction lists.
        prepare: Make any digit image look like MNIST first (False: images already do).
        backend: ``"auto"``, ``"torch"`` or ``"onnxruntime"``.

    Returns:
        One :class:`DigitPrediction` per image.

    Raises:
        TypeError: For arguments of the wrong type.
        ValueError: For ``top_k`` < 1, an unknown backend, bad images.
        KeyError: For an unknown weight name.
    """
    _check_top_k(top_k)
    check_backend(backend)
    check_bool("prepare", prepare)
    if isinstance(model, (str, os.PathLike)):
        with _CACHE_LOCK:
            predictor = _cached_predictor(os.fspath(model), backend, prepare)  # Path and str: one entry
    else:
        predictor = Predictor(model, backend=backend, prepare=prepare)
    return predictor(images, top_k=top_k)

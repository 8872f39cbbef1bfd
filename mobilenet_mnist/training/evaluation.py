"""Scoring a model on an in-memory test set: accuracy, per-class accuracy, confusions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..data.datasets import ImageTensors
from ..data.transforms import resize_normalize
from ..models.mobilenet import MNIST_MEAN, MNIST_STD

__all__ = ["EvalResult", "evaluate", "predict_logits"]


@dataclass(frozen=True)
class EvalResult:
    """Test-set scores.

    Attributes:
        accuracy: Top-1 accuracy in percent.
        num_images: Images scored.
        input_size: Input side in pixels used.
        confusion: (C, C) int64 counts, rows = true class, columns = predicted.
        classes: Class names.
    """

    accuracy: float
    num_images: int
    input_size: int
    confusion: torch.Tensor
    classes: tuple[str, ...]

    @property
    def errors(self) -> int:
        """Number of misclassified images."""
        return self.num_images - int(self.confusion.diagonal().sum())

    def per_class_accuracy(self) -> dict[str, float]:
        """Accuracy in percent for each true class."""
        totals = self.confusion.sum(dim=1).clamp(min=1)
        return {
            name: 100.0 * float(c) / float(t)
            for name, c, t in zip(self.classes, self.confusion.diagonal(), totals, strict=True)
        }

    def most_confused(self, k: int = 5) -> list[tuple[str, str, int]]:
        """The ``k`` most frequent (true, predicted, count) confusions.

        Raises:
            ValueError: If ``k`` is not an int >= 0.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be an int >= 0 (how many confusions to list), got {k!r}.")
        off = self.confusion.clone()
        off.fill_diagonal_(0)
        counts, flat = off.flatten().sort(descending=True)
        n = len(self.classes)
        return [
            (self.classes[i // n], self.classes[i % n], int(c))
            for c, i in zip(counts[:k].tolist(), flat[:k].tolist(), strict=True)
            if c > 0
        ]


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    input_size: int,
    batch_size: int = 500,
    channels_last: bool = True,
    progress: bool = False,
) -> torch.Tensor:
    """Logits for images resized to ``input_size``, computed in batches.

    Args:
        model: The classifier (a module with a ``pretrained_cfg``, or any module taking
            MNIST-normalised 1-channel input).
        images: uint8 (0–255) or float (0–1) images, (N, H, W) or (N, C, H, W) with C
            equal to the model's input channels or 1 (repeated).
        input_size: Side in pixels the images are resized to.
        batch_size: Images per forward pass.
        channels_last: Feed NHWC tensors.
        progress: Show a tqdm progress bar over the batches (on stderr).

    Raises:
        TypeError: If ``model`` is not a module or ``images`` not a tensor.
        ValueError: For no images, a bad shape, ``input_size`` or ``batch_size``.
    """
    cfg = getattr(model, "pretrained_cfg", {"mean": (MNIST_MEAN,), "std": (MNIST_STD,), "input_size": (1,)})
    in_chans = cfg["input_size"][0]
    _check_predict_args(model, images, input_size, batch_size, in_chans)
    param = next(model.parameters())
    outputs = []
    for start in _batch_starts(len(images), batch_size, input_size, progress):
        batch = images[start : start + batch_size]
        batch = batch.unsqueeze(1) if batch.dim() == 3 else batch
        x = resize_normalize(batch.expand(-1, in_chans, -1, -1), input_size, cfg["mean"], cfg["std"])
        x = x.to(param.device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outputs.append(model(x).float().cpu())
    return torch.cat(outputs)


def _batch_starts(count: int, batch_size: int, input_size: int, progress: bool) -> Iterable[int]:
    """The first index of each batch, wrapped in a tqdm progress bar when ``progress``."""
    starts = range(0, count, batch_size)
    if not progress:
        return starts
    from tqdm.auto import tqdm  # lazy: only progress bars need it

    return tqdm(starts, desc=f"evaluating at {input_size}px", unit="batch", leave=False)


def _check_predict_args(
    model: nn.Module, images: torch.Tensor, input_size: int, batch_size: int, in_chans: int
) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"The model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"images must be a torch.Tensor (N, H, W), got {type(images).__name__}; use "
            "mobilenet_mnist.preprocess for PIL images and arrays."
        )
    if images.dim() not in (3, 4) or (images.dim() == 4 and images.shape[1] not in (1, in_chans)):
        channels = "1" if in_chans == 1 else f"{in_chans} or 1"
        raise ValueError(
            f"images must be (N, H, W) or (N, C, H, W) with C = {channels} (the model's input channels), "
            f"got shape {tuple(images.shape)}."
        )
    if len(images) == 0:
        raise ValueError("No images to score (N = 0).")
    for name, value in (("input_size", input_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")


def evaluate(
    model: nn.Module,
    data: ImageTensors,
    input_size: int,
    batch_size: int = 500,
    channels_last: bool = True,
    progress: bool = False,
) -> EvalResult:
    """Top-1 accuracy and confusion matrix of ``model`` (in eval mode) on ``data``.

    For the library's fast path, pass ``optimize_for_inference(model)``: the same
    predictions, several times faster (what ``mobilenet-mnist evaluate`` does); the
    training loop passes the model as it is (no export per epoch).

    Args:
        model: A classifier over ``len(data.classes)`` classes.
        data: Images and labels, e.g. from :func:`mobilenet_mnist.load_dataset`.
        input_size: Input side in pixels (images are resized to it).
        batch_size: Images per forward pass.
        channels_last: Feed NHWC tensors (faster on CPUs; same results).
        progress: Show a tqdm progress bar over the batches (on stderr).

    Returns:
        An :class:`EvalResult`.

    Raises:
        TypeError: If ``data`` is not :class:`~mobilenet_mnist.data.datasets.ImageTensors`.
        ValueError: If the model's outputs do not match the classes, or as
            :func:`predict_logits`.
    """
    if not isinstance(data, ImageTensors):
        raise TypeError(
            f"evaluate expects ImageTensors (images, labels, classes), e.g. from load_dataset or "
            f"tensors_from_dataset, got {type(data).__name__}."
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"The model must be a torch.nn.Module, got {type(model).__name__}.")
    was_training = model.training
    model.eval()
    try:
        logits = predict_logits(model, data.images, input_size, batch_size, channels_last, progress)
    finally:
        model.train(was_training)
    n = len(data.classes)
    if logits.dim() != 2 or logits.shape[1] != n:
        raise ValueError(
            f"The model returns {logits[0].numel()} outputs per image but the data has {n} classes; "
            f"give the model {n} outputs (model.reset_classifier({n}) and fine-tune it)."
        )
    predictions = logits.argmax(dim=1)
    confusion = torch.bincount(data.labels * n + predictions, minlength=n * n).reshape(n, n)
    accuracy = 100.0 * float((predictions == data.labels).float().mean())
    return EvalResult(accuracy, len(data), input_size, confusion, data.classes)

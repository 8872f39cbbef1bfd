"""Scoring a model on an in-memory test set: accuracy, per-class accuracy, confusions."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .data import ImageTensors, resize_normalize

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
        """The ``k`` most frequent (true, predicted, count) confusions."""
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
    model: nn.Module, images: torch.Tensor, input_size: int, batch_size: int = 500, channels_last: bool = True
) -> torch.Tensor:
    """Logits for uint8 images (N, H, W) resized to ``input_size``, computed in batches."""
    cfg = getattr(model, "pretrained_cfg", {"mean": (0.1307,), "std": (0.3081,), "input_size": (1,)})
    in_chans = cfg["input_size"][0]
    param = next(model.parameters())
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        batch = batch.unsqueeze(1) if batch.dim() == 3 else batch
        x = resize_normalize(batch.expand(-1, in_chans, -1, -1), input_size, cfg["mean"], cfg["std"])
        x = x.to(param.device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outputs.append(model(x).float().cpu())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module, data: ImageTensors, input_size: int, batch_size: int = 500, channels_last: bool = True
) -> EvalResult:
    """Top-1 accuracy and confusion matrix of ``model`` (in eval mode) on ``data``.

    Args:
        model: A classifier over ``len(data.classes)`` classes.
        data: Images and labels, e.g. from :func:`mobilenet_mnist.load_dataset`.
        input_size: Input side in pixels (images are resized to it).
        batch_size: Images per forward pass.
        channels_last: Feed NHWC tensors (faster on CPUs; same results).

    Returns:
        An :class:`EvalResult`.
    """
    was_training = model.training
    model.eval()
    try:
        predictions = predict_logits(model, data.images, input_size, batch_size, channels_last).argmax(dim=1)
    finally:
        model.train(was_training)
    n = len(data.classes)
    confusion = torch.bincount(data.labels * n + predictions, minlength=n * n).reshape(n, n)
    accuracy = 100.0 * float((predictions == data.labels).float().mean())
    return EvalResult(accuracy, len(data), input_size, confusion, data.classes)

"""What a MobileNetV1 refuses as input, and the messages that say how to fix it.

:func:`check_model_input` runs before the network in eager mode (never under TorchScript,
tracing, FX or ``torch.compile``): a tensor of the model's dtype and device, 4-D with the
model's channels, big enough for its strides, finite, and more than one value per channel
for BatchNorm in training mode.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["check_model_input", "nonfinite_input_message"]

# Tensor methods that convert to each dtype, for "did you mean" hints in dtype errors.
_DTYPE_METHODS = {torch.float32: "float", torch.float64: "double", torch.float16: "half", torch.bfloat16: "bfloat16"}


def check_model_input(model: Any, x: object) -> None:
    """Raise a clear ``TypeError``/``ValueError`` unless ``x`` is an input ``model`` can take.

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (``in_chans``, ``arch``, ``stem``).
        x: The input given to the model.
    """
    if isinstance(x, torch.fx.Proxy):  # FX symbolic tracing (e.g. feature extractors): no values
        return
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"MobileNetV1 expects a torch.Tensor, got {type(x).__name__}.")
    expected = f"(N, {model.in_chans}, H, W) with H, W >= {model.arch.min_input_size}"
    if x.dim() != 4:
        raise ValueError(
            f"Expected a 4-D input of shape {expected}, got shape {tuple(x.shape)}. "
            "Add a batch axis with x.unsqueeze(0) for a single image."
        )
    if x.shape[1] != model.in_chans:
        raise ValueError(
            f"Expected {model.in_chans} input channel(s), i.e. shape {expected}, got "
            f"shape {tuple(x.shape)}. Build the model with in_chans={x.shape[1]} or "
            "convert the images."
        )
    if min(x.shape[2], x.shape[3]) < model.arch.min_input_size:
        raise ValueError(
            f"Input side {tuple(x.shape[2:])} is too small for the strides of "
            f"architecture {model.arch.name!r}: expected shape {expected}."
        )
    if not x.is_floating_point():
        raise TypeError(
            f"Expected a floating-point input, got dtype {x.dtype}. Normalise images "
            "first, e.g. with mobilenet_mnist.preprocess."
        )
    _check_dtype_and_device(x, model.stem.conv.weight)
    if model.training and x.shape[0] == 1:
        _check_batchnorm_batch(model, x)
    _check_finite(x)


def _check_batchnorm_batch(model: Any, x: torch.Tensor) -> None:
    """Refuse a single image whose last feature map is 1×1 while BatchNorm trains."""
    stride = model.feature_info[len(model.stages) - 1]["reduction"]  # of the stages left after pruning
    last_map = -(-x.shape[2] // stride) * -(-x.shape[3] // stride)  # "same" padding: ceil
    if last_map == 1 and any(isinstance(m, nn.BatchNorm2d) and m.training for m in model.modules()):
        raise ValueError(
            f"A batch of 1 image of side {tuple(x.shape[2:])} ends in a 1×1 feature map, and "
            "BatchNorm in training mode needs more than one value per channel. Call "
            "model.eval() for inference, or train with batches of at least 2 images."
        )


def _check_dtype_and_device(x: torch.Tensor, weight: torch.Tensor) -> None:
    """Refuse an input whose dtype or device differs from the model's weights."""
    if x.device != weight.device:
        raise TypeError(
            f"The input is on device {x.device} but the model's weights are on {weight.device}; "
            f"move one to the other, e.g. x.to({str(weight.device)!r}) or model.to({str(x.device)!r})."
        )
    if x.dtype == weight.dtype or torch.is_autocast_enabled(x.device.type):
        return  # autocast casts the input itself
    to_input = _DTYPE_METHODS.get(weight.dtype)
    to_model = _DTYPE_METHODS.get(x.dtype)
    fix_input = f"x.{to_input}()" if to_input else f"x.to({weight.dtype})"
    fix_model = f"model.{to_model}()" if to_model else f"model.to({x.dtype})"
    raise TypeError(
        f"Input dtype {x.dtype} does not match the model's {weight.dtype} weights. Convert the "
        f"input with {fix_input}, or the model with {fix_model}."
    )


def _check_finite(x: torch.Tensor) -> None:
    """Refuse NaN or infinite CPU inputs (one reduction); skipped where values cannot be read.

    Skipped on accelerators: reading the result would force a device sync on every call.
    """
    if torch.compiler.is_compiling():  # torch.compile / torch.export trace graphs, not values
        return
    if x.device.type != "cpu":
        return
    try:
        # A sum is finite iff every value is (barring overflow, which the exact check below
        # rules out) and is about 20x faster than isfinite().all() on large batches.
        if bool(x.sum().isfinite()) or bool(torch.isfinite(x).all()):
            return
    except RuntimeError:  # meta/fake tensors, vmap and make_fx tracing have no readable values
        return
    raise ValueError(nonfinite_input_message(int(torch.isnan(x).sum()), int(torch.isinf(x).sum()), x.numel()))


def nonfinite_input_message(nan: int, inf: int, total: int) -> str:
    """What every inference path says about an input with ``nan`` NaN and ``inf`` infinite values of ``total``."""
    return (
        f"The input contains NaN or infinite values ({nan} NaN, {inf} inf of {total}), so "
        "the logits would be meaningless. Check the images and their normalisation "
        "(mobilenet_mnist.preprocess refuses such images)."
    )

"""Folding BatchNorm into the preceding convolution (eval-mode maths), for inference.

Used by :meth:`MobileNetV1.fuse <mobilenet_mnist.MobileNetV1.fuse>` and by every
inference backend in :mod:`mobilenet_mnist.deploy`.
"""

from __future__ import annotations

import copy
from typing import TypeVar

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..utils.checks import check_module
from .layers import ConvBnAct

#: The type of the model :func:`fuse_conv_bn` copies (and returns).
ModuleT = TypeVar("ModuleT", bound=nn.Module)

__all__ = ["fuse_conv_bn", "is_fused"]


def fuse_conv_bn(model: ModuleT) -> ModuleT:
    """A copy of ``model`` with every :class:`ConvBnAct`'s BatchNorm folded into its conv.

    Each ``conv`` gains a bias and each ``bn`` becomes :class:`torch.nn.Identity`, using
    BatchNorm's running statistics (eval-mode semantics), so the copy computes the same
    logits as ``model.eval()`` up to float rounding (about 1e-5 for logits of order 10).
    The original model is not modified. Already-fused layers are left as they are, so
    fusing twice is harmless.

    The copy is returned in eval mode. Do not train it: without BatchNorm the network
    no longer normalises batches; fine-tune the unfused model and fuse again.

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (or any module built from
            :class:`~mobilenet_mnist.models.ConvBnAct` layers).

    Returns:
        The fused deep copy, in eval mode.

    Raises:
        TypeError: If ``model`` is not an ``nn.Module``.
        ValueError: If ``model`` has no ConvBnAct layers, or a BatchNorm without
            running statistics (``track_running_stats=False``).
    """
    check_module(model, "fuse_conv_bn")
    blocks = [m for m in model.modules() if isinstance(m, ConvBnAct)]
    if not blocks:
        raise ValueError(
            f"fuse_conv_bn found no ConvBnAct layers in {type(model).__name__}; it folds "
            "BatchNorm in mobilenet_mnist models. For other models use "
            "torch.ao.quantization.fuse_modules or torch.fx-based fusion."
        )
    fused = copy.deepcopy(model).eval()
    for block in fused.modules():
        if isinstance(block, ConvBnAct) and isinstance(block.bn, nn.BatchNorm2d):
            _fuse_block(block)
    return fused


def _fuse_block(block: ConvBnAct) -> None:
    """Replace ``block.conv`` by the fused conv and ``block.bn`` by Identity, in place."""
    bn = block.bn
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "Cannot fold a BatchNorm2d built with track_running_stats=False: it has no "
            "running statistics. Fusion needs eval-mode BatchNorm statistics."
        )
    block.conv = fuse_conv_bn_eval(block.conv.eval(), bn.eval())
    block.bn = nn.Identity()  # type: ignore[assignment]  # the folded BatchNorm is gone


def is_fused(model: nn.Module) -> bool:
    """Whether ``model`` contains ConvBnAct layers and all of them have BatchNorm folded."""
    blocks = [m for m in model.modules() if isinstance(m, ConvBnAct)]
    return bool(blocks) and all(isinstance(b.bn, nn.Identity) for b in blocks)

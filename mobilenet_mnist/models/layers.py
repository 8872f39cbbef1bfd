"""Building blocks of MobileNet V1: conv + BatchNorm + ReLU, the depthwise-separable block, pooling."""

# No `from __future__ import annotations`: FX copies forward annotations into the code it
# generates, and TorchScript cannot resolve them as strings.
import torch
from torch import nn

from ..utils.checks import check_number
from ..utils.names import unknown_name_message

__all__ = [
    "POOL_TYPES",
    "ConvBnAct",
    "DepthwiseSeparable",
    "GlobalPool",
    "check_global_pool",
    "check_pool_type",
    "make_divisible",
    "pooled_features",
]

#: Global pooling types of the head (timm's names); ``""`` keeps the feature map (no pooling).
POOL_TYPES = ("avg", "max", "avgmax", "catavgmax", "")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` (as timm/TF do).

    Never rounds down by more than 10 %, so narrow widths keep their capacity.

    Args:
        value: The scaled channel count, a positive number.
        divisor: The multiple to round to, a positive int.
        min_value: The smallest result, a positive int; defaults to ``divisor``.

    Returns:
        The rounded channel count.

    Raises:
        TypeError: If an argument is not a number (``divisor`` and ``min_value``: an int).
        ValueError: If an argument is not finite or not positive.
    """
    check_number("value", value, 0, low_inclusive=False)
    check_number("divisor", divisor, 1, integer=True)
    if min_value is not None:
        check_number("min_value", min_value, 1, integer=True)
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBnAct(nn.Sequential):
    """Conv2d (no bias) → BatchNorm2d → ReLU, with "same" padding for odd kernels.

    After :func:`~mobilenet_mnist.models.fusion.fuse_conv_bn` the BatchNorm is folded into the
    conv (which then has a bias) and ``bn`` becomes :class:`torch.nn.Identity`.

    Args:
        in_chs: Input channels.
        out_chs: Output channels.
        kernel_size: Odd spatial kernel size.
        stride: Convolution stride.
        groups: Convolution groups (``in_chs`` for a depthwise conv).
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_chs,
            out_chs,
            kernel_size,
            stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = nn.ReLU(inplace=True)


class DepthwiseSeparable(nn.Module):
    """The MobileNet V1 block: depthwise k×k ConvBnAct, then pointwise 1×1 ConvBnAct.

    Args:
        in_chs: Input channels.
        out_chs: Output channels.
        stride: Stride of the depthwise conv.
        kernel_size: Kernel size of the depthwise conv.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv_dw = ConvBnAct(in_chs, in_chs, kernel_size, stride, groups=in_chs)
        self.conv_pw = ConvBnAct(in_chs, out_chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the depthwise then the pointwise conv."""
        return self.conv_pw(self.conv_dw(x))


def check_pool_type(pool_type: object) -> str:
    """Return ``pool_type`` if it is one of :data:`POOL_TYPES`, else raise.

    Raises:
        TypeError: If ``pool_type`` is not a str.
        ValueError: For an unknown type, with the closest valid one and all of them.
    """
    if not isinstance(pool_type, str):
        raise TypeError(
            f"global_pool must be a str (one of {', '.join(repr(p) for p in POOL_TYPES)}), "
            f"got {type(pool_type).__name__}."
        )
    if pool_type not in POOL_TYPES:
        valid = [p or "''" for p in POOL_TYPES]
        raise ValueError(
            unknown_name_message("global_pool", pool_type, valid)
            + " ('' disables pooling: the head then sees the (N, C, H, W) feature map.)"
        )
    return pool_type


def check_global_pool(global_pool: object, num_classes: int) -> str:
    """Check a head's pooling: a known type, and pooling whenever there is a classifier.

    Raises:
        TypeError, ValueError: As :func:`check_pool_type`; ``ValueError`` too for ``""`` (no
            pooling) with ``num_classes > 0``.
    """
    global_pool = check_pool_type(global_pool)
    if global_pool == "" and num_classes > 0:
        pools = ", ".join(p for p in POOL_TYPES if p)
        raise ValueError(
            f"global_pool='' (no pooling) hands the classifier the (N, C, H, W) feature map, which a "
            f"linear classifier cannot take (num_classes={num_classes}). Use it with num_classes=0 to "
            f"get the feature map, or pool with one of {pools}."
        )
    return global_pool


def pooled_features(pool_type: str, num_features: int) -> int:
    """Width of the pooled vector: ``catavgmax`` concatenates two poolings."""
    return 2 * num_features if pool_type == "catavgmax" else num_features


class GlobalPool(nn.Module):
    """Global pooling over the spatial axes: (N, C, H, W) → (N, C), or (N, 2C) for ``catavgmax``.

    ``avg`` is a mean over the spatial axes, so it works for any input side and exports to
    ONNX and ``torch.export`` with dynamic shapes; ``""`` returns the feature map unchanged.

    Args:
        pool_type: One of :data:`POOL_TYPES`.
    """

    def __init__(self, pool_type: str = "avg") -> None:
        super().__init__()
        self.pool_type = check_pool_type(pool_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``x`` as ``pool_type`` says."""
        if self.pool_type == "avg":
            return x.mean(dim=(2, 3))
        if self.pool_type == "max":
            return x.amax(dim=(2, 3))
        if self.pool_type == "avgmax":
            return 0.5 * (x.mean(dim=(2, 3)) + x.amax(dim=(2, 3)))
        if self.pool_type == "catavgmax":
            return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return x

    def extra_repr(self) -> str:
        """The pooling type, for ``print(model)``."""
        return f"pool_type={self.pool_type!r}"

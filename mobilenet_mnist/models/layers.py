"""Building blocks of MobileNet V1: conv + BatchNorm + ReLU, and the depthwise-separable block."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBnAct", "DepthwiseSeparable", "make_divisible"]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` (as timm/TF do).

    Never rounds down by more than 10 %, so narrow widths keep their capacity.
    """
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBnAct(nn.Sequential):
    """Conv2d (no bias) → BatchNorm2d → ReLU, with "same" padding for odd kernels.

    After :func:`mobilenet_mnist.deploy.optimize.fuse_conv_bn` the BatchNorm is folded into the
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

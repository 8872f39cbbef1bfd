"""The PyTorch inference backend: BatchNorm folding, channels_last, prepacked oneDNN conv+ReLU.

MobileNet V1 spends almost all of its time in convolutions, so this path removes the
work around them rather than changing their maths:

* BatchNorm is folded into the preceding conv (:func:`fuse_conv_bn`; eval-mode maths);
* weights are stored channels_last (NHWC), the layout oneDNN's CPU convolutions compute
  in, so no layout conversion happens between layers;
* each conv+ReLU block runs as one oneDNN call with weights reordered once
  (:class:`~.packed_conv.PackedConvAct`), which also keeps batch-1 convolutions off
  PyTorch's slow reference kernel (``aten::_slow_conv2d_forward``);
* autograd bookkeeping is switched off (parameters do not require grad);
* a plain :class:`~mobilenet_mnist.MobileNetV1` becomes a
  :class:`~.onednn_graph.GraphMobileNetV1`: eager fp32 inference runs the whole network as
  one frozen oneDNN graph, with none of the per-layer call overhead
  (:mod:`.onednn_graph`); the layers above serve everything else.

Predictions are the plain model's (fp32 logits within 1e-4); the result is still a
:class:`~mobilenet_mnist.MobileNetV1` that ``torch.export`` and the ONNX exporter take
(they see plain convolutions). Speed is measured by ``mobilenet-mnist benchmark`` and
``benchmarks/run_benchmarks.py``, never asserted.
"""

# No `from __future__ import annotations`: InferenceWrapper must stay scriptable.
import copy
import warnings
from typing import Any, cast

import torch
from torch import nn

from ..models.fusion import fuse_conv_bn, is_fused
from ..utils.checks import check_module
from .onednn_graph import use_onednn_graph
from .packed_conv import pack_conv_layers

__all__ = [
    "InferenceWrapper",
    "bf16_supported",
    "check_dtype",
    "fuse_conv_bn",
    "is_fused",
    "optimize_torch",
]

_SUPPORTED_DTYPES = (torch.float32, torch.bfloat16)


# --------------------------------------------------------------------------- bf16
def bf16_supported() -> bool:
    """Whether this CPU has native bfloat16 convolution support in oneDNN.

    True on CPUs with AVX-512 BF16, AMX or AVX-VNNI-style bf16 instructions. Elsewhere
    (e.g. AVX2-only CPUs) bf16 convolutions run on slow reference kernels, many times
    slower than fp32.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:  # op registered but not built for this platform
        return False


class InferenceWrapper(nn.Module):
    """Runs a low-precision model on float32 inputs and returns float32 outputs.

    Casts the input to the model's dtype and to channels_last, and the output back to
    float32, so a bf16 model is a drop-in replacement for the fp32 one.

    Args:
        module: The model whose weights are in ``dtype``.
        dtype: The model's floating-point dtype.
        channels_last: Convert inputs to ``torch.channels_last``.
    """

    def __init__(self, module: nn.Module, dtype: torch.dtype, channels_last: bool) -> None:
        super().__init__()
        self.module = module
        self.dtype = dtype
        self.channels_last = channels_last
        self.pretrained_cfg: dict[str, Any] = dict(getattr(module, "pretrained_cfg", {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits in float32 for a float input of shape (N, C, H, W)."""
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return self.module(x.to(dtype=self.dtype, memory_format=fmt)).float()


def check_dtype(dtype: Any) -> torch.dtype:
    """Validate ``dtype`` (``None`` means float32); warn when bf16 has no fast kernels here.

    Raises:
        TypeError: If ``dtype`` is not a torch dtype.
        ValueError: If it is neither float32 nor bfloat16.
    """
    if dtype is None:
        return torch.float32
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype (torch.float32 or torch.bfloat16), got {dtype!r}.")
    if dtype not in _SUPPORTED_DTYPES:
        raise ValueError(
            f"dtype must be torch.float32 or torch.bfloat16, got {dtype}. float16 and "
            "integer types have no fast CPU convolution kernels here; use float32."
        )
    if dtype == torch.bfloat16 and not bf16_supported():
        warnings.warn(
            "This CPU has no native bfloat16 support (no AVX-512 BF16/AMX), so bf16 "
            "convolutions run on slow reference kernels, far slower than float32. Use "
            "dtype=None (float32) unless you need bf16 for other reasons.",
            RuntimeWarning,
            stacklevel=4,
        )
    return dtype


# --------------------------------------------------------------------------- the path
def optimize_torch(
    model: nn.Module,
    *,
    fuse: bool = True,
    channels_last: bool = True,
    compile: bool = False,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A copy of ``model`` prepared for fast CPU inference in PyTorch; the original is untouched.

    The ``backend="torch"`` path of :func:`~mobilenet_mnist.deploy.optimize.optimize_for_inference`
    (see there for the arguments).

    Returns:
        An eval-mode module whose parameters do not require grad.
    """
    check_module(model, "optimize_for_inference")
    dtype = check_dtype(dtype)
    out = fuse_conv_bn(model) if fuse else copy.deepcopy(model).eval()
    out.requires_grad_(False)
    if channels_last:
        out = out.to(memory_format=torch.channels_last)
        pack_conv_layers(out)  # fused blocks only: one prepacked oneDNN conv+ReLU each
        if fuse and dtype == torch.float32 and not compile:
            use_onednn_graph(out)
    if dtype != torch.float32:
        out = InferenceWrapper(out.to(dtype), dtype, channels_last).eval()
    if compile:
        out = cast(nn.Module, torch.compile(out, dynamic=False))  # an OptimizedModule: typed as a plain callable
    return out

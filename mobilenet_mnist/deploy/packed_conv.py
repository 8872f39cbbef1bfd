"""A BatchNorm-folded conv + ReLU run as one prepacked oneDNN primitive: the PyTorch backend's layer.

Eager PyTorch runs a :class:`~mobilenet_mnist.models.ConvBnAct` as three operations and pays for
things the network does not need at inference time:

* PyTorch sends a batch-1 convolution with one group, a kernel of at most 3×3 and an
  input of at most 20,480 values (most 1×1 convolutions of the network, and the stem) to
  its slow reference kernel, ``aten::_slow_conv2d_forward``, instead of oneDNN; at batch 1
  that kernel took half the time of the whole network;
* oneDNN reorders the weights into its blocked layout on every call, and the ReLU is a
  second pass over the activations.

:class:`PackedConvAct` calls oneDNN's fused convolution (``mkldnn::_convolution_pointwise``,
the operator ``torch.compile`` uses for frozen CPU models) directly, with the weights
reordered once per input size and the ReLU fused into the convolution. Wherever that
operator is not the right tool (``torch.export``/ONNX export, TorchScript, ``torch.compile``,
FX tracing, autograd, other dtypes or devices, PyTorch builds without oneDNN) the layer
runs the plain ``conv2d`` + ``relu``, so exported graphs hold standard operators.
"""

# No `from __future__ import annotations`: TorchScript reads forward annotations at runtime.
import functools
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..models.layers import ConvBnAct

__all__ = [
    "PackedConvAct",
    "eager_fp32_inference",
    "is_eager",
    "onednn_available",
    "pack_conv_layers",
    "weight_version",
]

#: Activations oneDNN fuses into the convolution, by module type.
_FUSED_ACTS = {nn.ReLU: "relu", nn.Identity: "none"}


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch build can run :class:`PackedConvAct`'s oneDNN path."""
    ops = getattr(torch.ops, "mkldnn", None)
    return bool(
        torch.backends.mkldnn.is_available()
        and hasattr(ops, "_convolution_pointwise") and hasattr(ops, "_reorder_convolution_weight")
    )  # fmt: skip


def is_eager() -> bool:
    """False while exporting, compiling, tracing or scripting: those must see standard ops."""
    if torch.jit.is_scripting() or torch.jit.is_tracing():
        return False
    return not (torch.compiler.is_compiling() or torch.compiler.is_exporting())


def eager_fp32_inference(x: object, weight: torch.Tensor) -> bool:
    """Whether ``x`` with ``weight`` is an eager float32 CPU inference call: oneDNN's fast paths apply.

    ``x`` is a plain 4-D float32 CPU tensor, ``weight`` float32 on the CPU, no gradient is
    wanted from either, and nothing is exporting, compiling, tracing or scripting.
    """
    if type(x) is not torch.Tensor or x.dtype != torch.float32 or not x.is_cpu or x.dim() != 4:
        return False
    if weight.dtype != torch.float32 or not weight.is_cpu:
        return False
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return False
    return is_eager()


class PackedConvAct(ConvBnAct):
    """A fused :class:`~mobilenet_mnist.models.ConvBnAct` (BatchNorm folded) run as one oneDNN conv+ReLU.

    It keeps the block's submodules (``conv`` with its bias, ``bn`` as
    :class:`~torch.nn.Identity`, ``act``) and state dict; only ``forward`` differs. The
    reordered weights live in a private cache keyed by the input's height and width and
    the weights' identity and version (so ``load_state_dict`` and ``.to()`` are seen),
    never in the state dict; copies and pickles drop the cache. Build it with
    :meth:`from_block` or :func:`pack_conv_layers`.
    """

    if TYPE_CHECKING:  # set by from_block; no class annotations at run time, which TorchScript would read
        _packed: dict[tuple[int, int, int, int], torch.Tensor]
        _geometry: tuple[list[int], list[int], list[int], int]
        _static_ok: bool

    @classmethod
    def from_block(cls, block: ConvBnAct) -> "PackedConvAct":
        """A :class:`PackedConvAct` sharing ``block``'s submodules.

        Raises:
            ValueError: If the BatchNorm is not folded or the activation cannot be fused.
        """
        if not isinstance(block.bn, nn.Identity) or type(block.act) not in _FUSED_ACTS:
            raise ValueError(
                f"PackedConvAct needs a fused block (bn folded: fuse_conv_bn) with a ReLU or Identity "
                f"activation; got bn={type(block.bn).__name__}, act={type(block.act).__name__}."
            )
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        for name, child in block.named_children():
            new.add_module(name, child)
        new._packed = {}
        conv = block.conv  # the oneDNN call's fixed arguments, built once
        padding = [] if isinstance(conv.padding, str) else list(conv.padding)  # "same": never the oneDNN path
        new._geometry = (padding, list(conv.stride), list(conv.dilation), conv.groups)
        new._static_ok = conv.padding_mode == "zeros" and not isinstance(conv.padding, str) and onednn_available()
        return new.train(block.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """conv → ReLU of ``x`` (N, C, H, W); one prepacked oneDNN call in eager fp32 CPU inference."""
        if not torch.jit.is_scripting() and self._use_onednn(x):
            return self._onednn_forward(x)
        conv = self.conv
        y = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        return self.act(y)

    # The three methods below run for every layer of every call: they read submodules from
    # ``_modules`` directly, skipping nn.Module.__getattr__ (a few microseconds per layer at batch 1).
    @torch.jit.unused
    def _use_onednn(self, x: torch.Tensor) -> bool:
        return self._static_ok and eager_fp32_inference(x, cast(nn.Conv2d, self._modules["conv"]).weight)

    @torch.jit.unused
    def _onednn_forward(self, x: torch.Tensor) -> torch.Tensor:
        padding, stride, dilation, groups = self._geometry
        modules = self._modules
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._packed_weight(x), modules["conv"].bias, padding, stride, dilation, groups,
            _FUSED_ACTS[type(modules["act"])], [], "",
        )  # fmt: skip

    @torch.jit.unused
    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        """The weights in oneDNN's layout for a batch-1 input of ``x``'s size, reordered once."""
        weight = cast(nn.Conv2d, self._modules["conv"]).weight
        key = (x.shape[2], x.shape[3], weight.data_ptr(), weight_version(weight))
        packed = self._packed.get(key)
        if packed is None:
            padding, stride, dilation, groups = self._geometry
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                weight.detach().contiguous(memory_format=torch.channels_last), padding, stride, dilation,
                groups, [1, *x.shape[1:]],
            )  # fmt: skip
            if len(self._packed) >= 8:  # a few input sizes at most; weights changed otherwise
                self._packed.clear()
            self._packed[key] = packed  # a dict store is atomic: threads may only pack twice
        return packed

    def __getstate__(self) -> dict[str, Any]:
        """The module's state without the cache of reordered weights (opaque oneDNN tensors)."""
        state = self.__dict__.copy()
        state["_packed"] = {}
        return state


def weight_version(tensor: torch.Tensor) -> int:
    """The in-place version counter (changes on ``load_state_dict``); 0 for inference tensors."""
    try:
        return int(tensor._version)
    except RuntimeError:  # inference tensors have no version counter (and cannot be modified)
        return 0


def pack_conv_layers(model: nn.Module) -> int:
    """Replace every fused :class:`~mobilenet_mnist.models.ConvBnAct` of ``model`` by a :class:`PackedConvAct`.

    Blocks whose BatchNorm is not folded, or whose activation oneDNN cannot fuse, are
    left as they are. Works in place.

    Returns:
        How many blocks were replaced.
    """
    replaced = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is ConvBnAct and isinstance(child.bn, nn.Identity) and type(child.act) in _FUSED_ACTS:
                setattr(parent, name, PackedConvAct.from_block(child))
                replaced += 1
    return replaced

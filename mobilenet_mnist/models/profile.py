"""Parameter and multiply-add counting, total and per layer.

Multiply-adds are counted the way the MobileNet paper does: every convolution and the
fully connected layer; BatchNorm, ReLU and pooling are not counted. Parameters include
BatchNorm's affine weights (as ``sum(p.numel() for p in model.parameters())``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..utils.checks import check_module, is_int  # check_module: deploy/ imports it from here too

__all__ = ["LayerCost", "ModelCost", "count_params", "profile_model"]


@dataclass(frozen=True)
class LayerCost:
    """Cost of one conv or linear layer for one input image.

    Attributes:
        name: Qualified module name, e.g. ``"stages.1.0.conv_pw.conv"``.
        kind: ``"conv"``, ``"conv_dw"`` (depthwise) or ``"linear"``.
        output_shape: Output shape without the batch axis.
        params: Parameters of the layer (weights and bias).
        macs: Multiply-adds per image.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


@dataclass(frozen=True)
class ModelCost:
    """Totals and per-layer rows of :func:`profile_model`."""

    params: int
    macs: int
    input_size: tuple[int, int, int]
    layers: tuple[LayerCost, ...]

    def to_markdown(self) -> str:
        """A markdown table of the per-layer costs."""
        rows = ["| layer | kind | output | params | mult-adds |", "|---|---|---|---:|---:|"]
        for layer in self.layers:
            shape = "×".join(map(str, layer.output_shape))
            rows.append(f"| {layer.name} | {layer.kind} | {shape} | {layer.params:,} | {layer.macs:,} |")
        rows.append(f"| **total** | | | {self.params:,} | {self.macs:,} |")
        return "\n".join(rows)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``).

    Raises:
        TypeError: If ``model`` is not a :class:`torch.nn.Module`.
    """
    check_module(model, "count_params")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _layer_cost(name: str, module: nn.Conv2d | nn.Linear, output: torch.Tensor) -> LayerCost:
    params = sum(p.numel() for p in module.parameters(recurse=False))
    out_shape = tuple(output.shape[1:])
    if isinstance(module, nn.Conv2d):
        kernel_h, kernel_w = module.kernel_size
        per_output = (module.in_channels // module.groups) * kernel_h * kernel_w
        depthwise = module.groups > 1 and module.groups == module.in_channels
        kind = "conv_dw" if depthwise else "conv"
        return LayerCost(name, kind, out_shape, params, per_output * output[0].numel())
    return LayerCost(name, "linear", out_shape, params, module.in_features * module.out_features)


def profile_model(model: nn.Module, input_size: int | tuple[int, int] | None = None) -> ModelCost:
    """Count parameters and multiply-adds of ``model`` for one image.

    Args:
        model: Any module; conv and linear layers are counted.
        input_size: Input side (or (H, W)); defaults to ``model.pretrained_cfg["input_size"]``.

    Returns:
        A :class:`ModelCost` with totals and one row per conv/linear layer.

    Raises:
        TypeError: If ``model`` is not a module or ``input_size`` not an int or (H, W) pair.
        ValueError: If no input size is given and the model has no ``pretrained_cfg``, or a
            side is not positive (the model itself refuses sides its strides cannot take).
    """
    check_module(model, "profile_model")
    in_chans, height, width = _resolve_input(model, input_size)
    rows: list[LayerCost] = []
    hooks = [
        module.register_forward_hook(lambda mod, _inp, out, name=name: rows.append(_layer_cost(name, mod, out)))
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            param = next(model.parameters())
            model(torch.zeros(1, in_chans, height, width, dtype=param.dtype, device=param.device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    total_macs = sum(r.macs for r in rows)
    return ModelCost(count_params(model), total_macs, (in_chans, height, width), tuple(rows))


def _first_conv_channels(model: nn.Module) -> int | None:
    # The first convolution knows the true input channels; a peer's metadata may not (timm keeps
    # input_size (3, 224, 224) in pretrained_cfg after in_chans=1, torchvision has none).
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else None


def _resolve_input(model: nn.Module, input_size: int | tuple[int, int] | None) -> tuple[int, int, int]:
    cfg = getattr(model, "pretrained_cfg", None)
    if input_size is None:
        if cfg is None:
            raise ValueError("profile_model needs input_size for a model without pretrained_cfg.")
        return tuple(cfg["input_size"])
    in_chans = _first_conv_channels(model)
    if in_chans is None:
        in_chans = cfg["input_size"][0] if cfg else getattr(model, "in_chans", 3)
    sides = (input_size, input_size) if is_int(input_size) else input_size
    if not isinstance(sides, (tuple, list)) or len(sides) != 2 or not all(is_int(s) for s in sides):
        raise TypeError(f"input_size must be an int side or an (H, W) pair of ints, got {input_size!r}.")
    if min(sides) < 1:
        raise ValueError(f"input_size sides must be positive pixel counts, got {input_size!r}.")
    return in_chans, sides[0], sides[1]

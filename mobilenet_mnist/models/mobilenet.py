"""The MobileNet V1 network, built from an architecture config (see :mod:`.archs`)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .archs import ArchConfig, LayerConfig, get_arch
from .layers import ConvBnAct, DepthwiseSeparable, make_divisible

__all__ = ["HEAD_FIELDS", "MAX_INPUT_SIZE", "MAX_WIDTH_MULT", "MNIST_MEAN", "MNIST_STD", "MobileNetV1"]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
#: Widths above this build networks of hundreds of millions of parameters; refuse them.
MAX_WIDTH_MULT = 4.0
#: Largest default input side (pixels) a model accepts in ``pretrained_cfg``.
MAX_INPUT_SIZE = 4096
#: ``pretrained_cfg`` entries that describe the classifier's outputs; a new head drops them.
HEAD_FIELDS = ("labels", "test_accuracy", "metrics")


def without_head_fields(pretrained_cfg: dict[str, Any]) -> dict[str, Any]:
    """``pretrained_cfg`` less what described the classifier (:data:`HEAD_FIELDS`)."""
    return {k: v for k, v in pretrained_cfg.items() if k not in HEAD_FIELDS}


def _check_number(name: str, value: Any, low: float, high: float, *, integer: bool) -> None:
    """Raise a TypeError/ValueError naming ``name`` unless ``low <= value <= high``."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} ({value!r}).")
    if not (low <= value <= high) or (not integer and not math.isfinite(value)):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}.")


class MobileNetV1(nn.Module):
    """MobileNet V1 (Howard et al., 2017) for any registered layer config.

    Every conv is followed by BatchNorm and ReLU; the head is global average pooling,
    dropout and a linear classifier that returns logits (no softmax). Pooling is a
    mean over the spatial axes, so the network accepts any input side of at least
    ``arch.min_input_size`` and exports with dynamic batch and spatial axes.

    Args:
        arch: Architecture name (see :func:`mobilenet_mnist.list_archs`) or config.
        width_mult: The paper's α, scaling every layer's channels; ``0 < α <= 4``.
        in_chans: Input channels (1 for grayscale digits, 3 for RGB).
        num_classes: Classifier outputs; 0 removes the classifier, so the model
            returns pooled features of size :attr:`num_features`.
        dropout: Dropout probability before the classifier, in ``[0, 1)``.
        input_size: Default input side in pixels (``32·ρ`` for the MNIST config);
            defaults to the architecture's native size. It sets
            ``pretrained_cfg["input_size"]`` used by preprocessing.

    Attributes:
        num_features: Channels of the last feature map (the classifier's input size).
        feature_info: One dict per stage (``num_chs``, ``reduction``, ``module``), in the
            order :meth:`forward_intermediates` returns their outputs.
        pretrained_cfg: Input size, mean/std, labels and weight metadata (timm's keys).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range.
        KeyError: If ``arch`` names no registered architecture.
    """

    # TorchScript compiles properties; this one reads the untyped pretrained_cfg dict.
    __jit_unused_properties__ = ["input_size"]  # noqa: RUF012

    def __init__(
        self,
        arch: str | ArchConfig = "mnist",
        width_mult: float = 1.0,
        in_chans: int = 1,
        num_classes: int = 10,
        dropout: float = 0.0,
        input_size: int | None = None,
    ) -> None:
        super().__init__()
        arch = get_arch(arch)
        _check_number("width_mult", width_mult, 1e-6, MAX_WIDTH_MULT, integer=False)
        _check_number("in_chans", in_chans, 1, 4096, integer=True)
        _check_number("num_classes", num_classes, 0, 1_000_000, integer=True)
        _check_number("dropout", dropout, 0.0, 0.999, integer=False)
        input_size = arch.input_size if input_size is None else input_size
        _check_number("input_size", input_size, arch.min_input_size, MAX_INPUT_SIZE, integer=True)

        self.arch = arch
        self.width_mult = float(width_mult)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = float(dropout)
        self._build_body(arch.layers)
        self.head_drop = nn.Dropout(dropout)
        self.classifier: nn.Module = self._make_classifier(num_classes)
        # No annotation here: TorchScript misreads `self.x: dict[...] = ...` in __init__ and warns.
        self.pretrained_cfg = self.default_cfg(input_size)
        self._init_weights()

    # ----------------------------------------------------------------- construction
    def _scaled(self, chs: int) -> int:
        return make_divisible(chs * self.width_mult)

    def _build_body(self, layers: tuple[LayerConfig, ...]) -> None:
        stem_cfg = layers[0]
        chs = self._scaled(stem_cfg.out_chs)
        self.stem = ConvBnAct(self.in_chans, chs, stem_cfg.kernel_size, stem_cfg.stride)
        reduction = stem_cfg.stride
        stages: list[nn.Sequential] = []
        current: list[nn.Module] = []
        self.feature_info: list[dict[str, Any]] = []
        for layer in layers[1:]:
            if layer.stride == 2 and current:
                self._close_stage(stages, current, chs, reduction)
                current = []
            out_chs = self._scaled(layer.out_chs)
            current.append(DepthwiseSeparable(chs, out_chs, layer.stride, layer.kernel_size))
            chs, reduction = out_chs, reduction * layer.stride
        self._close_stage(stages, current, chs, reduction)
        self.stages = nn.Sequential(*stages)
        self.num_features = chs

    def _close_stage(self, stages: list[nn.Sequential], blocks: list[nn.Module], chs: int, reduction: int) -> None:
        index = len(stages)
        stages.append(nn.Sequential(*blocks))
        self.feature_info.append({"num_chs": chs, "reduction": reduction, "module": f"stages.{index}"})

    def _make_classifier(self, num_classes: int) -> nn.Module:
        if num_classes == 0:
            return nn.Identity()
        return nn.Linear(self.num_features, num_classes)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                _init_linear(module)

    def default_cfg(self, input_size: int) -> dict[str, Any]:
        """The preprocessing/metadata dict for this model without pretrained weights.

        Keys follow timm's ``pretrained_cfg``: ``input_size`` as (C, H, W), ``mean`` and
        ``std`` per channel, ``num_classes``, ``first_conv``, ``classifier``, etc.
        """
        return {
            "architecture": self.arch.name,
            "width_mult": self.width_mult,
            "input_size": (self.in_chans, input_size, input_size),
            "interpolation": "bilinear",
            "mean": (MNIST_MEAN,) * self.in_chans,
            "std": (MNIST_STD,) * self.in_chans,
            "num_classes": self.num_classes,
            "first_conv": "stem.conv",
            "classifier": "classifier",
            "tag": None,
        }

    # ----------------------------------------------------------------- public API
    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a freshly initialised one with ``num_classes`` outputs.

        ``pretrained_cfg`` forgets what described the old head (:data:`HEAD_FIELDS`) and
        keeps where the backbone weights came from.

        Args:
            num_classes: New number of outputs; 0 removes the classifier.
        """
        _check_number("num_classes", num_classes, 0, 1_000_000, integer=True)
        self.num_classes = num_classes
        weight = self.stem.conv.weight  # match the model's device and dtype (e.g. after .double())
        self.classifier = self._make_classifier(num_classes).to(weight.device, weight.dtype)
        if isinstance(self.classifier, nn.Linear):
            _init_linear(self.classifier)
        self.pretrained_cfg = {**without_head_fields(self.pretrained_cfg), "num_classes": num_classes}

    def fuse(self) -> MobileNetV1:
        """A copy with every BatchNorm folded into its convolution, for fast inference.

        Folding uses the running statistics, so the copy (in eval mode) computes what
        ``self.eval()`` computes (fp32 logits within 1e-4) with fewer ops; ``self`` is
        left untouched and stays trainable.
        See :func:`mobilenet_mnist.optimize_for_inference` for the full fast path
        (fusion, channels_last, inference mode, optional ``torch.compile``/bf16).

        Returns:
            The fused copy, in eval mode (do not train it: it has no BatchNorm).
        """
        from ..deploy.optimize import fuse_conv_bn

        return fuse_conv_bn(self)

    def get_classifier(self) -> nn.Module:
        """The classifier module (``nn.Identity`` when ``num_classes == 0``)."""
        return self.classifier

    @property
    def input_size(self) -> int:
        """Default input side in pixels, from ``pretrained_cfg['input_size']``."""
        return int(self.pretrained_cfg["input_size"][-1])

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and all stages: (N, C, H, W) → (N, num_features, H/s, W/s)."""
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_input(x)
        return self.stages(self.stem(x))

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at the end of every stage (described by :attr:`feature_info`)."""
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_input(x)
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, dropout, classifier; ``pre_logits`` stops before the classifier."""
        x = x.mean(dim=(2, 3))
        x = self.head_drop(x)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes), or pooled features if ``num_classes == 0``."""
        return self.forward_head(self.forward_features(x))

    @torch.jit.unused
    def _check_input(self, x: torch.Tensor) -> None:
        if isinstance(x, torch.fx.Proxy):  # FX symbolic tracing (e.g. feature extractors): no values
            return
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"MobileNetV1 expects a torch.Tensor, got {type(x).__name__}.")
        if x.dim() != 4:
            raise ValueError(
                f"Expected a 4-D input of shape {self._expected_shape()}, got shape {tuple(x.shape)}. "
                "Add a batch axis with x.unsqueeze(0) for a single image."
            )
        if x.shape[1] != self.in_chans:
            raise ValueError(
                f"Expected {self.in_chans} input channel(s), i.e. shape {self._expected_shape()}, got "
                f"shape {tuple(x.shape)}. Build the model with in_chans={x.shape[1]} or "
                "convert the images."
            )
        if min(x.shape[2], x.shape[3]) < self.arch.min_input_size:
            raise ValueError(
                f"Input side {tuple(x.shape[2:])} is too small for the strides of "
                f"architecture {self.arch.name!r}: expected shape {self._expected_shape()}."
            )
        if not x.is_floating_point():
            raise TypeError(
                f"Expected a floating-point input, got dtype {x.dtype}. Normalise images "
                "first, e.g. with mobilenet_mnist.preprocess."
            )
        _check_dtype_and_device(x, self.stem.conv.weight)
        if self.training and x.shape[0] == 1:
            self._check_batchnorm_batch(x)
        _check_finite(x)

    def _expected_shape(self) -> str:
        return f"(N, {self.in_chans}, H, W) with H, W >= {self.arch.min_input_size}"

    def _check_batchnorm_batch(self, x: torch.Tensor) -> None:
        """Refuse a single image whose last feature map is 1×1 while BatchNorm trains."""
        stride = self.arch.total_stride
        last_map = -(-x.shape[2] // stride) * -(-x.shape[3] // stride)  # "same" padding: ceil
        if last_map == 1 and any(isinstance(m, nn.BatchNorm2d) and m.training for m in self.modules()):
            raise ValueError(
                f"A batch of 1 image of side {tuple(x.shape[2:])} ends in a 1×1 feature map, and "
                "BatchNorm in training mode needs more than one value per channel. Call "
                "model.eval() for inference, or train with batches of at least 2 images."
            )


# Tensor methods that convert to each dtype, for "did you mean" hints in dtype errors.
_DTYPE_METHODS = {torch.float32: "float", torch.float64: "double", torch.float16: "half", torch.bfloat16: "bfloat16"}


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
    nan, inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
    raise ValueError(
        f"The input contains NaN or infinite values ({nan} NaN, {inf} inf of {x.numel()}), so "
        "the logits would be meaningless. Check the images and their normalisation "
        "(mobilenet_mnist.preprocess refuses such images)."
    )


def _init_linear(module: nn.Linear) -> None:
    nn.init.normal_(module.weight, std=0.01)
    nn.init.zeros_(module.bias)

"""The MobileNet V1 network, built from an architecture config (see :mod:`.archs`).

Besides ``forward`` the model has timm's model interface, as timm 1.0.31's generic model
tests check it: ``forward_features`` / ``forward_head(pre_logits=...)``,
``forward_intermediates`` and ``prune_intermediate_layers``, ``feature_info``,
``reset_classifier(num_classes, global_pool)``, ``num_features`` / ``head_hidden_size``,
``set_grad_checkpointing``, ``group_matcher`` and ``no_weight_decay`` (timm's optimizer
factories), and ``pretrained_cfg`` with its alias ``default_cfg``.
"""

# No `from __future__ import annotations` here: FX copies the forward's annotations into the
# code it generates, and TorchScript cannot resolve them as strings, so a traced model could
# not be scripted (torch.jit.script(torch.fx.symbolic_trace(model))).
import logging
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..utils.checks import check_number
from .archs import ArchConfig, LayerConfig, get_arch
from .features import check_feature_indices, check_output_fmt, feature_take_indices
from .input_checks import check_model_input
from .layers import ConvBnAct, DepthwiseSeparable, GlobalPool, check_global_pool, make_divisible, pooled_features
from .pretrained_cfg import PretrainedCfg

__all__ = ["GENERIC_NAME", "HEAD_FIELDS", "MAX_INPUT_SIZE", "MAX_WIDTH_MULT", "MNIST_MEAN", "MNIST_STD", "MobileNetV1"]

logger = logging.getLogger(__name__)

#: Mean of MNIST's training pixels (scaled to [0, 1]): the normalisation of every MNIST model.
MNIST_MEAN = 0.1307
#: Standard deviation of MNIST's training pixels (scaled to [0, 1]).
MNIST_STD = 0.3081
#: Widths above this build networks of hundreds of millions of parameters; refuse them.
MAX_WIDTH_MULT = 4.0
#: Largest default input side (pixels) a model accepts in ``pretrained_cfg``.
MAX_INPUT_SIZE = 4096
#: ``pretrained_cfg`` entries that describe the classifier's outputs (the record's ``head``
#: fields); a new head drops them.
HEAD_FIELDS = PretrainedCfg.field_names("head")
#: Name of a model built without a named variant (see :func:`mobilenet_mnist.list_models`).
GENERIC_NAME = "mobilenet_v1"


class MobileNetV1(nn.Module):
    """MobileNet V1 (Howard et al., 2017) for any registered layer config.

    Every conv is followed by BatchNorm and ReLU; the head is global pooling (average by
    default), dropout and a linear classifier that returns logits (no softmax). Average
    pooling is a mean over the spatial axes, so the network accepts any input side of at
    least ``arch.min_input_size`` and exports with dynamic batch and spatial axes.

    Args:
        arch: Architecture name (see :func:`mobilenet_mnist.list_archs`) or config.
        width_mult: The paper's α, scaling every layer's channels; ``0 < α <= 4``.
        in_chans: Input channels (1 for grayscale digits, 3 for RGB).
        num_classes: Classifier outputs; 0 removes the classifier, so the model
            returns pooled features of size :attr:`head_hidden_size`.
        dropout: Dropout probability before the classifier, in ``[0, 1)``.
        input_size: Default input side in pixels (``32·ρ`` for the MNIST config);
            defaults to the architecture's native size. It sets
            ``pretrained_cfg["input_size"]`` used by preprocessing.
        global_pool: Head pooling, one of ``"avg"``, ``"max"``, ``"avgmax"``,
            ``"catavgmax"`` (both, concatenated) or ``""`` (none: with ``num_classes=0`` the
            model returns the feature map).

    Attributes:
        num_features: Channels of the last feature map.
        head_hidden_size: Width of the pooled vector the classifier sees (``num_features``,
            twice that for ``catavgmax``).
        feature_info: One dict per stage (``num_chs``, ``reduction``, ``module``): the levels
            :meth:`forward_intermediates` returns.
        pretrained_cfg: Input size, mean/std, crop, labels and weight metadata (timm's keys);
            ``default_cfg`` is the same dict.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range.
        KeyError: If ``arch`` names no registered architecture.
    """

    # TorchScript compiles properties; these read the untyped pretrained_cfg dict.
    __jit_unused_properties__ = ["input_size", "default_cfg"]  # noqa: RUF012

    def __init__(
        self,
        arch: str | ArchConfig = "mnist",
        width_mult: float = 1.0,
        in_chans: int = 1,
        num_classes: int = 10,
        dropout: float = 0.0,
        input_size: int | None = None,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        arch = get_arch(arch)
        check_number("width_mult", width_mult, 1e-6, MAX_WIDTH_MULT)
        check_number("in_chans", in_chans, 1, 4096, integer=True)
        check_number("num_classes", num_classes, 0, 1_000_000, integer=True)
        check_number("dropout", dropout, 0.0, 0.999)
        input_size = arch.input_size if input_size is None else input_size
        check_number("input_size", input_size, arch.min_input_size, MAX_INPUT_SIZE, integer=True)
        check_global_pool(global_pool, num_classes)

        self.arch = arch
        self.width_mult = float(width_mult)
        self.in_chans = in_chans
        self.drop_rate = float(dropout)
        self.grad_checkpointing = False
        self._build_body(arch.layers)
        self.head_drop = nn.Dropout(dropout)
        self._set_head(num_classes, global_pool)
        # No annotation here: TorchScript misreads `self.x: dict[...] = ...` in __init__ and warns.
        self.pretrained_cfg = self._fresh_cfg(input_size)
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

    def _set_head(self, num_classes: int, global_pool: str) -> None:
        """Pooling and classifier for ``num_classes`` outputs (fresh, on the model's device and dtype)."""
        self.num_classes = num_classes
        self.global_pool = GlobalPool(global_pool)
        self.head_hidden_size = pooled_features(global_pool, self.num_features)
        self.classifier: nn.Module = nn.Identity()
        if num_classes > 0:
            weight = self.stem.conv.weight  # match the model's device and dtype (e.g. after .double())
            self.classifier = nn.Linear(self.head_hidden_size, num_classes, device=weight.device, dtype=weight.dtype)
            _init_linear(self.classifier)
        self.global_pool.train(self.training)
        self.classifier.train(self.training)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                _init_linear(module)

    def _fresh_cfg(self, input_size: int) -> dict[str, Any]:
        """``pretrained_cfg`` of this model without pretrained weights (a :class:`PretrainedCfg` dict)."""
        side = self.arch.min_input_size
        return PretrainedCfg(
            architecture=GENERIC_NAME,
            num_classes=self.num_classes,
            input_size=(self.in_chans, input_size, input_size),
            mean=(MNIST_MEAN,) * self.in_chans,
            std=(MNIST_STD,) * self.in_chans,
            arch=self.arch.name,
            width_mult=self.width_mult,
            pool_size=self._pool_size(input_size),
            min_input_size=(self.in_chans, side, side),
        ).to_dict()

    def _pool_size(self, side: int) -> tuple[int, int]:
        """Side of the last feature map for a ``side``-pixel input ("same" padding: ceil)."""
        last = -(-side // self.feature_info[len(self.stages) - 1]["reduction"])
        return (last, last)

    # ----------------------------------------------------------------- head and metadata
    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's alias of :attr:`pretrained_cfg` (the same dict)."""
        return self.pretrained_cfg

    @default_cfg.setter
    def default_cfg(self, value: dict[str, Any]) -> None:
        self.pretrained_cfg = value

    @property
    def input_size(self) -> int:
        """Default input side in pixels, from ``pretrained_cfg['input_size']``."""
        return int(self.pretrained_cfg["input_size"][-1])

    def get_classifier(self) -> nn.Module:
        """The classifier module (``nn.Identity`` when ``num_classes == 0``)."""
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier by a freshly initialised one with ``num_classes`` outputs.

        The new head is on the model's device and dtype and in its train/eval mode.
        ``pretrained_cfg`` forgets what described the old head (:data:`HEAD_FIELDS`) and
        keeps where the backbone weights came from.

        Args:
            num_classes: New number of outputs; 0 removes the classifier.
            global_pool: New pooling (see the class); ``None`` keeps the current one, except
                that a classifier on a model without pooling (``""``) gets ``"avg"``.

        Raises:
            TypeError: If ``num_classes`` is not an int or ``global_pool`` not a str.
            ValueError: If ``num_classes < 0``, ``global_pool`` is unknown, or ``""`` (no
                pooling) is asked for with a classifier.
        """
        check_number("num_classes", num_classes, 0, 1_000_000, integer=True)
        if global_pool is None:
            current = self.global_pool.pool_type
            global_pool = "avg" if current == "" and num_classes > 0 else current
        check_global_pool(global_pool, num_classes)
        self._set_head(num_classes, global_pool)
        kept = {k: v for k, v in self.pretrained_cfg.items() if k not in HEAD_FIELDS}
        self.pretrained_cfg = {**kept, "num_classes": num_classes}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage in the backward pass instead of storing its activations."""
        self.grad_checkpointing = bool(enable)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for timm's layer-wise learning-rate decay: the stem, then stages or blocks."""
        return {"stem": r"^stem", "blocks": r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)"}

    def no_weight_decay(self) -> set[str]:
        """Parameter names to exempt from weight decay beyond biases and norms: none."""
        return set()

    def fuse(self) -> "MobileNetV1":
        """A copy with every BatchNorm folded into its convolution, for fast inference.

        Folding uses the running statistics, so the copy (in eval mode) computes what
        ``self.eval()`` computes (fp32 logits within 1e-4) with fewer ops; ``self`` is
        left untouched and stays trainable.
        See :func:`mobilenet_mnist.optimize_for_inference` for the full fast path
        (fusion, channels_last, inference mode, optional ``torch.compile``/bf16).

        Returns:
            The fused copy, in eval mode (do not train it: it has no BatchNorm).
        """
        from .fusion import fuse_conv_bn

        return fuse_conv_bn(self)

    # ----------------------------------------------------------------- forward
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and all stages: (N, C, H, W) → (N, num_features, H/s, W/s)."""
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_input(x)
        x = self.stem(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            for index in range(len(self.stages)):
                x = self._checkpointed(index, x)
            return x
        return self.stages(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global pooling, dropout, classifier; ``pre_logits`` stops before the classifier."""
        x = self.global_pool(x)
        x = self.head_drop(x)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes), or pooled features if ``num_classes == 0``."""
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Feature maps at the end of stages (levels of :attr:`feature_info`), as timm returns them.

        Args:
            x: Input batch (N, C, H, W).
            indices: Levels to return: ``None`` for all, an int ``n`` for the last ``n``, or a
                list of level indices (negative ones count from the end); returned in that order.
            norm: Accepted for timm's signature; the network has no final norm.
            stop_early: Run no stage after the last level asked for (``final`` is then the
                output of that stage).
            output_fmt: ``"NCHW"`` or ``"NHWC"`` (the feature maps only; ``final`` stays NCHW).
            intermediates_only: Return the feature maps only.

        Returns:
            ``(final, intermediates)`` where ``final`` is what :meth:`forward_features` returns,
            or only ``intermediates`` (a list) if ``intermediates_only``. (0.2.0 took only ``x``
            and returned the list of all levels: ``intermediates_only=True`` gives that.)

        Raises:
            TypeError, ValueError: For bad input (as :meth:`forward`), ``indices`` out of range
                or an unknown ``output_fmt``; the message lists the valid values.
        """
        if not torch.jit.is_scripting():
            self._check_intermediates_args(indices, output_fmt)
            if not torch.jit.is_tracing():
                self._check_input(x)
        take, last = feature_take_indices(len(self.stages), indices)
        if not (stop_early or intermediates_only):
            last = len(self.stages) - 1
        x = self.stem(x)
        taps: dict[int, torch.Tensor] = {}
        for index, stage in enumerate(self.stages):
            if index <= last:
                if self.grad_checkpointing and not torch.jit.is_scripting():
                    x = self._checkpointed(index, x)
                else:
                    x = stage(x)
                taps[index] = x.permute(0, 2, 3, 1) if output_fmt == "NHWC" else x
        intermediates = [taps[index] for index in take]
        if intermediates_only:
            return intermediates
        return x, intermediates

    def prune_intermediate_layers(
        self, indices: int | list[int] | None = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Remove the stages after the last level in ``indices`` (and the head), as timm does.

        :attr:`feature_info` keeps describing every level; ``num_features`` and
        ``pretrained_cfg["pool_size"]`` follow the stages left.

        Args:
            indices: Levels to keep (as :meth:`forward_intermediates`); the default keeps all.
            prune_norm: Accepted for timm's signature; the network has no final norm.
            prune_head: Remove pooling and classifier (``reset_classifier(0, "")``). With
                ``False`` a classifier whose input width changed is replaced by a fresh one.

        Returns:
            The levels asked for, as non-negative indices (valid after pruning too).

        Raises:
            TypeError, ValueError: For ``indices`` out of range, as :meth:`forward_intermediates`.
        """
        self._check_intermediates_args(indices, "NCHW")
        take, last = feature_take_indices(len(self.stages), indices)
        pruned = last < len(self.stages) - 1
        if pruned:
            self.stages = self.stages[: last + 1].train(self.training)
            self.num_features = self.feature_info[last]["num_chs"]
            self.pretrained_cfg = {**self.pretrained_cfg, "pool_size": self._pool_size(self.input_size)}
        if prune_head:
            self.reset_classifier(0, "")
        elif pruned:  # the head's input width follows the last stage left
            if self.num_classes:
                logger.warning("Pruned to level %d: the classifier was replaced by a fresh one.", last)
            self.reset_classifier(self.num_classes)
        return take

    @torch.jit.unused
    def _checkpointed(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return checkpoint(self.stages[index], x, use_reentrant=False)

    @torch.jit.unused
    def _check_intermediates_args(self, indices: Any, output_fmt: Any) -> None:
        levels = self.feature_info[: len(self.stages)]
        check_feature_indices(indices, levels)
        check_output_fmt(output_fmt)

    @torch.jit.unused
    def _check_input(self, x: torch.Tensor) -> None:
        check_model_input(self, x)


def _init_linear(module: nn.Linear) -> None:
    nn.init.normal_(module.weight, std=0.01)
    nn.init.zeros_(module.bias)

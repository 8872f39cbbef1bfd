"""Feature extraction: which levels to take, what they are, and ``features_only`` models.

A network describes its feature levels in ``model.feature_info`` (one dict per stage:
``num_chs``, ``reduction``, ``module``) and returns them from ``forward_intermediates``. This
module turns that into what detection and segmentation code expects from a timm backbone:

* :func:`feature_take_indices` resolves ``indices``/``out_indices`` as timm does (``None``: all
  levels; an int ``n``: the last ``n``; a sequence: those levels, negative ones counted from the
  end); :func:`check_feature_indices` explains a wrong value;
* :class:`FeatureInfo` answers ``channels()``, ``reduction()`` and ``module_name()`` for the
  levels a features model returns;
* :func:`create_features` wraps a model as a ``features_only`` model whose forward returns the
  list of feature maps: :class:`FeatureGetterNet` (``feature_cls="getter"``, through
  ``forward_intermediates``; TorchScript-able) or :class:`FeatureHookNet` (``"hook"``, through
  forward hooks on the stage modules). Both prune the stages after the last level taken and
  the head, so every parameter left receives a gradient (as DDP requires).
"""

# No `from __future__ import annotations`: FX copies forward annotations into the code it
# generates, and TorchScript cannot resolve them as strings.
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..utils.checks import is_int
from ..utils.names import unknown_name_message

__all__ = [
    "FEATURE_CLASSES",
    "OUTPUT_FMTS",
    "FeatureExtractorBase",
    "FeatureGetterNet",
    "FeatureHookNet",
    "FeatureInfo",
    "check_feature_cls",
    "check_feature_indices",
    "check_output_fmt",
    "create_features",
    "feature_take_indices",
]

#: Layouts ``forward_intermediates`` returns feature maps in.
OUTPUT_FMTS = ("NCHW", "NHWC")
#: ``feature_cls`` values of a ``features_only`` model.
FEATURE_CLASSES = ("getter", "hook")


def feature_take_indices(num_levels: int, indices: int | list[int] | None = None) -> tuple[list[int], int]:
    """Absolute level indices to take, in the order asked, and the largest (TorchScript-able).

    Args:
        num_levels: How many feature levels the model has.
        indices: ``None`` for all levels, an int ``n`` for the last ``n``, or a list of
            indices (negative ones count from the end).

    Returns:
        The indices as non-negative ints, and their maximum. Check them first with
        :func:`check_feature_indices`: this function does not validate.
    """
    if indices is None:
        indices = num_levels
    take: list[int] = []
    if isinstance(indices, int):
        take = [num_levels - indices + i for i in range(indices)]
    else:
        for index in indices:
            take.append(num_levels + index if index < 0 else index)
    return take, max(take)


def check_feature_indices(indices: Any, levels: Sequence[dict[str, Any]], name: str = "indices") -> None:
    """Raise a clear error unless ``indices`` selects levels of ``levels`` (a ``feature_info``).

    Raises:
        TypeError: If ``indices`` is not None, an int or a list/tuple of ints.
        ValueError: If an index is out of range, repeated, or the selection is empty; the
            message lists the valid indices and what each level is.
    """
    num = len(levels)
    valid = (
        f"this model has {num} feature level(s), so valid indices are 0 to {num - 1} (or -{num} to -1 "
        f"from the end), or an int n in 1..{num} for the last n levels. Levels: "
        + "; ".join(f"{i}: {info['num_chs']} channels, reduction {info['reduction']}" for i, info in enumerate(levels))
        + "."
    )
    if indices is None:
        return
    if is_int(indices):
        if not 0 < indices <= num:
            raise ValueError(f"{name}={indices} asks for the last {indices} levels, but {valid}")
        return
    if not isinstance(indices, (list, tuple)) or not all(is_int(i) for i in indices):
        raise TypeError(f"{name} must be None, an int or a list/tuple of ints, got {indices!r}; {valid}")
    if not indices:
        raise ValueError(f"{name} is empty; {valid}")
    wrong = [i for i in indices if not -num <= i < num]
    if wrong:
        raise ValueError(f"{name}={tuple(indices)}: {wrong} out of range; {valid}")
    absolute = [i % num for i in indices]
    if len(set(absolute)) != len(absolute):
        raise ValueError(f"{name}={tuple(indices)} names a level twice (as {absolute}); give each level once.")


def check_output_fmt(output_fmt: object) -> str:
    """Return ``output_fmt`` if it is one of :data:`OUTPUT_FMTS`, else raise ``ValueError``/``TypeError``."""
    if not isinstance(output_fmt, str):
        raise TypeError(f"output_fmt must be a str, one of {', '.join(OUTPUT_FMTS)}; got {type(output_fmt).__name__}.")
    if output_fmt not in OUTPUT_FMTS:
        raise ValueError(unknown_name_message("output_fmt", output_fmt, OUTPUT_FMTS))
    return output_fmt


def check_feature_cls(feature_cls: object) -> str:
    """Return ``feature_cls`` if it is one of :data:`FEATURE_CLASSES`, else raise ``ValueError``/``TypeError``."""
    if not isinstance(feature_cls, str):
        raise TypeError(f"feature_cls must be one of {', '.join(FEATURE_CLASSES)} (a str), got {feature_cls!r}.")
    if feature_cls not in FEATURE_CLASSES:
        raise ValueError(
            unknown_name_message("feature_cls", feature_cls, FEATURE_CLASSES)
            + " ('getter' calls forward_intermediates and is TorchScript-able; 'hook' records stage outputs.)"
        )
    return feature_cls


class FeatureInfo:
    """What each feature level is, and which of them a features model returns (timm's API).

    Args:
        info: One dict per level of the full model (``num_chs``, ``reduction``, ``module``).
        out_indices: The levels returned, in the order returned.
    """

    def __init__(self, info: Sequence[dict[str, Any]], out_indices: Sequence[int]) -> None:
        self.info = [dict(level) for level in info]
        self.out_indices = list(out_indices)

    def get(self, key: str, idx: int | Sequence[int] | None = None) -> Any:
        """``key`` of the returned levels (``idx=None``), of level ``idx``, or of several levels."""
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if not isinstance(idx, int):
            return [self.info[i][key] for i in idx]
        return self.info[idx][key]

    def get_dicts(self, keys: Sequence[str] | None = None, idx: int | Sequence[int] | None = None) -> Any:
        """The info dicts (restricted to ``keys``) of the returned levels, or of ``idx``."""
        def pick(level: dict[str, Any]) -> dict[str, Any]:
            return dict(level) if keys is None else {k: level[k] for k in keys}

        if idx is None:
            return [pick(self.info[i]) for i in self.out_indices]
        if not isinstance(idx, int):
            return [pick(self.info[i]) for i in idx]
        return pick(self.info[idx])

    def channels(self, idx: int | Sequence[int] | None = None) -> Any:
        """Channels of the returned feature maps (or of level(s) ``idx``)."""
        return self.get("num_chs", idx)

    def reduction(self, idx: int | Sequence[int] | None = None) -> Any:
        """Input side divided by feature-map side, per returned level (or of level(s) ``idx``)."""
        return self.get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None) -> Any:
        """Name of the module whose output each returned level is (or of level(s) ``idx``)."""
        return self.get("module", idx)

    def __getitem__(self, item: int) -> dict[str, Any]:
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)

    def __repr__(self) -> str:
        return f"FeatureInfo(out_indices={self.out_indices}, channels={self.channels()}, reduction={self.reduction()})"


def _features_cfg(model: nn.Module) -> dict[str, Any]:
    """The wrapped model's ``pretrained_cfg`` without what describes its (removed) classifier."""
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    for key in ("num_classes", "classifier", "labels", "metrics", "temperature", "ood_score", "ood_threshold"):
        cfg.pop(key, None)
    return cfg


class FeatureExtractorBase(nn.Module):
    """What both features models share: pruning, ``feature_info``, ``pretrained_cfg``."""

    def _wrap(self, model: Any, out_indices: int | Sequence[int] | None) -> None:
        # model: Any, since nn.Module's typing knows none of the feature methods a MobileNetV1 brings.
        check_feature_indices(out_indices, model.feature_info, "out_indices")
        indices = list(out_indices) if isinstance(out_indices, (list, tuple)) else out_indices
        take = model.prune_intermediate_layers(indices, prune_head=True)
        self.model: Any = model
        self.out_indices: list[int] = take
        self.feature_info = FeatureInfo(model.feature_info, take)
        self.pretrained_cfg = _features_cfg(model)
        self.in_chans = getattr(model, "in_chans", None)

    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's alias of :attr:`pretrained_cfg`."""
        return self.pretrained_cfg

    @default_cfg.setter
    def default_cfg(self, value: dict[str, Any]) -> None:
        self.pretrained_cfg = value

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage in the backward pass instead of storing its activations."""
        self.model.set_grad_checkpointing(enable)


class FeatureGetterNet(FeatureExtractorBase):
    """A ``features_only`` model that returns ``model.forward_intermediates(x, out_indices)``.

    The stages after the last level taken and the head are pruned from ``model``.

    Args:
        model: A model with ``feature_info``, ``forward_intermediates`` and
            ``prune_intermediate_layers`` (a :class:`~mobilenet_mnist.MobileNetV1`); it is
            modified in place.
        out_indices: Levels to return (see :func:`feature_take_indices`); ``None``: all.
        output_fmt: ``"NCHW"`` or ``"NHWC"``.
    """

    __jit_unused_properties__ = ["default_cfg"]  # noqa: RUF012

    def __init__(self, model: nn.Module, out_indices: int | Sequence[int] | None = None,
                 output_fmt: str = "NCHW") -> None:
        super().__init__()
        self.output_fmt = check_output_fmt(output_fmt)
        self._wrap(model, out_indices)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature maps of ``out_indices``, in that order."""
        features = self.model.forward_intermediates(
            x, indices=self.out_indices, output_fmt=self.output_fmt, intermediates_only=True
        )
        if isinstance(features, list):
            return features
        raise RuntimeError("forward_intermediates(intermediates_only=True) must return a list of tensors.")


class FeatureHookNet(FeatureExtractorBase):
    """A ``features_only`` model that collects stage outputs with forward hooks.

    Runs ``model.forward_features`` and returns what the hooked stage modules produced, in
    the order of ``out_indices``. Not TorchScript-able (hooks); use ``"getter"`` for that.

    Args:
        model: As :class:`FeatureGetterNet`; it is modified in place (pruned, hooked).
        out_indices: Levels to return; ``None``: all.
    """

    __jit_unused_properties__ = ["default_cfg"]  # noqa: RUF012

    def __init__(self, model: nn.Module, out_indices: int | Sequence[int] | None = None) -> None:
        super().__init__()
        self._wrap(model, out_indices)
        self._outputs: dict[int, torch.Tensor] = {}  # level index -> output of the last forward (shared with the hooks)
        for index in self.out_indices:
            module = model.get_submodule(self.model.feature_info[index]["module"])
            module.register_forward_hook(_Recorder(self._outputs, index))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature maps of ``out_indices``, in that order."""
        self._outputs.clear()
        self.model.forward_features(x)
        features = [self._outputs[index] for index in self.out_indices]
        self._outputs.clear()  # hold no activations between calls
        return features


class _Recorder:
    """A forward hook that stores a module's output under its level index."""

    def __init__(self, outputs: dict[int, torch.Tensor], index: int) -> None:
        self.outputs = outputs
        self.index = index

    def __call__(self, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        self.outputs[self.index] = output


def create_features(model: nn.Module, out_indices: int | Sequence[int] | None = None,
                    feature_cls: str = "getter") -> FeatureExtractorBase:
    """Wrap ``model`` as a ``features_only`` model (``create_model(..., features_only=True)``).

    Args:
        model: The model; pruned and wrapped in place.
        out_indices: Levels to return (``None``: all; an int ``n``: the last ``n``).
        feature_cls: ``"getter"`` (:class:`FeatureGetterNet`) or ``"hook"`` (:class:`FeatureHookNet`).

    Returns:
        A module whose forward returns a list of (N, C, H, W) feature maps and whose
        ``feature_info`` describes them.

    Raises:
        TypeError: If ``feature_cls`` is not a str, or ``out_indices`` of the wrong type.
        ValueError: For an unknown ``feature_cls`` or ``out_indices`` out of range; the
            message lists the valid values.
    """
    if check_feature_cls(feature_cls) == "hook":
        return FeatureHookNet(model, out_indices)
    return FeatureGetterNet(model, out_indices)

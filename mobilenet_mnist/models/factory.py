"""Model builders and the model-name registry: ``mobilenet_v1``, ``create_model``, ``list_models``.

Every model a builder returns knows its registered name: ``model.pretrained_cfg["architecture"]``
is ``"mobilenet_v1_050"`` for ``mobilenet_v1_050()``, ``create_model("mobilenet_v1_050")`` and
``mobilenet_v1(width_mult=0.5)`` alike (the factory names its product from its variant
table), and ``"mobilenet_v1"`` for a width or layer config without a named variant.
"""

from __future__ import annotations

import fnmatch
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import torch

from ..utils.names import closest_name, unknown_name_message
from .archs import MNIST_ARCH, ArchConfig, get_arch
from .builder import load_pretrained
from .factory_options import apply_overlay, check_overlay, check_placement, overlay_source, place
from .features import FeatureExtractorBase, check_feature_cls, create_features
from .mobilenet import GENERIC_NAME, MAX_INPUT_SIZE, MobileNetV1

__all__ = [
    "create_model",
    "list_models",
    "mobilenet_v1",
    "mobilenet_v1_025",
    "mobilenet_v1_050",
    "mobilenet_v1_075",
    "mobilenet_v1_100",
    "register_model",
]

ModelBuilder = Callable[..., MobileNetV1]
_MODEL_REGISTRY: dict[str, ModelBuilder] = {}
#: The named variants of the MNIST layer config: model name → width multiplier α.
_VARIANTS: dict[str, float] = {}
#: Tag of the weights that ``pretrained=True`` loads when no tag is given.
DEFAULT_TAG = "mnist"


def register_model(name: str, width_mult: float | None = None) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator that registers a model builder under ``name`` for :func:`create_model`.

    :func:`create_model` writes ``name`` into the built model's
    ``pretrained_cfg["architecture"]``.

    Args:
        name: The model name, e.g. ``"my_mobilenet_050"``; must be new.
        width_mult: Deprecated and unused (models now carry their name); passing it warns.

    Raises:
        TypeError: If ``name`` is not a str, ``width_mult`` not a number or the decorated
            object not callable.
        ValueError: If ``name`` is empty, contains ``"."`` (the weight-tag separator) or is
            already registered.
    """
    if not isinstance(name, str):
        raise TypeError(f"register_model expects a model name (str), got {type(name).__name__}.")
    if not name or "." in name:
        raise ValueError(
            f"Model name {name!r} must be non-empty and contain no '.', which separates the "
            "weight tag (as in 'mobilenet_v1_050.mnist'); use e.g. 'my_mobilenet_050'."
        )
    if width_mult is not None:
        warnings.warn(
            "register_model(name, width_mult) no longer uses width_mult: create_model writes the "
            "registered name into model.pretrained_cfg['architecture']; drop the argument.",
            DeprecationWarning,
            stacklevel=2,
        )

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if not callable(builder):
            raise TypeError(
                f"register_model({name!r}) decorates a function that builds the model, got "
                f"{type(builder).__name__}; use it as @register_model({name!r}) above a def."
            )
        if name in _MODEL_REGISTRY:
            raise ValueError(f"Model {name!r} is already registered; choose a different name.")
        _MODEL_REGISTRY[name] = builder
        return builder

    return decorator


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Names of registered models matching a shell-style wildcard ``pattern``.

    Args:
        pattern: ``fnmatch`` pattern, e.g. ``"*_050"``; ``"*"`` lists all.
        pretrained: List ``name.tag`` entries of published weights instead of models.

    Returns:
        Sorted names.

    Raises:
        TypeError: If ``pattern`` is not a str.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str (a shell wildcard such as '*_050'), got {type(pattern).__name__}.")
    if pretrained:
        from .pretrained import list_pretrained

        return list_pretrained(pattern)
    return sorted(fnmatch.filter(_MODEL_REGISTRY, pattern))


def check_model_name(name: object) -> None:
    """Raise ``KeyError`` with a "did you mean" hint unless ``name`` is a registered model."""
    if not isinstance(name, str) or name not in _MODEL_REGISTRY:
        raise KeyError(unknown_name_message("model", str(name), list_models()))


# The overloads tell type checkers what comes back: the model, or with features_only=True its
# features wrapper (each with its own attributes: reset_classifier, feature_info, ...).
@overload
def create_model(
    name: str,
    pretrained: bool | str | os.PathLike[str] = False,
    *,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    features_only: Literal[False] = False,
    out_indices: None = None,
    feature_cls: None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    **kwargs: Any,
) -> MobileNetV1: ...
@overload
def create_model(
    name: str,
    pretrained: bool | str | os.PathLike[str] = False,
    *,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    features_only: Literal[True],
    out_indices: int | Sequence[int] | None = None,
    feature_cls: str | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    **kwargs: Any,
) -> FeatureExtractorBase: ...
@overload
def create_model(
    name: str,
    pretrained: bool | str | os.PathLike[str] = False,
    *,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    features_only: bool = False,
    out_indices: int | Sequence[int] | None = None,
    feature_cls: str | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    **kwargs: Any,
) -> MobileNetV1 | FeatureExtractorBase: ...
def create_model(
    name: str,
    pretrained: bool | str | os.PathLike[str] = False,
    *,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    features_only: bool = False,
    out_indices: int | Sequence[int] | None = None,
    feature_cls: str | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    **kwargs: Any,
) -> MobileNetV1 | FeatureExtractorBase:
    """Build a registered model by name, optionally with a weight tag after a dot.

    Takes the options of timm's ``create_model`` for any registered model.

    Example:
        >>> from mobilenet_mnist import create_model
        >>> backbone = create_model("mobilenet_v1_050", features_only=True, out_indices=(2, 3, 4))
        >>> backbone.feature_info.channels(), backbone.feature_info.reduction()
        ([128, 256, 512], [4, 8, 16])

    Args:
        name: A name from :func:`list_models`, optionally ``name.tag`` such as
            ``"mobilenet_v1_050.mnist"`` (the tag picks the pretrained weights).
        pretrained: ``True`` for the published weights, or a local file/folder or Hub
            repo id to load weights from.
        pretrained_cfg_overlay: Entries that replace those of ``model.pretrained_cfg`` and,
            with ``pretrained=True``, of the registered record the weights are found by
            (e.g. ``{"hf_hub_revision": "main"}``); ``{"file": path}`` loads a local file
            instead.
        checkpoint_path: Weights (``.safetensors`` file or saved folder) to load after the
            model is built, adapted as :func:`~mobilenet_mnist.hub.load_pretrained` adapts them.
        cache_dir: Hugging Face cache folder for Hub weights (default: ``HF_HUB_CACHE``).
        features_only: Return a backbone whose forward gives the list of feature maps of
            ``out_indices`` (see :mod:`.features`), described by its ``feature_info``.
        out_indices: Feature levels of a ``features_only`` model (``None``: all; an int
            ``n``: the last ``n``; negative indices count from the end).
        feature_cls: ``"getter"`` (default, through ``forward_intermediates``) or ``"hook"``.
        device: Where to put the parameters and buffers (e.g. ``"cuda"``, ``"meta"``).
        dtype: Floating dtype to cast them to.
        **kwargs: Passed to the builder (``num_classes``, ``in_chans``, ``global_pool``, ...).

    Returns:
        The model (a :class:`~mobilenet_mnist.MobileNetV1` from the built-in builders), with
        ``pretrained_cfg["architecture"]`` set to the registered name; with
        ``features_only=True`` its features wrapper (:mod:`.features`).

    Raises:
        TypeError: If ``name`` is not a str, or an option has the wrong type.
        KeyError: For an unknown name, with a "did you mean" suggestion.
        ValueError: For invalid options (overlay keys, ``out_indices`` without
            ``features_only``, an unknown ``feature_cls``, ...), naming the valid values.
    """
    if not isinstance(name, str):
        raise TypeError(f"create_model expects a model name (str), got {type(name).__name__}.")
    base, _, tag = name.partition(".")
    check_model_name(base)
    overlay = check_overlay(pretrained_cfg_overlay)
    device, dtype = check_placement(device, dtype)
    _check_feature_options(features_only, out_indices, feature_cls)
    if tag:
        kwargs["tag"] = tag
    own_load = bool(pretrained) and (bool(overlay) or cache_dir is not None)
    model = _MODEL_REGISTRY[base](pretrained=False if own_load else pretrained, **kwargs)
    if isinstance(getattr(model, "pretrained_cfg", None), dict):
        model.pretrained_cfg = {**model.pretrained_cfg, "architecture": base}
    if own_load:
        # own_load implies a truthy pretrained: a bool here is True
        source = overlay_source(f"{base}.{tag or DEFAULT_TAG}", overlay) if isinstance(pretrained, bool) else pretrained
        load_pretrained(model, source, cache_dir=None if cache_dir is None else Path(cache_dir))
    if checkpoint_path is not None:
        load_pretrained(model, checkpoint_path)
    apply_overlay(model, overlay)
    place(model, device, dtype)
    return create_features(model, out_indices, feature_cls or "getter") if features_only else model


def _check_feature_options(features_only: object, out_indices: object, feature_cls: object) -> None:
    if not isinstance(features_only, bool):
        raise TypeError(f"features_only must be a bool, got {features_only!r}.")
    if not features_only and (out_indices is not None or feature_cls is not None):
        raise ValueError(
            "out_indices and feature_cls choose the outputs of a features_only model; pass "
            "features_only=True with them, or use model.forward_intermediates(x, indices=...)."
        )
    if feature_cls is not None:
        check_feature_cls(feature_cls)


def mobilenet_v1(
    pretrained: bool | str | Path = False,
    *,
    width_mult: float = 1.0,
    resolution_mult: float = 1.0,
    in_chans: int = 1,
    num_classes: int = 10,
    arch: str | ArchConfig = "mnist",
    dropout: float = 0.0,
    global_pool: str = "avg",
    tag: str | None = None,
    **kwargs: Any,
) -> MobileNetV1:
    """MobileNet V1 with width multiplier α and resolution multiplier ρ.

    Example:
        >>> import torch
        >>> from mobilenet_mnist import mobilenet_v1
        >>> model = mobilenet_v1(width_mult=0.5).eval()
        >>> model(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 10])

    Args:
        pretrained: ``False`` for random weights; ``True`` for the published weights of
            this width (tag ``tag``, default ``"mnist"``); or a path to a
            ``.safetensors`` file / saved folder, or a Hugging Face Hub repo id.
        width_mult: α; scales every layer's channels.
        resolution_mult: ρ; sets the default input side to ``round(input_size·ρ)``
            (32·ρ for the MNIST config), used by preprocessing and docs. The network
            itself accepts any side the strides allow.
        in_chans: Input channels. Pretrained grayscale weights are adapted for
            ``in_chans != 1``.
        num_classes: Number of outputs; with pretrained weights a different value gives a
            freshly initialised classifier. 0 returns pooled features.
        arch: Layer config name (:func:`mobilenet_mnist.list_archs`) or config.
        dropout: Dropout before the classifier.
        global_pool: Head pooling: ``"avg"``, ``"max"``, ``"avgmax"``, ``"catavgmax"``, or
            ``""`` for none (with ``num_classes=0`` the model then returns the feature map).
        tag: Weight tag for ``pretrained=True`` (see ``list_models(pretrained=True)``).
        **kwargs: Not accepted: every :class:`MobileNetV1` argument is a keyword above.
            Present for builder signatures; an unknown keyword raises a ``TypeError``
            that names the closest valid one.

    Returns:
        The model, in training mode, with ``model.pretrained_cfg`` describing it: its
        name (``"mobilenet_v1_050"`` for α = 0.5; ``"mobilenet_v1"`` without a named
        variant), its input and, when pretrained, its weights.

    Raises:
        TypeError: For an argument of the wrong type or an unknown keyword.
        ValueError: For out-of-range multipliers or an input size the strides cannot take.
        KeyError: For an unknown architecture or weight tag.
    """
    if kwargs:
        raise TypeError(_unknown_keywords_message("mobilenet_v1", kwargs))
    arch_cfg = get_arch(arch)
    input_size = _input_size(arch_cfg, resolution_mult)
    model = MobileNetV1(
        arch_cfg,
        width_mult=width_mult,
        in_chans=in_chans,
        num_classes=num_classes,
        dropout=dropout,
        input_size=input_size,
        global_pool=global_pool,
    )
    name = _variant_name(arch_cfg, model.width_mult)
    model.pretrained_cfg = {**model.pretrained_cfg, "architecture": name}
    if pretrained is False or pretrained is None:
        return model
    source = _published_name(name, arch_cfg, width_mult, tag) if pretrained is True else pretrained
    return load_pretrained(model, source)


def _variant_name(arch: ArchConfig, width_mult: float) -> str:
    """The name of the named variant this model is, or :data:`~.mobilenet.GENERIC_NAME`."""
    if arch == MNIST_ARCH:
        for name, width in _VARIANTS.items():
            if width == width_mult:
                return name
    return GENERIC_NAME


def _published_name(name: str, arch: ArchConfig, width_mult: float, tag: str | None) -> str:
    """The registry name of the published weights of model ``name`` (``name.tag``)."""
    if arch != MNIST_ARCH:
        raise ValueError(
            f"No published weights exist for arch {arch.name!r}; pass pretrained=False "
            "or a path/repo id of your own weights."
        )
    if name == GENERIC_NAME:
        raise ValueError(
            f"No published weights exist for width_mult={width_mult}: published widths are those of "
            f"the named variants ({', '.join(f'{n} (α={w})' for n, w in _VARIANTS.items())}). Use one "
            "of them, pass pretrained=False, or a path/repo id of your own weights."
        )
    return f"{name}.{tag or DEFAULT_TAG}"


_BUILDER_KEYWORDS = (
    "pretrained", "width_mult", "resolution_mult", "in_chans", "num_classes", "arch", "dropout", "global_pool", "tag",
)


def _unknown_keywords_message(caller: str, kwargs: dict[str, Any]) -> str:
    parts = []
    for key in sorted(kwargs):
        close = closest_name(key, _BUILDER_KEYWORDS)
        parts.append(f"{key!r}" + (f" (did you mean {close!r}?)" if close else ""))
    return (
        f"{caller}() got unexpected keyword argument(s) {', '.join(parts)}. "
        f"Valid keywords: {', '.join(_BUILDER_KEYWORDS)}."
    )


def _input_size(arch: ArchConfig, resolution_mult: float) -> int:
    if isinstance(resolution_mult, bool) or not isinstance(resolution_mult, (int, float)):
        raise TypeError(f"resolution_mult must be a number, got {type(resolution_mult).__name__}.")
    if not math.isfinite(resolution_mult) or resolution_mult <= 0:
        raise ValueError(f"resolution_mult must be a positive number, got {resolution_mult!r}.")
    if arch.input_size * resolution_mult > MAX_INPUT_SIZE:  # also keeps round() off inf
        highest = MAX_INPUT_SIZE / arch.input_size
        raise ValueError(
            f"resolution_mult={resolution_mult} gives an input side above {MAX_INPUT_SIZE}px "
            f"for architecture {arch.name!r}; use resolution_mult <= {highest:g}."
        )
    size = round(arch.input_size * resolution_mult)
    if size < arch.min_input_size:
        lowest = arch.min_input_size / arch.input_size
        raise ValueError(
            f"resolution_mult={resolution_mult} gives a {size}px input, which the strides of "
            f"architecture {arch.name!r} cannot take (minimum {arch.min_input_size}px, i.e. "
            f"resolution_mult >= {lowest:.3f})."
        )
    return size


def _variant(name: str, width_mult: float) -> ModelBuilder:
    def builder(pretrained: bool | str | Path = False, **kwargs: Any) -> MobileNetV1:
        if "width_mult" in kwargs:
            raise TypeError(
                f"{name} has width_mult={width_mult} built in, got width_mult={kwargs['width_mult']!r}; "
                "for another width use mobilenet_v1(width_mult=...) or another model from list_models()."
            )
        return mobilenet_v1(pretrained, width_mult=width_mult, **kwargs)  # named from _VARIANTS

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"MobileNet V1 for MNIST with α = {width_mult}.\n\n"
        "Args:\n"
        "    pretrained: As in :func:`mobilenet_v1`.\n"
        "    **kwargs: Any keyword of :func:`mobilenet_v1` except ``width_mult``.\n"
    )
    _VARIANTS[name] = width_mult
    return register_model(name)(builder)


mobilenet_v1_100 = _variant("mobilenet_v1_100", 1.0)
mobilenet_v1_075 = _variant("mobilenet_v1_075", 0.75)
mobilenet_v1_050 = _variant("mobilenet_v1_050", 0.5)
mobilenet_v1_025 = _variant("mobilenet_v1_025", 0.25)

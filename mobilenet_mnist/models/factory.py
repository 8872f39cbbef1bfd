"""Model builders and the model-name registry: ``mobilenet_v1``, ``create_model``, ``list_models``."""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .archs import ArchConfig, get_arch, unknown_name_message
from .mobilenet import MAX_INPUT_SIZE, MobileNetV1

__all__ = [
    "create_model",
    "list_models",
    "mobilenet_v1",
    "mobilenet_v1_025",
    "mobilenet_v1_050",
    "mobilenet_v1_075",
    "mobilenet_v1_100",
    "model_name_for_width",
    "register_model",
]

ModelBuilder = Callable[..., MobileNetV1]
_MODEL_REGISTRY: dict[str, ModelBuilder] = {}
_MODEL_WIDTHS: dict[str, float] = {}
#: Tag of the weights that ``pretrained=True`` loads when no tag is given.
DEFAULT_TAG = "mnist"


def register_model(name: str, width_mult: float | None = None) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator that registers a model builder under ``name`` for :func:`create_model`.

    Args:
        name: The model name, e.g. ``"mobilenet_v1_100"``; must be new.
        width_mult: The width the builder uses, so :func:`model_name_for_width` can map
            a width back to its name.

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
    if width_mult is not None and (isinstance(width_mult, bool) or not isinstance(width_mult, (int, float))):
        raise TypeError(f"width_mult must be a number or None, got {type(width_mult).__name__}.")

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if not callable(builder):
            raise TypeError(
                f"register_model({name!r}) decorates a function that builds the model, got "
                f"{type(builder).__name__}; use it as @register_model({name!r}) above a def."
            )
        if name in _MODEL_REGISTRY:
            raise ValueError(f"Model {name!r} is already registered; choose a different name.")
        _MODEL_REGISTRY[name] = builder
        if width_mult is not None:
            _MODEL_WIDTHS[name] = width_mult
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


def model_name_for_width(width_mult: float) -> str:
    """The registered name of the plain MNIST model of this width.

    For example 0.5 → ``mobilenet_v1_050``.
    """
    for name, width in _MODEL_WIDTHS.items():
        if math.isclose(width, width_mult):
            return name
    return f"mobilenet_v1_{round(width_mult * 100):03d}"


def check_model_name(name: object) -> None:
    """Raise ``KeyError`` with a "did you mean" hint unless ``name`` is a registered model."""
    if not isinstance(name, str) or name not in _MODEL_REGISTRY:
        raise KeyError(unknown_name_message("model", str(name), list_models()))


def create_model(name: str, pretrained: bool | str = False, **kwargs: Any) -> MobileNetV1:
    """Build a registered model by name, optionally with a weight tag after a dot.

    Args:
        name: A name from :func:`list_models`, optionally ``name.tag`` such as
            ``"mobilenet_v1_050.mnist"`` (the tag picks the pretrained weights).
        pretrained: ``True`` for the published weights, or a local file/folder or Hub
            repo id to load weights from.
        **kwargs: Passed to the builder (``num_classes``, ``in_chans``, ...).

    Raises:
        KeyError: For an unknown name, with a "did you mean" suggestion.
    """
    if not isinstance(name, str):
        raise TypeError(f"create_model expects a model name (str), got {type(name).__name__}.")
    base, _, tag = name.partition(".")
    check_model_name(base)
    if tag:
        kwargs["tag"] = tag
    return _MODEL_REGISTRY[base](pretrained=pretrained, **kwargs)


def mobilenet_v1(
    pretrained: bool | str | Path = False,
    *,
    width_mult: float = 1.0,
    resolution_mult: float = 1.0,
    in_chans: int = 1,
    num_classes: int = 10,
    arch: str | ArchConfig = "mnist",
    dropout: float = 0.0,
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
        tag: Weight tag for ``pretrained=True`` (see ``list_models(pretrained=True)``).
        **kwargs: Not accepted: every :class:`MobileNetV1` argument is a keyword above.
            Present for builder signatures; an unknown keyword raises a ``TypeError``
            that names the closest valid one.

    Returns:
        The model, in training mode, with ``model.pretrained_cfg`` describing its input.

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
    )
    if pretrained is False or pretrained is None:
        return model
    if pretrained is True:
        source = f"{model_name_for_width(width_mult)}.{tag or DEFAULT_TAG}"
        if arch_cfg.name != "mnist":
            raise ValueError(
                f"No published weights exist for arch {arch_cfg.name!r}; pass pretrained=False "
                "or a path/repo id of your own weights."
            )
    else:
        source = str(pretrained)
    from ..hub.core import load_pretrained  # lazy: keeps huggingface_hub out of import time

    return load_pretrained(model, source)


_BUILDER_KEYWORDS = ("pretrained", "width_mult", "resolution_mult", "in_chans", "num_classes", "arch", "dropout", "tag")


def _unknown_keywords_message(caller: str, kwargs: dict[str, Any]) -> str:
    parts = []
    for key in sorted(kwargs):
        close = difflib.get_close_matches(key, _BUILDER_KEYWORDS, n=1, cutoff=0.5)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
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
        return mobilenet_v1(pretrained, width_mult=width_mult, **kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"MobileNet V1 for MNIST with α = {width_mult}.\n\n"
        "Args:\n"
        "    pretrained: As in :func:`mobilenet_v1`.\n"
        "    **kwargs: Any keyword of :func:`mobilenet_v1` except ``width_mult``.\n"
    )
    return register_model(name, width_mult)(builder)


mobilenet_v1_100 = _variant("mobilenet_v1_100", 1.0)
mobilenet_v1_075 = _variant("mobilenet_v1_075", 0.75)
mobilenet_v1_050 = _variant("mobilenet_v1_050", 0.5)
mobilenet_v1_025 = _variant("mobilenet_v1_025", 0.25)

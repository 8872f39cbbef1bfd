"""Using this library's models from timm: :func:`register_timm`.

After ``mobilenet_mnist.register_timm()``, timm knows every registered model and its
published weights by the same names, so timm-based code builds them as its own::

    import timm
    import mobilenet_mnist

    mobilenet_mnist.register_timm()
    model = timm.create_model("mobilenet_v1_100.mnist", pretrained=True)  # shipped: offline
    cfg = timm.data.resolve_model_data_config(model)   # 1 channel, 32 px, MNIST mean/std
    transform = timm.data.create_transform(**cfg)

``timm.create_model`` then calls an entrypoint of this module, which hands everything to
:func:`~mobilenet_mnist.create_model`: weights are found, verified (sha256) and adapted by
this library (shipped file, Hugging Face cache, Hub), and timm's options (``features_only``,
``out_indices``, ``feature_cls``, ``global_pool``, ``drop_rate``, ``device``, ``dtype``,
``pretrained_cfg_overlay``, ``checkpoint_path``, ``cache_dir``) mean what they mean in timm.
timm lists an entrypoint in its module's ``__all__``, so after registration this module also
holds the entrypoints (as timm's own model modules do). timm is imported only inside
:func:`register_timm`: it stays an optional dependency.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import torch
from torch import nn

from .factory import DEFAULT_TAG, create_model, list_models
from .pretrained import get_pretrained_cfg, list_pretrained

__all__ = ["register_timm"]

#: The pretrained cfgs of the entrypoints registered from this module, where timm's
#: ``register_model`` looks for them (one ``DefaultCfg`` per model name).
default_cfgs: dict[str, Any] = {}
#: Attribute that marks an entrypoint of this module (its value is the model name).
_MARKER = "mobilenet_mnist_model"


def register_timm(pattern: str = "*") -> list[str]:
    """Register the models matching ``pattern``, with their pretrained tags, in timm's registry.

    Afterwards ``timm.create_model("mobilenet_v1_100.mnist", pretrained=True)`` works (offline
    for the weights shipped with the package, through the Hugging Face Hub or its cache for
    the others), ``timm.list_models("mobilenet_v1_*", pretrained=True)`` lists the weights and
    ``timm.data.resolve_model_data_config(model)`` gives their 1-channel preprocessing.
    Calling it again registers models added since (and refreshes their tags). timm's own
    models are never replaced: timm's MobileNet V1 is ``mobilenetv1_100`` (no underscore).

    Args:
        pattern: Shell wildcard over :func:`~mobilenet_mnist.list_models` names.

    Returns:
        The model names registered, sorted.

    Raises:
        ImportError: If timm is not installed.
        TypeError: If ``pattern`` is not a str.
        ValueError: If no model matches, or timm already has a model of one of these names
            (nothing is registered then; the message names them and how to leave them out).
    """
    names = list_models(pattern)
    if not names:
        raise ValueError(
            f"No registered model matches {pattern!r}; registered models: {', '.join(list_models())}."
        )
    timm_models = _import_timm()
    taken = [name for name in names if timm_models.is_model(name) and not _is_ours(timm_models, name)]
    if taken:
        raise ValueError(
            f"timm already has model(s) named {', '.join(taken)}, which register_timm never replaces; "
            f"nothing was registered. Leave them out with a pattern (e.g. register_timm('mobilenet_v1_*')) "
            "or register your model under another name."
        )
    for name in names:
        _register(timm_models, name)
    return names


def _import_timm() -> ModuleType:
    try:
        import timm.models
    except ImportError as error:
        raise ImportError(
            f"register_timm needs timm, which cannot be imported ({error}). Install it with "
            "`pip install 'timm>=1.0'`; mobilenet_mnist itself works without it."
        ) from error
    return timm.models


def _is_ours(timm_models: ModuleType, name: str) -> bool:
    return getattr(timm_models.model_entrypoint(name), _MARKER, None) == name


def _register(timm_models: ModuleType, name: str) -> None:
    fields = {f.name for f in dataclasses.fields(timm_models.PretrainedCfg)}
    cfgs = {key: _timm_cfg(cfg, fields) for key, cfg in _pretrained_cfgs(name).items()}
    default_cfgs[name] = timm_models.generate_default_cfgs(cfgs)[name]
    entrypoint = _entrypoint(name)
    setattr(sys.modules[__name__], name, entrypoint)
    with warnings.catch_warnings():  # re-registering our own entrypoint: timm warns it overwrites
        warnings.filterwarnings("ignore", message=f"Overwriting {name} in registry", category=UserWarning)
        timm_models.register_model(entrypoint)


def _pretrained_cfgs(name: str) -> dict[str, dict[str, Any]]:
    """``pretrained_cfg`` per ``name.tag`` (default tag first), or of the bare model if it has no weights."""
    with torch.device("meta"):  # the model's own fields (pool_size, ...) without memory or init cost
        fresh = create_model(name).pretrained_cfg
    tags = [weights.partition(".")[2] for weights in list_pretrained(f"{name}.*")]
    tags.sort(key=lambda tag: tag != DEFAULT_TAG)  # the weights pretrained=True loads come first
    if not tags:
        return {name: fresh}
    return {f"{name}.{tag}": {**fresh, **get_pretrained_cfg(f"{name}.{tag}").to_dict()} for tag in tags}


def _timm_cfg(cfg: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
    """Our ``pretrained_cfg`` as the fields of timm's ``PretrainedCfg`` (``labels`` → ``label_names``)."""
    out = {key: value for key, value in cfg.items() if key in fields}
    if cfg.get("labels"):
        out["label_names"] = tuple(cfg["labels"])
    return out


def _entrypoint(name: str) -> Any:
    def entrypoint(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return _create_for_timm(name, pretrained, kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = (
        f"timm entrypoint of mobilenet_mnist's {name}: ``timm.create_model({name!r}, ...)`` calls "
        f"``mobilenet_mnist.create_model({name!r}, ...)``."
    )
    setattr(entrypoint, _MARKER, name)
    return entrypoint


def _create_for_timm(name: str, pretrained: bool, kwargs: dict[str, Any]) -> nn.Module:
    """``create_model`` with the keywords timm's ``create_model`` passes, in this library's terms."""
    tag = _tag_of(kwargs.pop("pretrained_cfg", None))
    if "drop_rate" in kwargs:  # timm's name for the classifier dropout
        if "dropout" in kwargs:
            raise TypeError("Pass the classifier dropout once: drop_rate (timm's name) or dropout, not both.")
        kwargs["dropout"] = kwargs.pop("drop_rate")
    feature_cfg = kwargs.pop("feature_cfg", None) or {}
    for key in ("out_indices", "feature_cls"):
        if key in feature_cfg:
            kwargs.setdefault(key, feature_cfg[key])
    return create_model(f"{name}.{tag}" if tag else name, pretrained, **kwargs)


def _tag_of(pretrained_cfg: object) -> str | None:
    """The weight tag timm passes as ``pretrained_cfg``: a tag, a cfg dict or a timm ``PretrainedCfg``."""
    if pretrained_cfg is None or isinstance(pretrained_cfg, str):
        return pretrained_cfg or None
    if isinstance(pretrained_cfg, Mapping):
        return pretrained_cfg.get("tag") or None
    return getattr(pretrained_cfg, "tag", None) or None

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
timm's model sources work too: ``timm.create_model("hf-hub:org/name[@revision]")`` and
``timm.create_model("local-dir:/folder")`` read a folder's ``config.json`` (``architecture``
names the entrypoint, ``model_args`` rebuild the network) and the entrypoint loads that
folder's weights, verified against the sha256 its ``config.json`` pins.
timm lists an entrypoint in its module's ``__all__``, so after registration this module also
holds the entrypoints (as timm's own model modules do). timm is imported only inside
:func:`register_timm`: it stays an optional dependency.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from .archs import get_arch
from .factory import DEFAULT_TAG, create_model, list_models
from .pretrained import get_pretrained_cfg, list_pretrained
from .sources import resolve_weights

__all__ = ["register_timm"]

#: The pretrained cfgs of the entrypoints registered from this module, where timm's
#: ``register_model`` looks for them (one ``DefaultCfg`` per model name).
default_cfgs: dict[str, Any] = {}
#: Attribute that marks an entrypoint of this module (its value is the model name).
_MARKER = "mobilenet_mnist_model"
#: ``pretrained_cfg["source"]`` of timm's ``hf-hub:`` and ``local-dir:`` model names.
_HUB, _LOCAL = "hf-hub", "local-dir"


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
    timm_cfg = kwargs.pop("pretrained_cfg", None)
    if _field(timm_cfg, "source") in (_HUB, _LOCAL):
        return _create_from_source(name, pretrained, timm_cfg, kwargs)
    tag = _tag_of(timm_cfg)
    _timm_keywords(kwargs)
    return create_model(f"{name}.{tag}" if tag else name, pretrained, **kwargs)


def _timm_keywords(kwargs: dict[str, Any]) -> None:
    """timm's ``drop_rate`` and ``feature_cfg`` as this library's keywords (in place)."""
    if "drop_rate" in kwargs:  # timm's name for the classifier dropout
        if "dropout" in kwargs:
            raise TypeError("Pass the classifier dropout once: drop_rate (timm's name) or dropout, not both.")
        kwargs["dropout"] = kwargs.pop("drop_rate")
    feature_cfg = kwargs.pop("feature_cfg", None) or {}
    for key in ("out_indices", "feature_cls"):
        if key in feature_cfg:
            kwargs.setdefault(key, feature_cfg[key])


def _create_from_source(name: str, pretrained: bool, timm_cfg: object, kwargs: dict[str, Any]) -> nn.Module:
    """``timm.create_model("hf-hub:org/name@rev")`` or ``("local-dir:/folder")``: that folder's model.

    timm read the folder's ``config.json``: ``architecture`` chose this entrypoint, its
    ``model_args`` arrive among ``kwargs`` (the caller's own keywords win). The weights come
    from the folder or repo named, never from the registry, whatever tag its config holds.
    """
    kwargs.pop("pretrained_model_args", None)  # timm >= 1.0.31: the saved model_args again, as sent
    _saved_args_as_keywords(name, kwargs)
    _timm_keywords(kwargs)
    if not pretrained:
        return create_model(name, **kwargs)
    if _field(timm_cfg, "source") == _LOCAL:
        return create_model(name, Path(str(_field(timm_cfg, "file"))), **kwargs)
    repo_id, _, revision = str(_field(timm_cfg, "hf_hub_id")).partition("@")
    found = resolve_weights(repo_id, revision=revision or None, cache_dir=kwargs.get("cache_dir"))
    overlay = {"hf_hub_id": repo_id, "hf_hub_revision": revision or "main", "source": f"Hub repo {repo_id}"}
    overlay.update(kwargs.pop("pretrained_cfg_overlay", None) or {})
    return create_model(name, found.path, pretrained_cfg_overlay=overlay, **kwargs)


def _saved_args_as_keywords(name: str, kwargs: dict[str, Any]) -> None:
    """A saved ``model_args`` (``MobileNetV1``'s keywords, as timm passes them) as the builder's (in place).

    ``width_mult`` is the named model's own, ``input_size`` becomes ``resolution_mult``; the
    others (``arch``, ``in_chans``, ``num_classes``, ``global_pool``) are builder keywords already.

    Raises:
        ValueError: For a custom layer config (``arch_config``) or a width that is not the model's.
    """
    if "arch_config" in kwargs:
        raise ValueError(
            f"This folder's network has a custom layer config, which timm's {name!r} cannot build; load it "
            "with mobilenet_mnist.from_pretrained(folder) instead."
        )
    width = kwargs.pop("width_mult", None)
    if width is not None:
        with torch.device("meta"):
            own = create_model(name).width_mult
        if width != own:
            raise ValueError(
                f"The folder's config.json names architecture {name!r} (width_mult={own}) but its model_args "
                f"say width_mult={width}; fix config.json, or load it with mobilenet_mnist.from_pretrained(folder)."
            )
    side = kwargs.pop("input_size", None)
    native = get_arch(kwargs.get("arch", "mnist")).input_size
    if side is not None and side != native:
        kwargs.setdefault("resolution_mult", side / native)


def _field(cfg: object, key: str) -> Any:
    """A field of the ``pretrained_cfg`` timm passes: a dict, a timm ``PretrainedCfg``, a tag or None."""
    if isinstance(cfg, Mapping):
        return cfg.get(key)
    return None if cfg is None or isinstance(cfg, str) else getattr(cfg, key, None)


def _tag_of(pretrained_cfg: object) -> str | None:
    """The weight tag timm passes as ``pretrained_cfg``: a tag, a cfg dict or a timm ``PretrainedCfg``."""
    if isinstance(pretrained_cfg, str):
        return pretrained_cfg or None
    return _field(pretrained_cfg, "tag") or None

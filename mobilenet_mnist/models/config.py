"""``config.json`` of a saved model (timm's layout), and the safetensors metadata derived from it.

A saved folder (and a Hugging Face model repo) holds ``model.safetensors``, ``config.json``
and a ``README.md`` card. ``config.json`` is laid out as timm's ``_hub.py`` writes it::

    {
      "architecture": "mobilenet_v1_050",   # registered model name (create_model's name)
      "num_classes": 10,
      "num_features": 512,                  # informational: the classifier's input size
      "model_args": {                       # MobileNetV1(**model_args) rebuilds the network
        "arch": "mnist",                    # or "arch_config": {"name", "input_size",
                                            #   "description", "layers": [...]} for a custom one
        "width_mult": 0.5,
        "in_chans": 1,
        "num_classes": 10,
        "input_size": 32                    # default input side in px
                                            # (+ "global_pool" unless "avg")
      },
      "pretrained_cfg": {...},              # PretrainedCfg.to_dict() less its "file" fields
      "library_name": "mobilenet-mnist",
      "library_version": "0.2.0",
      "weights": {"filename": "model.safetensors", "file_size": 3353416, "sha256": "..."}
    }

``weights`` pins the file: loading a folder or Hub repo checks size and sha256 before any
tensor is used. Folders written by 0.2.0 (one flat object: ``name``, ``model_name``,
``architecture`` = the layer config, ``width_mult``, ``mean``, ``metrics``, ...) are still
read, without a pin. The safetensors ``__metadata__`` repeats ``architecture``,
``model_args`` and ``pretrained_cfg`` (as JSON text), so a bare ``.safetensors`` file can
rebuild its model too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..utils.checks import check_number
from .archs import IMAGENET_ARCH, MNIST_ARCH, ArchConfig, LayerConfig, get_arch, list_archs
from .mobilenet import GENERIC_NAME, MobileNetV1
from .pretrained_cfg import WEIGHTS_NAME, PretrainedCfg, upgrade_legacy_record

__all__ = [
    "CONFIG_NAME",
    "LIBRARY_NAME",
    "WEIGHTS_NAME",
    "SavedConfig",
    "config_for_record",
    "config_from_safetensors_metadata",
    "model_args",
    "model_config",
    "parse_config",
    "read_config",
    "safetensors_metadata",
]

#: Name of the config file in a saved folder and in a Hub repo.
CONFIG_NAME = "config.json"
#: ``library_name`` written into configs, cards and file metadata.
LIBRARY_NAME = "mobilenet-mnist"
_MODEL_ARG_KEYS = ("width_mult", "in_chans", "num_classes", "input_size", "global_pool")


@dataclass(frozen=True)
class SavedConfig:
    """What a weight file is, read from ``config.json``, the registry or the file's metadata.

    Attributes:
        architecture: Registered model name.
        model_args: ``MobileNetV1`` keywords that rebuild the network (``arch`` is a name or
            an :class:`~.archs.ArchConfig`).
        record: The weights' :class:`PretrainedCfg`, or None when only the network is known.
        weights: The ``weights`` pin (``filename``, ``file_size``, ``sha256``), or None.
    """

    architecture: str
    model_args: dict[str, Any]
    record: PretrainedCfg | None = None
    weights: dict[str, Any] | None = None


# ------------------------------------------------------------------------- writing
def _version() -> str:
    from ..version import __version__

    return __version__


def model_args(model: MobileNetV1) -> dict[str, Any]:
    """The constructor keywords that rebuild ``model``'s network (JSON-ready)."""
    arch: dict[str, Any] = {"arch": model.arch.name}
    if model.arch not in (MNIST_ARCH, IMAGENET_ARCH):
        arch = {"arch_config": _arch_to_dict(model.arch)}
    args = {**arch, "width_mult": model.width_mult, "in_chans": model.in_chans,
            "num_classes": model.num_classes, "input_size": model.input_size}
    pool = model.global_pool.pool_type
    return args if pool == "avg" else {**args, "global_pool": pool}  # the default is left out


def model_config(
    model: MobileNetV1,
    *,
    metrics: Mapping[str, Any] | None = None,
    tag: str | None = None,
    dataset: str | None = None,
    labels: list[str] | tuple[str, ...] | None = None,
    license: str | None = None,
    recipe: str | None = None,
    train_time_s: float | None = None,
    train_hardware: str | None = None,
    temperature: float | None = None,
    ood_score: str | None = None,
    ood_threshold: float | None = None,
) -> dict[str, Any]:
    """The ``config.json`` content for ``model``, less its ``weights`` pin (see the module docstring).

    Unset ``tag``, ``dataset``, ``labels`` and ``license`` come from ``model.pretrained_cfg``;
    ``metrics``, ``recipe``, the training time and the calibration (``temperature``,
    ``ood_score``, ``ood_threshold``, see :class:`PretrainedCfg`) never do, since they describe
    exact weights (pass them when you measured). Parameters and multiply-adds are counted afresh.

    Raises:
        TypeError: If ``model`` is not a :class:`MobileNetV1`, ``metrics`` not a dict,
            ``labels`` not a list or ``train_time_s`` not a number.
        ValueError: If ``labels`` does not have one entry per class, ``train_time_s`` is
            negative, or a metric is not a number or a dict of input side → number.
    """
    if not isinstance(model, MobileNetV1):
        raise TypeError(f"model_config expects a MobileNetV1, got {type(model).__name__}.")
    if metrics is not None and not isinstance(metrics, Mapping):
        raise TypeError(
            "metrics must be a dict of metric name → number or {input side: number}, e.g. "
            f"{{'test_accuracy': {{32: 99.1}}}}, got {type(metrics).__name__}."
        )
    if labels is not None and (isinstance(labels, str) or not isinstance(labels, Sequence)):
        raise TypeError(f"labels must be a list of class names, one per class, got {type(labels).__name__}.")
    if train_time_s is not None:
        check_number("train_time_s", train_time_s, 0)
    if labels is not None and len(labels) != model.num_classes:
        raise ValueError(
            f"labels has {len(labels)} entries but the model has {model.num_classes} classes; "
            "pass one label per class or labels=None."
        )
    record = _record_to_save(model, dict(
        metrics=dict(metrics or {}), tag=tag, dataset=dataset, labels=labels, license=license,
        recipe=recipe, train_time_s=train_time_s, train_hardware=train_hardware,
        temperature=temperature, ood_score=ood_score, ood_threshold=ood_threshold,
    ))
    saved = {k: v for k, v in record.to_dict().items() if k not in PretrainedCfg.field_names("file")}
    return {
        "architecture": record.architecture, "num_classes": model.num_classes,
        "num_features": model.num_features, "model_args": model_args(model), "pretrained_cfg": saved,
        "library_name": LIBRARY_NAME, "library_version": _version(),
    }


def _record_to_save(model: MobileNetV1, given: dict[str, Any]) -> PretrainedCfg:
    from .profile import profile_model

    current = PretrainedCfg.from_dict(model.pretrained_cfg, strict=False)
    if current.num_classes != model.num_classes:  # a head replaced without reset_classifier
        current = current.for_new_head(model.num_classes)
    dropped = set(PretrainedCfg.field_names("file")) | set(PretrainedCfg.field_names("run"))
    values = {k: v for k, v in current.to_dict().items() if k not in dropped}
    values.update({k: v for k, v in given.items() if v is not None})
    if given["labels"] is not None:
        values["labels"] = tuple(given["labels"])
    cost = profile_model(model)
    values.update(num_classes=model.num_classes, num_params=cost.params, macs=cost.macs)
    return PretrainedCfg.from_dict(values)


def safetensors_metadata(config: Mapping[str, Any]) -> dict[str, str]:
    """The safetensors ``__metadata__`` (str → str) for a :func:`model_config` result."""
    return {
        "format": "pt",
        "library_name": str(config["library_name"]),
        "library_version": str(config["library_version"]),
        "architecture": str(config["architecture"]),
        "model_args": json.dumps(config["model_args"]),
        "pretrained_cfg": json.dumps(config["pretrained_cfg"]),
    }


def _arch_to_dict(arch: ArchConfig) -> dict[str, Any]:
    return {"name": arch.name, "input_size": arch.input_size, "description": arch.description,
            "layers": [asdict(layer) for layer in arch.layers]}


# ------------------------------------------------------------------------- reading
def read_config(path: str | Path) -> SavedConfig:
    """Parse a ``config.json`` file (today's layout or 0.2.0's flat one).

    Raises:
        ValueError: If the file is not JSON or does not say how to build its model.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}.") from error
    return parse_config(data, str(path))


def parse_config(data: Mapping[str, Any], where: str) -> SavedConfig:
    """A :class:`SavedConfig` from parsed ``config.json`` content; ``where`` names it in errors.

    Raises:
        ValueError: If ``data`` is not an object or lacks what rebuilds the model.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must hold a JSON object, got {type(data).__name__}.")
    if "model_args" not in data:
        return _parse_flat(data, where)
    record = dict(data.get("pretrained_cfg") or {})
    record.setdefault("architecture", data.get("architecture"))
    record.setdefault("num_classes", data.get("num_classes"))
    args = _constructor_args(data["model_args"], where)
    weights = data.get("weights")
    if weights is not None and not isinstance(weights, Mapping):
        raise ValueError(f"{where}: 'weights' must be an object (filename, file_size, sha256).")
    cfg = _record(record, where)
    return SavedConfig(str(data.get("architecture") or GENERIC_NAME), args, cfg, dict(weights or {}) or None)


def _parse_flat(data: Mapping[str, Any], where: str) -> SavedConfig:
    """0.2.0's flat config.json: the record's fields at top level, the layer config as ``architecture``."""
    args = {"arch_config": data["arch_config"]} if data.get("arch_config") else {
        "arch": data.get("architecture", "mnist")}
    side = data.get("input_size")
    args.update({k: data[k] for k in ("width_mult", "in_chans", "num_classes") if k in data})
    if side is not None:
        args["input_size"] = side[-1] if isinstance(side, (list, tuple)) else side
        args.setdefault("in_chans", side[0] if isinstance(side, (list, tuple)) else 1)
    record = upgrade_legacy_record({"model_name": GENERIC_NAME, **data})
    name = record["architecture"]
    return SavedConfig(name, _constructor_args(args, where), _record(record, where))


def _record(values: dict[str, Any], where: str) -> PretrainedCfg:
    try:
        return PretrainedCfg.from_dict(values, strict=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: invalid pretrained_cfg: {error}") from error


def config_for_record(cfg: PretrainedCfg) -> SavedConfig:
    """The :class:`SavedConfig` of registered weights: the network follows from the record."""
    args = {"arch": cfg.arch, "width_mult": cfg.width_mult, "in_chans": cfg.input_size[0],
            "num_classes": cfg.num_classes, "input_size": cfg.input_size[-1]}
    return SavedConfig(cfg.architecture, _constructor_args(args, cfg.name), cfg)


def config_from_safetensors_metadata(metadata: Mapping[str, str], where: str) -> SavedConfig | None:
    """What a weight file's own metadata says it is; None if it names no network.

    Reads both the metadata :func:`safetensors_metadata` writes and 0.2.0's (``architecture``
    = layer config, ``width_mult``, ``in_chans``, ``num_classes``, ``input_size`` as text).
    """
    try:
        if "model_args" in metadata:
            record = json.loads(metadata.get("pretrained_cfg") or "{}")
            args = json.loads(metadata["model_args"])
            record.setdefault("architecture", metadata.get("architecture", GENERIC_NAME))
            return SavedConfig(metadata.get("architecture", GENERIC_NAME), _constructor_args(args, where),
                               _record(record, where))
        if not all(k in metadata for k in ("width_mult", "in_chans", "num_classes")):
            return None
        args = {"width_mult": float(metadata["width_mult"]), "in_chans": int(metadata["in_chans"]),
                "num_classes": int(metadata["num_classes"]), "arch": metadata.get("architecture", "mnist")}
        if "arch_config" in metadata:
            args["arch_config"] = json.loads(metadata["arch_config"])
        if "input_size" in metadata:
            args["input_size"] = int(metadata["input_size"])
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise ValueError(f"{where} has unreadable model metadata: {error}.") from error
    return SavedConfig(GENERIC_NAME, _constructor_args(args, where))


def _constructor_args(args: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``model_args`` as ``MobileNetV1`` keywords: a custom ``arch_config`` becomes an ArchConfig."""
    if not isinstance(args, Mapping):
        raise ValueError(f"{where}: model_args must be an object, got {type(args).__name__}.")
    missing = [k for k in ("width_mult", "in_chans", "num_classes") if k not in args]
    if missing:
        raise ValueError(
            f"{where} does not say how to build its model (missing {missing} in model_args). Build "
            "the model yourself and call load_pretrained(model, path)."
        )
    out = {k: args[k] for k in _MODEL_ARG_KEYS if args.get(k) is not None}
    arch_dict = args.get("arch_config")
    out["arch"] = _arch_from_dict(arch_dict, where) if arch_dict else args.get("arch", "mnist")
    return out


def _arch_from_dict(data: Mapping[str, Any], where: str) -> ArchConfig:
    try:
        layers = tuple(LayerConfig(**layer) for layer in data["layers"])
        arch = ArchConfig(data["name"], layers, int(data["input_size"]), data.get("description", ""))
    except (KeyError, TypeError) as error:
        raise ValueError(f"{where}: invalid arch_config ({error}); it needs name, input_size and layers.") from error
    if arch.name in list_archs() and get_arch(arch.name) == arch:
        return get_arch(arch.name)
    return arch

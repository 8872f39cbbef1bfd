"""Weights in the Hugging Face layout: save, load, publish, and where weights come from.

A saved checkpoint is a folder laid out as a Hub model repo: ``model.safetensors``
(tensors; architecture in its metadata), ``config.json`` (everything needed to rebuild
the model and preprocess its input) and ``README.md`` (model card).

Where :func:`load_pretrained` finds weights for a registered name such as
``"mobilenet_v1_100.mnist"``, in this order:

1. the file shipped inside the package (entries with ``shipped=True``; works offline);
2. ``huggingface_hub.hf_hub_download`` at the pinned revision, which uses the Hugging
   Face cache (``cache_dir``, ``HF_HUB_CACHE``) and honours ``HF_HUB_OFFLINE``;
3. otherwise :class:`WeightsUnavailableError`, saying how to get the file.

Every file's sha256 and size are checked against the registry before its tensors are
used; a bad file is refused and removed from the Hugging Face cache.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..models.archs import IMAGENET_ARCH, MNIST_ARCH, ArchConfig, LayerConfig, get_arch, list_archs
from ..models.checkpoint import Checkpoint, fit_state_dict, read_checkpoint, remove_from_hf_cache
from ..models.mobilenet import MobileNetV1, without_head_fields
from ..models.pretrained import (
    PretrainedCfg,
    atomic_write_bytes,
    get_pretrained_cfg,
    list_pretrained,
    shipped_weights_path,
)
from ..models.profile import count_params

__all__ = [
    "WeightsUnavailableError",
    "from_pretrained",
    "load_pretrained",
    "model_config",
    "push_to_hub",
    "save_pretrained",
]

logger = logging.getLogger(__name__)

LIBRARY_NAME = "mobilenet-mnist"
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
CONFIG_VERSION = 1
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# pretrained_cfg keys that describe the model as built, not the checkpoint it came from.
_MODEL_OWNED = {"architecture", "arch", "width_mult", "in_chans", "input_size", "num_classes",
                "first_conv", "classifier", "arch_config", "mean", "std", "library_name",
                "library_version", "config_version"}


class WeightsUnavailableError(RuntimeError):
    """Published weights are neither shipped, cached nor downloadable right now."""


# ====================================================================== saving
def _version() -> str:
    from ..version import __version__

    return __version__


def _arch_dict(arch: ArchConfig) -> dict[str, Any]:
    return {"name": arch.name, "input_size": arch.input_size, "description": arch.description,
            "layers": [asdict(layer) for layer in arch.layers]}


def _arch_from_dict(data: dict[str, Any]) -> ArchConfig:
    layers = tuple(LayerConfig(**layer) for layer in data["layers"])
    arch = ArchConfig(data["name"], layers, int(data["input_size"]), data.get("description", ""))
    if arch.name in list_archs() and get_arch(arch.name) == arch:
        return get_arch(arch.name)
    return arch


def _is_builtin(arch: ArchConfig) -> bool:
    return arch in (MNIST_ARCH, IMAGENET_ARCH)


def _default_model_name(model: MobileNetV1) -> str:
    from ..models.factory import model_name_for_width

    name = model_name_for_width(model.width_mult)
    return name if model.arch.name == "mnist" else f"{name}_{model.arch.name}"


def _check_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as JSON-ready values: numbers, or {input side: number} maps."""
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            out[name] = {str(int(side)): float(v) for side, v in value.items()}
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
        else:
            raise TypeError(
                f"metrics[{name!r}] must be a number or a dict of input side → number, "
                f"got {type(value).__name__}."
            )
    return out


def model_config(
    model: MobileNetV1,
    *,
    metrics: dict[str, Any] | None = None,
    tag: str | None = None,
    dataset: str | None = None,
    labels: list[str] | tuple[str, ...] | None = None,
    license: str | None = None,
    recipe: str | None = None,
    train_time_s: float | None = None,
    train_hardware: str | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """The ``config.json`` content for ``model``: all that is needed to rebuild and use it.

    Unset ``tag``, ``dataset``, ``labels`` and ``license`` come from ``model.pretrained_cfg``;
    ``metrics`` never do, since they describe exact weights (pass them when you measured).

    Raises:
        ValueError: If ``labels`` does not have one entry per class.
    """
    cfg = model.pretrained_cfg
    labels = labels if labels is not None else cfg.get("labels")
    if labels is not None and len(labels) != model.num_classes:
        raise ValueError(
            f"labels has {len(labels)} entries but the model has {model.num_classes} classes; "
            "pass one label per class or labels=None."
        )
    from ..models.profile import profile_model

    cost = profile_model(model)
    model_name = model_name or _default_model_name(model)
    tag = tag if tag is not None else cfg.get("tag")
    config = {
        "library_name": LIBRARY_NAME, "library_version": _version(),
        "config_version": CONFIG_VERSION,
        "name": f"{model_name}.{tag}" if tag else model_name, "model_name": model_name, "tag": tag,
        "architecture": model.arch.name, "width_mult": model.width_mult,
        "in_chans": model.in_chans, "num_classes": model.num_classes,
        "input_size": list(cfg["input_size"]),
        "interpolation": cfg.get("interpolation", "bilinear"),
        "mean": list(cfg["mean"]), "std": list(cfg["std"]),
        "labels": list(labels) if labels is not None else None,
        "dataset": dataset if dataset is not None else cfg.get("dataset"),
        "license": license if license is not None else cfg.get("license", "mit"),
        "metrics": _check_metrics(metrics or {}), "recipe": recipe, "train_time_s": train_time_s,
        "train_hardware": train_hardware,
        "num_params": cost.params, "macs": cost.macs,
    }
    if not _is_builtin(model.arch):
        config["arch_config"] = _arch_dict(model.arch)
    return config


def _safetensors_bytes(model: MobileNetV1, config: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": "pt", "library": LIBRARY_NAME, "library_version": config["library_version"],
        "architecture": config["architecture"], "width_mult": repr(config["width_mult"]),
        "in_chans": str(config["in_chans"]), "num_classes": str(config["num_classes"]),
        "input_size": str(config["input_size"][-1]),
    }
    if "arch_config" in config:
        metadata["arch_config"] = json.dumps(config["arch_config"])
    return save(tensors, metadata)


def _check_rebuildable(model: MobileNetV1) -> None:
    """Refuse a model whose tensors a plain rebuild would not accept (fused, modified, ...)."""
    import torch

    with torch.device("meta"):  # shapes only, no memory or init cost
        plain = MobileNetV1(model.arch, model.width_mult, model.in_chans, model.num_classes)
    expected = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if expected != found:
        differ = sorted(set(expected) ^ set(found)) or sorted(
            k for k in expected if expected[k] != found[k]
        )
        raise ValueError(
            f"Cannot save this model: its tensors differ from a MobileNetV1 built from its "
            f"config (e.g. fused BatchNorm or replaced layers), so it could not be rebuilt; "
            f"differing keys: {differ[:5]}. Save the model before fusing or modifying it."
        )


def save_pretrained(
    model: MobileNetV1, folder: str | Path, *, repo_id: str | None = None, **meta: Any
) -> Path:
    """Save ``model`` as a Hugging Face model folder: weights, config and model card.

    Writes ``model.safetensors``, ``config.json`` and ``README.md``, each atomically.
    The model must be a plain :class:`MobileNetV1` (not fused or otherwise modified), so
    :func:`from_pretrained` can rebuild it.

    Example:
        >>> save_pretrained(model, "my-model", metrics={"test_accuracy": {32: 99.1}},
        ...                 dataset="mnist", tag="mnist")  # doctest: +SKIP

    Args:
        model: The model to save.
        folder: Destination folder (created if needed).
        repo_id: Hub repo id shown in the card's usage snippet.
        **meta: Keywords of :func:`model_config`: ``metrics`` (name → number, or
            ``{"test_accuracy": {input side: %}}``), ``tag``, ``dataset``, ``labels``,
            ``license``, ``recipe``, ``train_time_s``, ``train_hardware`` (where it
            was trained, e.g. ``"one NVIDIA H200"``), ``model_name``.

    Returns:
        The folder.

    Raises:
        TypeError: If ``model`` is not a :class:`MobileNetV1`.
        ValueError: If its tensors do not fit a rebuilt model, ``labels`` do not fit, or
            ``folder`` is an existing file.
    """
    from .card import render_model_card

    if not isinstance(model, MobileNetV1):
        raise TypeError(f"save_pretrained expects a MobileNetV1, got {type(model).__name__}.")
    _check_rebuildable(model)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(
            f"{folder} is a file; save_pretrained writes a folder ({WEIGHTS_NAME}, {CONFIG_NAME}, "
            f"{CARD_NAME}): pass a folder path, e.g. {folder.with_suffix('')}_model."
        )
    config = model_config(model, **meta)
    atomic_write_bytes(folder / WEIGHTS_NAME, _safetensors_bytes(model, config))
    atomic_write_bytes(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    atomic_write_bytes(folder / CARD_NAME, render_model_card(config, repo_id).encode("utf-8"))
    logger.info("Saved %s to %s.", config["name"], folder)
    return folder


# ====================================================================== resolving sources
@dataclass
class _Source:
    """A weight file to read, with what is known about it before reading."""

    weights: Path
    description: str
    meta: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    file_size: int | None = None
    from_hf_cache: bool = False


def _hf_download(repo_id: str, filename: str, revision: str | None, cache_dir: str | Path | None,
                 token: str | None = None) -> Path:
    """``hf_hub_download``; failing to reach the file raises :class:`WeightsUnavailableError`."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(
            repo_id, filename, revision=revision, cache_dir=cache_dir, token=token,
            library_name=LIBRARY_NAME, library_version=_version(),
        ))
    except (LocalEntryNotFoundError, HfHubHTTPError) as error:
        raise WeightsUnavailableError(
            _unavailable_message(repo_id, filename, revision, cache_dir, error)
        ) from error


def _unavailable_message(repo_id: str, filename: str, revision: str | None,
                         cache_dir: str | Path | None, error: Exception) -> str:
    from huggingface_hub import constants

    offline = constants.HF_HUB_OFFLINE
    revision = revision or "main"
    reason = "HF_HUB_OFFLINE is set" if offline else f"{type(error).__name__}: {error}"
    return (
        f"Cannot get {filename} of the Hugging Face Hub repo {repo_id!r} (revision {revision!r}): "
        f"it is not in the Hugging Face cache ({cache_dir or constants.HF_HUB_CACHE}) and could "
        f"not be downloaded ({reason}). To fix this, either run once with network access"
        + (" and HF_HUB_OFFLINE unset" if offline else "")
        + " so the file is downloaded and cached, or, on a machine with network access, run "
        f"`hf download {repo_id} --revision {revision} --local-dir DIR`, copy DIR "
        "here and pass pretrained='DIR' (a folder, or the path of its model.safetensors)."
    )


def _registered_source(cfg: PretrainedCfg, revision: str | None,
                       cache_dir: str | Path | None) -> _Source:
    pins = {"meta": cfg.to_dict(), "sha256": cfg.sha256, "file_size": cfg.file_size}
    shipped = shipped_weights_path(cfg)
    if cfg.shipped and shipped.is_file():
        return _Source(shipped, f"{cfg.name} (shipped with the package)", **pins)
    if cfg.shipped:
        logger.warning("%s should ship with the package but %s is missing; trying the Hub.",
                       cfg.name, shipped)
    path = _hf_download(cfg.hf_hub_id, cfg.filename, revision or cfg.hf_hub_revision, cache_dir)
    return _Source(path, f"{cfg.name} (Hub repo {cfg.hf_hub_id})", from_hf_cache=True, **pins)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}.") from error


def _local_source(path: Path) -> _Source:
    if path.is_dir():
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            found = sorted(p.name for p in path.iterdir())
            raise FileNotFoundError(
                f"{path} has no {WEIGHTS_NAME} (found: {found}). Pass a folder written by "
                "save_pretrained() or the path of a .safetensors file."
            )
    else:
        weights = path
    config = weights.parent / CONFIG_NAME
    use_config = config.is_file() and weights.name == WEIGHTS_NAME
    return _Source(weights, str(path), meta=_read_json(config) if use_config else {})


def _repo_source(repo_id: str, revision: str | None, cache_dir: str | Path | None,
                 token: str | None) -> _Source:
    try:
        weights = _hf_download(repo_id, WEIGHTS_NAME, revision, cache_dir, token)
    except WeightsUnavailableError as error:
        note = f" (No local file or folder named {repo_id!r} exists either.)"
        raise WeightsUnavailableError(f"{error}{note}") from error.__cause__
    try:
        meta = _read_json(_hf_download(repo_id, CONFIG_NAME, revision, cache_dir, token))
    except WeightsUnavailableError:
        logger.warning("Hub repo %s has no %s; using the weights' metadata.", repo_id, CONFIG_NAME)
        meta = {}
    meta.setdefault("hf_hub_id", repo_id)
    meta.setdefault("hf_hub_revision", revision or "main")
    return _Source(weights, f"Hub repo {repo_id}", meta=meta, from_hf_cache=True)


def _resolve(source: str | Path, revision: str | None, cache_dir: str | Path | None,
             token: str | None = None) -> _Source:
    """Turn a registered name, local path or Hub repo id into a :class:`_Source`."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "Weights must be named by a str or path (a registered name such as "
            f"'mobilenet_v1_100.mnist', a file or folder, or a Hub repo id), got {type(source).__name__}."
        )
    text = str(source)
    if text in list_pretrained():  # before paths: a registered name always means the pinned file
        return _registered_source(get_pretrained_cfg(text), revision, cache_dir)
    path = Path(text).expanduser()
    if path.exists():
        return _local_source(path)
    if "/" not in text and "\\" not in text and not text.endswith(".safetensors"):
        try:
            cfg = get_pretrained_cfg(text)
        except KeyError as error:
            note = " No file or folder of that name exists either."
            raise KeyError(f"{error.args[0]}{note}") from None
        return _registered_source(cfg, revision, cache_dir)
    if _REPO_ID.match(text) and not text.startswith((".", "~")):
        return _repo_source(text, revision, cache_dir, token)
    raise FileNotFoundError(
        f"Weights {text!r} not found: it is no existing file or folder, no Hub repo id "
        f"('org/name') and no registered name "
        f"({', '.join(list_pretrained()) or 'none registered'})."
    )


# ====================================================================== loading
def _read(source: _Source) -> Checkpoint:
    """Read and verify the file; a bad file from the Hub cache is removed from it."""
    try:
        return read_checkpoint(source.weights, sha256=source.sha256, file_size=source.file_size)
    except ValueError:
        if source.from_hf_cache:
            remove_from_hf_cache(source.weights)
        raise


def _per_channel(values: Any, in_chans: int, default: tuple[float, ...]) -> tuple[float, ...]:
    """Repeat per-channel statistics to ``in_chans`` (averaged first if they differ)."""
    if not values:
        return default
    values = tuple(float(v) for v in values)
    if len(values) == in_chans:
        return values
    return (sum(values) / len(values),) * in_chans


def _update_pretrained_cfg(model: MobileNetV1, meta: dict[str, Any], description: str,
                           head_reset: bool) -> None:
    cfg = dict(model.pretrained_cfg)
    cfg.update({k: v for k, v in meta.items() if k not in _MODEL_OWNED})
    cfg["mean"] = _per_channel(meta.get("mean"), model.in_chans, cfg["mean"])
    cfg["std"] = _per_channel(meta.get("std"), model.in_chans, cfg["std"])
    cfg["num_classes"] = model.num_classes
    if "metrics" in meta:  # JSON keys are strings; input sides are ints
        cfg["metrics"] = {
            name: {int(k): v for k, v in value.items()} if isinstance(value, dict) else value
            for name, value in meta["metrics"].items()
        }
    accuracy = meta.get("test_accuracy") or cfg.get("metrics", {}).get("test_accuracy")
    if isinstance(accuracy, dict):
        cfg["test_accuracy"] = {int(k): float(v) for k, v in accuracy.items()}
    if cfg.get("num_params") not in (None, count_params(model)):
        cfg.pop("num_params")  # adapted: the checkpoint's counts no longer describe this model
        cfg.pop("macs", None)
    if head_reset:  # the checkpoint's labels and accuracy describe the old head's outputs
        cfg = without_head_fields(cfg)
    elif cfg.get("labels") is not None:
        cfg["labels"] = tuple(cfg["labels"])
    cfg["source"] = description
    model.pretrained_cfg = cfg


def _found_text(checkpoint: Checkpoint) -> str:
    keys = ("architecture", "width_mult", "in_chans", "num_classes")
    return ", ".join(f"{k}={checkpoint.metadata[k]}" for k in keys if k in checkpoint.metadata)


def _apply(model: MobileNetV1, checkpoint: Checkpoint, source: _Source) -> MobileNetV1:
    state, head_reset = fit_state_dict(
        model, checkpoint.tensors, source=source.description, found=_found_text(checkpoint)
    )
    model.load_state_dict(state, strict=not head_reset)
    if head_reset:
        model.reset_classifier(model.num_classes)
    _update_pretrained_cfg(model, source.meta, source.description, head_reset)
    logger.info("Loaded weights from %s (sha256 %s).", source.description, checkpoint.sha256)
    return model


def load_pretrained(
    model: MobileNetV1, source: str | Path, *, revision: str | None = None,
    cache_dir: str | Path | None = None,
) -> MobileNetV1:
    """Load weights into ``model``, adapting them to how the model was built.

    Adaptation policy:

    * ``model.num_classes`` differs from the checkpoint's: the backbone is loaded and the
      classifier is freshly initialised (logged at INFO).
    * ``model.in_chans`` differs: the first conv (``stem.conv``) kernel is summed over its
      input channels, repeated ``in_chans`` times and divided by ``in_chans``, so an image
      whose channels are all the same gray plane (e.g. a gray RGB image) gives the same
      features and logits as the grayscale model on that plane.
    * Anything else (another width or layer config): :class:`ValueError` listing missing
      and unexpected keys and shape mismatches.

    ``model.pretrained_cfg`` is then updated with the checkpoint's metadata (tag, dataset,
    labels, test accuracy, ...), mean/std repeated to ``in_chans``, ``num_classes`` the model's;
    ``input_size`` stays the model's (its ``in_chans`` and the side set by ``resolution_mult``).

    Args:
        model: The model to fill; it keeps its width, ``in_chans`` and ``num_classes``.
        source: A registered name (``"mobilenet_v1_100.mnist"``, see
            :func:`list_pretrained`), a ``.safetensors`` file, a folder written by
            :func:`save_pretrained`, or a Hugging Face Hub repo id (``"user/repo"``).
        revision: Hub revision for a repo id. For a registered name it replaces the pinned
            revision, but the registry's sha256 is still enforced.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).

    Returns:
        ``model``, with the weights loaded.

    Raises:
        KeyError: For an unknown registered name (with a suggestion).
        FileNotFoundError: For a path that does not exist.
        ValueError: For a wrong sha256 or size, a truncated or pickle file, or weights of
            another architecture.
        WeightsUnavailableError: If Hub weights are neither cached nor downloadable.
    """
    if not isinstance(model, MobileNetV1):
        raise TypeError(f"load_pretrained expects a MobileNetV1, got {type(model).__name__}.")
    source_info = _resolve(source, revision, cache_dir)
    return _apply(model, _read(source_info), source_info)


def _build_kwargs(meta: dict[str, Any], checkpoint: Checkpoint, description: str) -> dict[str, Any]:
    """Constructor arguments of the saved model, from config.json or the file's metadata."""
    file_meta = dict(checkpoint.metadata)
    if "arch_config" in file_meta:
        file_meta["arch_config"] = json.loads(file_meta["arch_config"])
    values = {**file_meta, **meta}
    if "input_size" in meta:  # config.json / registry: (C, H, W); file metadata: the side
        values["in_chans"] = values.get("in_chans", meta["input_size"][0])
    missing = [k for k in ("width_mult", "in_chans", "num_classes") if k not in values]
    if missing:
        raise ValueError(
            f"{description} does not say how to build its model (missing {missing} in "
            f"{CONFIG_NAME} and in the safetensors metadata). Build the model yourself and call "
            "load_pretrained(model, path)."
        )
    arch_cfg = values.get("arch_config")
    arch_name = values.get("architecture", values.get("arch", "mnist"))
    arch = _arch_from_dict(arch_cfg) if arch_cfg else get_arch(arch_name)
    side = values.get("input_size", arch.input_size)
    return {
        "arch": arch, "width_mult": float(values["width_mult"]),
        "in_chans": int(values["in_chans"]), "num_classes": int(values["num_classes"]),
        "input_size": int(side[-1] if isinstance(side, (list, tuple)) else side),
    }


def from_pretrained(
    repo_id_or_folder: str | Path, revision: str | None = None,
    cache_dir: str | Path | None = None, *, token: str | None = None,
) -> MobileNetV1:
    """Rebuild a model, with its weights, from a saved folder, file, Hub repo or registered name.

    Example:
        >>> model = from_pretrained("path/to/folder").eval()  # doctest: +SKIP

    Args:
        repo_id_or_folder: A folder written by :func:`save_pretrained`, a ``.safetensors``
            file written by it, a Hub repo id (``"user/repo"``) or a registered name.
        revision: Hub revision (branch, tag or commit); default ``"main"``.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).
        token: Hub token for private repos.

    Returns:
        The model in training mode, ``pretrained_cfg`` filled from the checkpoint.

    Raises:
        As :func:`load_pretrained`.
    """
    source = _resolve(repo_id_or_folder, revision, cache_dir, token)
    checkpoint = _read(source)
    model = MobileNetV1(**_build_kwargs(source.meta, checkpoint, source.description))
    return _apply(model, checkpoint, source)


# ====================================================================== publishing
def push_to_hub(
    model: MobileNetV1, repo_id: str, *, revision: str | None = None,
    commit_message: str | None = None, private: bool = False, token: str | None = None,
    create_pr: bool = False, **meta: Any,
) -> Any:
    """Publish ``model`` to the Hugging Face Hub as a model repo (weights, config, card).

    Creates the repo if needed (and the branch ``revision``), writes the folder with
    :func:`save_pretrained` into a temporary directory and uploads it in one commit.

    Args:
        model: The model to publish.
        repo_id: ``"user/name"`` or ``"org/name"``.
        revision: Branch to commit to (created if missing); default ``"main"``.
        commit_message: Commit message; default ``"Upload <name>"``.
        private: Create the repo as private.
        token: Hub token; default: the logged-in token (``hf auth login``).
        create_pr: Open a pull request instead of committing directly.
        **meta: Passed to :func:`save_pretrained` (``metrics``, ``dataset``, ``labels``, ...).

    Returns:
        The ``huggingface_hub.CommitInfo`` of the upload.

    Raises:
        ValueError: If ``repo_id`` is not of the form ``"owner/name"``.
    """
    from huggingface_hub import HfApi

    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id):
        raise ValueError(f"repo_id must look like 'user/name', got {repo_id!r}.")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
    with tempfile.TemporaryDirectory(prefix="mobilenet-mnist-push-") as tmp:
        save_pretrained(model, tmp, repo_id=repo_id, **meta)
        name = _read_json(Path(tmp) / CONFIG_NAME)["name"]
        return api.upload_folder(
            repo_id=repo_id, folder_path=tmp, repo_type="model", revision=revision,
            commit_message=commit_message or f"Upload {name}", create_pr=create_pr,
        )

"""Saving a model as a Hugging Face model folder: weights, ``config.json`` and model card.

The folder holds ``model.safetensors`` (tensors; ``architecture``, ``model_args`` and
``pretrained_cfg`` in its metadata), ``config.json`` (timm's layout, see
:mod:`mobilenet_mnist.models.config`; its ``weights`` block pins the file's size and sha256)
and ``README.md`` (the model card), laid out as a Hub model repo.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..models.config import CONFIG_NAME, WEIGHTS_NAME, model_config, safetensors_metadata
from ..models.mobilenet import MobileNetV1
from ..utils.files import atomic_write_bytes, sha256_file

__all__ = ["CARD_NAME", "save_pretrained", "write_metadata"]

logger = logging.getLogger(__name__)

#: Name of the model card in a saved folder.
CARD_NAME = "README.md"


def _safetensors_bytes(model: MobileNetV1, config: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return save(tensors, safetensors_metadata(config))


def _check_rebuildable(model: MobileNetV1) -> None:
    """Refuse a model whose tensors a plain rebuild would not accept (fused, modified, ...)."""
    import torch

    with torch.device("meta"):  # shapes only, no memory or init cost
        plain = MobileNetV1(
            model.arch, model.width_mult, model.in_chans, model.num_classes, global_pool=model.global_pool.pool_type
        )
    expected = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if expected != found:
        differ = sorted(set(expected) ^ set(found)) or sorted(k for k in expected if expected[k] != found[k])
        raise ValueError(
            f"Cannot save this model: its tensors differ from a MobileNetV1 built from its "
            f"config (e.g. fused BatchNorm or replaced layers), so it could not be rebuilt; "
            f"differing keys: {differ[:5]}. Save the model before fusing or modifying it."
        )


def save_pretrained(model: MobileNetV1, folder: str | Path, *, repo_id: str | None = None, **meta: Any) -> Path:
    """Save ``model`` as a Hugging Face model folder: weights, config and model card.

    Writes ``model.safetensors``, ``config.json`` (with the weights' size and sha256) and
    ``README.md``, each atomically. The model must be a plain :class:`MobileNetV1` (not fused
    or otherwise modified), so :func:`~mobilenet_mnist.hub.load.from_pretrained` can rebuild it.

    Example:
        >>> save_pretrained(model, "my-model", metrics={"test_accuracy": {32: 99.1}},
        ...                 dataset="mnist", tag="mnist")  # doctest: +SKIP

    Args:
        model: The model to save.
        folder: Destination folder (created if needed).
        repo_id: Hub repo id shown in the card's usage snippet.
        **meta: Keywords of :func:`~mobilenet_mnist.models.config.model_config`: ``metrics``
            (name → number, or ``{"test_accuracy": {input side: %}}``), ``tag``, ``dataset``,
            ``labels``, ``license``, ``recipe``, ``train_time_s``, ``train_hardware`` (where it
            was trained, e.g. ``"one NVIDIA H200"``), ``temperature``, ``ood_score`` and
            ``ood_threshold`` (a calibration, see ``benchmarks/calibrate.py``).

    Returns:
        The folder.

    Raises:
        TypeError: If ``model`` is not a :class:`MobileNetV1`.
        ValueError: If its tensors do not fit a rebuilt model, ``labels`` do not fit, or
            ``folder`` is an existing file.
    """
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
    _write_config_and_card(folder, config, repo_id)
    logger.info("Saved %s to %s.", config["architecture"], folder)
    return folder


def _write_config_and_card(folder: Path, config: dict[str, Any], repo_id: str | None) -> None:
    """``config.json`` pinning the folder's weight file (size, sha256), then the model card."""
    from .card import render_model_card

    weights = folder / WEIGHTS_NAME
    config["weights"] = {"filename": WEIGHTS_NAME, "file_size": weights.stat().st_size, "sha256": sha256_file(weights)}
    atomic_write_bytes(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    atomic_write_bytes(folder / CARD_NAME, render_model_card(config, repo_id).encode("utf-8"))


def write_metadata(model: MobileNetV1, folder: str | Path, *, repo_id: str | None = None, **meta: Any) -> Path:
    """Rewrite ``config.json`` and ``README.md`` of a saved folder; its weight file stays as it is.

    For metadata measured after saving (e.g. a calibration): ``model.safetensors`` is not
    rewritten, so its sha256 (pinned anew in ``config.json``) does not change.

    Args:
        model: The model whose weights the folder holds (checked tensor by tensor).
        folder: A folder written by :func:`save_pretrained` (or release 0.2.0).
        repo_id: Hub repo id shown in the card's usage snippet.
        **meta: Keywords of :func:`~mobilenet_mnist.models.config.model_config`, as for
            :func:`save_pretrained`.

    Returns:
        The folder.

    Raises:
        TypeError: If ``model`` is not a :class:`MobileNetV1`.
        FileNotFoundError: If the folder holds no ``model.safetensors``.
        ValueError: If the file's tensors are not the model's, or ``meta`` is invalid.
    """
    from safetensors.torch import load_file

    if not isinstance(model, MobileNetV1):
        raise TypeError(f"write_metadata expects a MobileNetV1, got {type(model).__name__}.")
    folder = Path(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"No {WEIGHTS_NAME} in {folder}; save the model with save_pretrained first.")
    stored = load_file(str(weights))
    differ = sorted(k for k, v in model.state_dict().items() if k not in stored or not _same(v, stored[k]))
    if differ or len(stored) != len(model.state_dict()):
        raise ValueError(
            f"{weights} does not hold this model's weights (differing keys: {differ[:5]}); load the model "
            "from that folder, or save it with save_pretrained."
        )
    config = model_config(model, **meta)
    _write_config_and_card(folder, config, repo_id)
    logger.info("Rewrote the metadata of %s in %s.", config["architecture"], folder)
    return folder


def _same(tensor: Any, stored: Any) -> bool:
    import torch

    return torch.equal(tensor.detach().cpu(), stored)

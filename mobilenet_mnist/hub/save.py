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

__all__ = ["CARD_NAME", "save_pretrained"]

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
            was trained, e.g. ``"one NVIDIA H200"``).

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
    weights = folder / WEIGHTS_NAME
    atomic_write_bytes(weights, _safetensors_bytes(model, config))
    config["weights"] = {"filename": WEIGHTS_NAME, "file_size": weights.stat().st_size, "sha256": sha256_file(weights)}
    atomic_write_bytes(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    atomic_write_bytes(folder / CARD_NAME, render_model_card(config, repo_id).encode("utf-8"))
    logger.info("Saved %s to %s.", config["architecture"], folder)
    return folder

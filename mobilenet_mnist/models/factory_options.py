"""The options ``create_model`` shares with timm's: cfg overlay, checkpoint, device and dtype.

These apply to any registered model, whatever its builder accepts: :func:`check_overlay` and
:func:`apply_overlay` handle ``pretrained_cfg_overlay`` (entries that replace those of the
model's ``pretrained_cfg``, and of the registered record its weights are found by);
:func:`overlay_source` is that record; :func:`check_placement` and :func:`place` handle
``device`` and ``dtype`` (e.g. ``device="meta"`` to build without memory, as timm's tests do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..utils.names import unknown_name_message
from .mobilenet import MobileNetV1
from .pretrained_cfg import PretrainedCfg

__all__ = ["apply_overlay", "check_overlay", "check_placement", "overlay_source", "place"]

#: timm's overlay key for a local weight file to load instead of the registered one.
FILE_KEY = "file"


def check_overlay(overlay: object) -> dict[str, Any]:
    """``pretrained_cfg_overlay`` as a dict, after checking its keys.

    Raises:
        TypeError: If it is neither None nor a mapping.
        ValueError: For a key that is no :class:`PretrainedCfg` field (nor ``"file"``), with
            the closest valid key and all of them.
    """
    if overlay is None:
        return {}
    if not isinstance(overlay, Mapping):
        raise TypeError(
            "pretrained_cfg_overlay must be a dict of pretrained_cfg entries, e.g. "
            f"{{'hf_hub_revision': 'main'}}, got {type(overlay).__name__}."
        )
    valid = [*PretrainedCfg.field_names(), FILE_KEY]
    for key in overlay:
        if key not in valid:
            raise ValueError(unknown_name_message("pretrained_cfg_overlay key", str(key), valid))
    return dict(overlay)


def overlay_source(weights_name: str, overlay: Mapping[str, Any]) -> PretrainedCfg | Path:
    """What to load for ``pretrained=True`` with an overlay: a file, or the registered record changed.

    Args:
        weights_name: The registered weights, ``"architecture.tag"``.
        overlay: Checked by :func:`check_overlay`; ``"file"`` names a local weight file.

    Raises:
        KeyError: If no weights of that name are registered.
        ValueError: If the changed record is invalid (the message names the field).
    """
    from .pretrained import get_pretrained_cfg

    if overlay.get(FILE_KEY) is not None:
        return Path(os.fspath(overlay[FILE_KEY]))
    record = get_pretrained_cfg(weights_name)
    changes = {k: v for k, v in overlay.items() if k != FILE_KEY}
    return PretrainedCfg.from_dict({**record.to_dict(), **changes}) if changes else record


def apply_overlay(model: MobileNetV1, overlay: Mapping[str, Any]) -> None:
    """Replace entries of ``model.pretrained_cfg`` by those of ``overlay`` (checked as a record).

    Raises:
        ValueError: If a value is invalid for its field (e.g. ``crop_pct=2``).
    """
    changes = {k: v for k, v in overlay.items() if k != FILE_KEY}
    if not changes:
        return
    cfg = {**getattr(model, "pretrained_cfg", {}), **changes}
    try:
        record = PretrainedCfg.from_dict(cfg, strict=False)
    except ValueError as error:
        raise ValueError(f"pretrained_cfg_overlay {changes}: {error}") from error
    model.pretrained_cfg = {**cfg, **{k: getattr(record, k) for k in changes}}


def check_placement(device: object, dtype: object) -> tuple[torch.device | None, torch.dtype | None]:
    """``device`` and ``dtype`` as torch objects (None stays None).

    Raises:
        TypeError: If ``device`` is no str/``torch.device`` or ``dtype`` no floating ``torch.dtype``.
        ValueError: If ``device`` names no device type torch knows.
    """
    if device is not None and not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str such as 'cpu', 'cuda' or 'meta', or a torch.device; got {device!r}.")
    try:
        device = torch.device(device) if device is not None else None
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a device torch knows: {error}") from None
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(
            f"dtype must be a floating torch.dtype such as torch.float32 or torch.bfloat16, got {dtype!r}."
        )
    return device, dtype


def place(model: nn.Module, device: torch.device | None, dtype: torch.dtype | None) -> None:
    """Move ``model``'s parameters and buffers to ``device`` and cast them to ``dtype``."""
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)

"""Reaching the model inside wrappers (DistributedDataParallel, DataParallel, torch.compile)."""

from __future__ import annotations

from typing import Any

__all__ = ["unwrap_model"]


def unwrap_model(model: Any) -> Any:
    """The model inside DDP/DataParallel (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner

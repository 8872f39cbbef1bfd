"""mobilenet-mnist: MobileNet V1 for small grayscale images, with pretrained MNIST weights.

The top level holds what a user needs: build and list models, load and save weights,
preprocess images, train, evaluate, run fast and export. Everything else lives in the
subpackages :mod:`~mobilenet_mnist.models`, :mod:`~mobilenet_mnist.hub.core`,
:mod:`~mobilenet_mnist.data.datasets`, :mod:`~mobilenet_mnist.training.loop` and
:mod:`~mobilenet_mnist.deploy`. Only the model code is imported eagerly; the rest loads
on first use, so ``import mobilenet_mnist`` stays light and never downloads.
"""

from __future__ import annotations

import importlib as _importlib
from typing import Any as _Any

from . import _compat
from .models import (
    ArchConfig,
    LayerConfig,
    MobileNetV1,
    PretrainedCfg,
    create_model,
    list_archs,
    list_models,
    list_pretrained,
    mobilenet_v1,
    profile_model,
    register_arch,
    register_model,
)
from .version import __version__

# Public names from subpackages with heavier imports: name → subpackage, loaded on first use.
_LAZY: dict[str, str] = {
    "load_pretrained": "hub",
    "from_pretrained": "hub",
    "save_pretrained": "hub",
    "push_to_hub": "hub",
    "WeightsUnavailableError": "hub",
    "load_dataset": "data",
    "preprocess": "data",
    "create_transform": "data",
    "TrainConfig": "training",
    "get_preset": "training",
    "train": "training",
    "fit": "training",
    "evaluate": "training",
    "freeze_backbone": "training",
    "optimize_for_inference": "deploy",
    "export_model": "deploy",
}

__all__ = [
    "__version__",
    "ArchConfig",
    "LayerConfig",
    "MobileNetV1",
    "PretrainedCfg",
    "create_model",
    "list_archs",
    "list_models",
    "list_pretrained",
    "mobilenet_v1",
    "profile_model",
    "register_arch",
    "register_model",
    *_LAZY,
]

_compat.install()


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    return _compat.moved_name(name)


def __dir__() -> list[str]:
    """The public API and the subpackages, for tab completion."""
    return sorted([*__all__, "models", "hub", "data", "training", "deploy", "cli"])

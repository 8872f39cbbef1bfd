"""mobilenet-mnist: MobileNet V1 for small grayscale images, with pretrained MNIST weights.

The top level holds what a user needs: build and list models, load and save weights,
preprocess images, train, evaluate, run fast and export. Everything else lives in the
subpackages :mod:`~mobilenet_mnist.models`, :mod:`~mobilenet_mnist.hub`,
:mod:`~mobilenet_mnist.data.datasets`, :mod:`~mobilenet_mnist.training.loop` and
:mod:`~mobilenet_mnist.deploy`. Every public name loads on first use, so
``import mobilenet_mnist`` imports neither torch nor anything else heavy (the
``mobilenet-mnist --help`` command starts fast) and never downloads.
"""

from __future__ import annotations

import importlib as _importlib
from typing import Any as _Any

from . import _compat
from .version import __version__

# Every public name: name → the subpackage that defines it, imported on first use.
_LAZY: dict[str, str] = {
    "ArchConfig": "models",
    "LayerConfig": "models",
    "MobileNetV1": "models",
    "PretrainedCfg": "models",
    "create_model": "models",
    "list_archs": "models",
    "list_models": "models",
    "list_pretrained": "models",
    "mobilenet_v1": "models",
    "profile_model": "models",
    "register_arch": "models",
    "register_model": "models",
    "register_timm": "models",
    "from_pretrained": "hub",
    "save_pretrained": "hub",
    "WeightsUnavailableError": "hub",
    "load_dataset": "data",
    "preprocess": "data",
    "prepare_digits": "data",
    "create_transform": "data",
    "TrainConfig": "training",
    "get_preset": "training",
    "train": "training",
    "fit": "training",
    "evaluate": "training",
    "freeze_backbone": "training",
    "predict": "deploy",
    "optimize_for_inference": "deploy",
    "export_model": "deploy",
}

__all__ = ["__version__", *_LAZY]

_compat.install()


def __getattr__(name: str) -> _Any:
    """Import a public name from its subpackage on first use (then cache it here).

    Args:
        name: The attribute asked for.

    Returns:
        The public object, or a moved 0.2.0 name (with a :class:`DeprecationWarning`).

    Raises:
        AttributeError: If ``name`` is neither public nor a moved 0.2.0 name.
    """
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    return _compat.moved_name(name)


def __dir__() -> list[str]:
    """The public API and the subpackages, for tab completion."""
    return sorted([*__all__, "models", "hub", "data", "training", "deploy", "cli"])

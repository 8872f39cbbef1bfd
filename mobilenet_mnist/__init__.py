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
from typing import TYPE_CHECKING
from typing import Any as _Any

from . import _compat
from .version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name loads on first use
    from .data import create_transform as create_transform
    from .data import load_dataset as load_dataset
    from .data import prepare_digits as prepare_digits
    from .data import preprocess as preprocess
    from .deploy import export_model as export_model
    from .deploy import optimize_for_inference as optimize_for_inference
    from .deploy import predict as predict
    from .hub import WeightsUnavailableError as WeightsUnavailableError
    from .hub import from_pretrained as from_pretrained
    from .hub import save_pretrained as save_pretrained
    from .models import ArchConfig as ArchConfig
    from .models import LayerConfig as LayerConfig
    from .models import MobileNetV1 as MobileNetV1
    from .models import PretrainedCfg as PretrainedCfg
    from .models import create_model as create_model
    from .models import list_archs as list_archs
    from .models import list_models as list_models
    from .models import list_pretrained as list_pretrained
    from .models import mobilenet_v1 as mobilenet_v1
    from .models import profile_model as profile_model
    from .models import register_arch as register_arch
    from .models import register_model as register_model
    from .models import register_timm as register_timm
    from .training import TrainConfig as TrainConfig
    from .training import evaluate as evaluate
    from .training import fit as fit
    from .training import freeze_backbone as freeze_backbone
    from .training import get_preset as get_preset
    from .training import train as train

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

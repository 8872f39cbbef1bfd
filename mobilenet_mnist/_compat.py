"""Import paths of release 0.2.0 that moved, kept working for one release with a warning.

0.2.0 had 24 flat modules (``mobilenet_mnist.training``, ``mobilenet_mnist.export``, ...)
and 52 top-level names. Both now live in subpackages; importing an old module path or
reading a moved top-level name still works but emits a :class:`DeprecationWarning` that
names the new place. These aliases will be removed in 0.4.0.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

#: Old flat module → its new home.
MOVED_MODULES: dict[str, str] = {
    "archs": "models.archs",
    "layers": "models.layers",
    "model": "models.mobilenet",
    "factory": "models.factory",
    "profile": "models.profile",
    "pretrained": "models.pretrained",
    "checkpoint": "models.checkpoint",
    "model_card": "hub.card",
    "publish": "hub.publish",
    "fileio": "utils.files",
    "augment": "data.augment",
    "runs": "training.runs",
    "evaluation": "training.evaluation",
    "finetune": "training.finetune",
    "distributed": "training.distributed",
    "optimize": "deploy.optimize",
    "export": "deploy.export",
    "quantize": "deploy.quantize",
    "benchmark": "deploy.speed",
}

#: Top-level names of 0.2.0 that are no longer top-level → the module that has them now.
MOVED_NAMES: dict[str, str] = {
    "get_arch": "models",
    "mobilenet_v1_100": "models",
    "mobilenet_v1_075": "models",
    "mobilenet_v1_050": "models",
    "mobilenet_v1_025": "models",
    "ConvBnAct": "models",
    "DepthwiseSeparable": "models",
    "LayerCost": "models",
    "ModelCost": "models",
    "count_params": "models",
    "get_pretrained_cfg": "models",
    "register_pretrained": "models",
    "ImageTensors": "data",
    "train_val_split": "data",
    "AugmentConfig": "data",
    "TrainResult": "training",
    "unfreeze_backbone": "training",
    "param_groups": "training",
    "tensors_from_dataset": "training",
    "EvalResult": "training",
    "fuse_conv_bn": "deploy",
    "InferenceWrapper": "deploy",
    "quantize_onnx": "deploy",
    "load_pretrained": "hub",
    "push_to_hub": "hub",
}

_PACKAGE = __name__.rpartition(".")[0]


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new} in mobilenet-mnist 0.3.0; the old path will be removed in 0.4.0.",
        DeprecationWarning,
        stacklevel=3,
    )


def moved_name(name: str) -> Any:
    """The value of a moved top-level name, with a :class:`DeprecationWarning`.

    Raises:
        AttributeError: If ``name`` is not a moved name.
    """
    if name not in MOVED_NAMES:
        raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")
    new_module = f"{_PACKAGE}.{MOVED_NAMES[name]}"
    _warn(f"{_PACKAGE}.{name}", f"{new_module}.{name}")
    return getattr(importlib.import_module(new_module), name)


class _AliasModule(types.ModuleType):
    """Stands in for an old module: every attribute is read from the new one."""

    _target: str  # the new module's name, set by the loader

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__dict__["_target"]), name)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__dict__["_target"]))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _AliasModule(spec.name, f"Deprecated alias of {self.target}.")
        module._target = self.target
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        _warn(module.__name__, self.target)
        importlib.import_module(self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``mobilenet_mnist.<old module>`` and serves an alias of its new home."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        package, _, leaf = fullname.rpartition(".")
        if package != _PACKAGE or leaf not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"{_PACKAGE}.{MOVED_MODULES[leaf]}"))


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())

"""mobilenet-mnist: MobileNet V1 for small grayscale images, with pretrained MNIST weights.

Only the model code is imported eagerly; weights, data, training and export helpers are
loaded on first use, so ``import mobilenet_mnist`` stays light and never downloads.
"""

from __future__ import annotations

import importlib
from typing import Any

from .archs import ArchConfig, LayerConfig, get_arch, list_archs, register_arch
from .factory import (
    create_model,
    list_models,
    mobilenet_v1,
    mobilenet_v1_025,
    mobilenet_v1_050,
    mobilenet_v1_075,
    mobilenet_v1_100,
    register_model,
)
from .layers import ConvBnAct, DepthwiseSeparable
from .model import MobileNetV1
from .profile import LayerCost, ModelCost, count_params, profile_model

__version__ = "0.2.0"

# Public names defined in modules with heavier imports, loaded on first attribute access.
_LAZY: dict[str, str] = {
    "save_pretrained": "hub",
    "from_pretrained": "hub",
    "push_to_hub": "hub",
    "load_pretrained": "hub",
    "WeightsUnavailableError": "hub",
    "PretrainedCfg": "pretrained",
    "list_pretrained": "pretrained",
    "get_pretrained_cfg": "pretrained",
    "register_pretrained": "pretrained",
    "ImageTensors": "data",
    "load_dataset": "data",
    "preprocess": "data",
    "create_transform": "data",
    "train_val_split": "data",
    "AugmentConfig": "augment",
    "TrainConfig": "training",
    "TrainResult": "training",
    "train": "training",
    "fit": "training",
    "get_preset": "training",
    "freeze_backbone": "finetune",
    "unfreeze_backbone": "finetune",
    "param_groups": "finetune",
    "tensors_from_dataset": "finetune",
    "EvalResult": "evaluation",
    "evaluate": "evaluation",
    "fuse_conv_bn": "optimize",
    "optimize_for_inference": "optimize",
    "InferenceWrapper": "optimize",
    "export_model": "export",
    "quantize_onnx": "quantize",
}

__all__ = [
    "ArchConfig",
    "LayerConfig",
    "get_arch",
    "list_archs",
    "register_arch",
    "MobileNetV1",
    "ConvBnAct",
    "DepthwiseSeparable",
    "mobilenet_v1",
    "mobilenet_v1_100",
    "mobilenet_v1_075",
    "mobilenet_v1_050",
    "mobilenet_v1_025",
    "create_model",
    "list_models",
    "register_model",
    "LayerCost",
    "ModelCost",
    "count_params",
    "profile_model",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Networks: layer configs and their registry, layers, MobileNet V1, named builders, weights.

What a set of weights is (:class:`PretrainedCfg`), where it comes from and how it is fitted
to a model (:func:`load_pretrained`) live here too, so that building a model by name with
its weights needs nothing outside this package.
"""

from .archs import IMAGENET_ARCH, MNIST_ARCH, ArchConfig, LayerConfig, get_arch, list_archs, register_arch
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
from .layers import ConvBnAct, DepthwiseSeparable, make_divisible
from .mobilenet import MNIST_MEAN, MNIST_STD, MobileNetV1
from .pretrained import PretrainedCfg, get_pretrained_cfg, list_pretrained, register_pretrained
from .profile import LayerCost, ModelCost, count_params, profile_model

__all__ = [
    "IMAGENET_ARCH",
    "MNIST_ARCH",
    "MNIST_MEAN",
    "MNIST_STD",
    "ArchConfig",
    "ConvBnAct",
    "DepthwiseSeparable",
    "LayerConfig",
    "LayerCost",
    "MobileNetV1",
    "ModelCost",
    "PretrainedCfg",
    "count_params",
    "create_model",
    "get_arch",
    "get_pretrained_cfg",
    "list_archs",
    "list_models",
    "list_pretrained",
    "make_divisible",
    "mobilenet_v1",
    "mobilenet_v1_025",
    "mobilenet_v1_050",
    "mobilenet_v1_075",
    "mobilenet_v1_100",
    "profile_model",
    "register_arch",
    "register_model",
    "register_pretrained",
]

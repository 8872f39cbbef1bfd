"""Networks: layer configs and their registry, layers, MobileNet V1, named builders, weights.

What a set of weights is (:class:`PretrainedCfg`), where it comes from (:mod:`.sources`),
how it is read and fitted to a model (:func:`load_pretrained`) and the ``config.json`` that
describes it (:mod:`.config`) live here too, so that building a model by name with its
weights needs nothing outside this package (and nothing here imports :mod:`mobilenet_mnist.hub`).
"""

from .archs import IMAGENET_ARCH, MNIST_ARCH, ArchConfig, LayerConfig, get_arch, list_archs, register_arch
from .builder import load_pretrained
from .config import model_config
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
from .pretrained import get_pretrained_cfg, list_pretrained, register_pretrained
from .pretrained_cfg import PretrainedCfg
from .profile import LayerCost, ModelCost, count_params, profile_model
from .sources import WeightsUnavailableError
from .timm_interop import register_timm

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
    "WeightsUnavailableError",
    "count_params",
    "create_model",
    "get_arch",
    "get_pretrained_cfg",
    "list_archs",
    "list_models",
    "list_pretrained",
    "load_pretrained",
    "make_divisible",
    "mobilenet_v1",
    "mobilenet_v1_025",
    "mobilenet_v1_050",
    "mobilenet_v1_075",
    "mobilenet_v1_100",
    "model_config",
    "profile_model",
    "register_arch",
    "register_model",
    "register_pretrained",
    "register_timm",
]

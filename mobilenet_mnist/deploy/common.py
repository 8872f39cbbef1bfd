"""What every exporter shares: the prepared model, its input shape, and the metadata it records.

:mod:`.onnx_export`, :mod:`~mobilenet_mnist.deploy.export` and :mod:`.quantize` all import from here (and never
from each other's private names): the fused channels_last copy that gets exported
(:func:`prepare_for_export`), the input shape (:func:`input_shape`), the metadata written
into every file (:func:`export_metadata`, :func:`onnx_metadata_props`) and the check for
the optional ONNX packages (:func:`require_onnx`, :class:`MissingExtraError`).
"""

from __future__ import annotations

import copy
import importlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.mobilenet import MNIST_MEAN, MNIST_STD
from ..utils.checks import check_module, check_number, check_path

__all__ = [
    "DEFAULT_MODEL_NAME",
    "INSTALL_HINT",
    "ONNX_INPUT_NAME",
    "ONNX_OUTPUT_NAME",
    "MissingExtraError",
    "example_input",
    "export_metadata",
    "input_shape",
    "is_quantized",
    "model_name",
    "onnx_metadata_props",
    "output_file",
    "prepare_for_export",
    "require_onnx",
]

#: The command that installs the optional ONNX dependencies.
INSTALL_HINT = 'pip install "mobilenet-mnist[onnx]"'
#: Name of the ONNX graph's input (float32, N×C×S×S).
ONNX_INPUT_NAME = "input"
#: Name of the ONNX graph's output (float32 logits, N×num_classes).
ONNX_OUTPUT_NAME = "logits"
#: Model name recorded for a model whose ``pretrained_cfg`` has no ``architecture``.
DEFAULT_MODEL_NAME = "mobilenet_v1"


class MissingExtraError(ImportError):
    """An optional dependency (the ``onnx`` extra) is not installed; the message says how."""


def require_onnx(*modules: str) -> None:
    """Import the optional ONNX packages or raise :class:`MissingExtraError` with the fix.

    Args:
        modules: Module names to check; defaults to ``onnx`` and ``onnxscript`` (what
            ONNX export needs). Pass ``"onnxruntime"`` to check the runtime too.

    Raises:
        MissingExtraError: If one of them cannot be imported.
    """
    for module in modules or ("onnx", "onnxscript"):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise MissingExtraError(
                f"This needs the optional package {module!r}, which is not installed "
                f"({error}). Install the ONNX extra: {INSTALL_HINT}"
            ) from error


def prepare_for_export(model: nn.Module) -> nn.Module:
    """The model as the fp32 fast path holds it: an eval copy, BatchNorm folded, channels_last.

    Folding removes the BatchNorm ops from every exported graph; channels_last weights
    are kept by TorchScript and ExportedProgram files and make them run as fast as
    :func:`mobilenet_mnist.deploy.optimize.optimize_for_inference` with ``backend="torch"``
    (about 2× faster than NCHW weights on CPU). The caller's model is left untouched (mode and weights).

    Raises:
        TypeError: If ``model`` is not a :class:`torch.nn.Module`.
    """
    check_module(model, "prepare_for_export")
    from ..models.layers import ConvBnAct
    from .torch_backend import fuse_conv_bn

    has_bn_blocks = any(isinstance(m, ConvBnAct) for m in model.modules())
    prepared = fuse_conv_bn(model) if has_bn_blocks else copy.deepcopy(model).eval()
    return prepared.requires_grad_(False).to(memory_format=torch.channels_last)


def is_quantized(model: nn.Module) -> bool:
    """Whether ``model`` holds ``torch.ao`` quantized modules (an int8 model)."""
    return any(type(module).__module__.startswith("torch.ao.nn.quantized") for module in model.modules())


def input_shape(model: nn.Module, input_size: int | None = None) -> tuple[int, int, int]:
    """(C, S, S) of the model's input: from its ``pretrained_cfg`` unless ``input_size`` is given.

    Args:
        model: The model; ``pretrained_cfg["input_size"]`` (or ``in_chans`` and 32 px) is used.
        input_size: Input side in pixels, overriding the model's.

    Raises:
        TypeError: If ``input_size`` is not an int.
        ValueError: If ``input_size`` is below 1 or below the smallest side the model's
            strides can take.
    """
    cfg = getattr(model, "pretrained_cfg", None) or {}
    in_chans, _, side = cfg.get("input_size", (getattr(model, "in_chans", 1), 32, 32))
    if input_size is not None:
        check_number("input_size", input_size, 1, integer=True)
        arch = getattr(model, "arch", None)
        lowest = getattr(arch, "min_input_size", 1)
        if input_size < lowest:
            raise ValueError(
                f"input_size={input_size} is below {lowest}px, the smallest side the strides of "
                f"architecture {getattr(arch, 'name', None)!r} can take; use input_size >= {lowest}."
            )
        side = input_size
    return int(in_chans), int(side), int(side)


def example_input(model: nn.Module, input_size: int | None = None, batch: int = 2) -> torch.Tensor:
    """A random input batch on the model's device, for tracing exporters.

    Batch 2 by default, not 1: ``torch.export`` specializes size-1 dimensions, which
    would pin the batch axis.
    """
    device = next(iter(model.parameters()), torch.empty(0)).device
    return torch.randn(batch, *input_shape(model, input_size), device=device)


def model_name(model: nn.Module) -> str:
    """The model's registered name, ``pretrained_cfg["architecture"]`` (e.g. ``mobilenet_v1_025``).

    Models without one (built by hand) are named :data:`DEFAULT_MODEL_NAME`.
    """
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return str(cfg.get("architecture") or DEFAULT_MODEL_NAME)


def export_metadata(model: nn.Module, input_size: int | None = None, **extra: Any) -> dict[str, Any]:
    """What every exported file records about its model and how to feed it.

    ``mean`` and ``std`` (per channel, applied after scaling pixels to [0, 1]),
    ``input_size`` as [C, H, W], ``interpolation``, ``labels`` (one name per output),
    ``model_name``, ``tag``, ``library_version``, ``precision``, plus ``extra``. ONNX files
    hold each value as JSON text in ``metadata_props``; TorchScript and ExportedProgram
    archives hold the whole dict as the JSON extra file ``mobilenet_mnist.json``.

    Args:
        model: The exported model (its ``pretrained_cfg`` supplies the values).
        input_size: Input side in pixels; defaults to the model's.
        extra: More entries, e.g. ``precision="int8"``; they override the defaults.

    Returns:
        A JSON-serializable dict.
    """
    from ..version import __version__

    cfg = getattr(model, "pretrained_cfg", None) or {}
    num_classes = int(cfg.get("num_classes", getattr(model, "num_classes", 0)))
    labels = cfg.get("labels") or [str(i) for i in range(num_classes)]
    return {
        "model_name": model_name(model),
        "tag": cfg.get("tag"),
        "library": "mobilenet-mnist",
        "library_version": __version__,
        "input_size": list(input_shape(model, input_size)),
        "input_layout": "NCHW",
        "mean": list(cfg.get("mean", (MNIST_MEAN,))),
        "std": list(cfg.get("std", (MNIST_STD,))),
        "interpolation": cfg.get("interpolation", "bilinear"),
        "preprocessing": "x = (resize(pixels / 255, input_size, bilinear) - mean) / std",
        "labels": list(labels),
        "output": "logits (apply softmax for probabilities)",
        "precision": "fp32",
        **extra,
    }


def onnx_metadata_props(metadata: dict[str, Any]) -> dict[str, str]:
    """``metadata`` as ONNX ``metadata_props``: every value encoded as JSON text."""
    return {key: json.dumps(value) for key, value in metadata.items()}


def output_file(path: str | os.PathLike[str], example_name: str) -> Path:
    """``path`` as an output file path; a folder is refused with an example file name.

    Raises:
        TypeError: If ``path`` is not a str or ``os.PathLike``.
        ValueError: If ``path`` is an existing folder.
    """
    path = check_path("path", path).expanduser()
    if path.is_dir():
        raise ValueError(f"Output path {path} is a folder; give a file name, e.g. {path / example_name}.")
    return path

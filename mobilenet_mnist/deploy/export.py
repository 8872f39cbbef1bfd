"""Export a model for deployment: ONNX, TorchScript and ``torch.export`` programs, fp32 or int8.

Every exporter works on a copy of the model in eval mode with BatchNorm folded into the
convolutions (:func:`~mobilenet_mnist.deploy.common.prepare_for_export`), writes its file atomically (a
temporary file in the same folder, fsynced, then renamed), and returns the path it wrote.
:func:`export_model` is the single entry point (used by ``mobilenet-mnist export``); it
also writes int8 models (see :mod:`.quantize`). The ONNX exporter lives in
:mod:`.onnx_export` and is re-exported here, with the metadata helpers of :mod:`~mobilenet_mnist.deploy.common`,
so ``mobilenet_mnist.deploy.export`` keeps every export name in one place.
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..utils.checks import check_module
from ..utils.files import atomic_path, atomic_write_bytes
from ..utils.names import unknown_name_message
from .common import (
    INSTALL_HINT,
    ONNX_INPUT_NAME,
    ONNX_OUTPUT_NAME,
    MissingExtraError,
    example_input,
    export_metadata,
    is_quantized,
    model_name,
    output_file,
    prepare_for_export,
    require_onnx,
)
from .onnx_export import DEFAULT_OPSET, SUPPORTED_OPSETS, export_onnx, read_onnx_metadata
from .quantize import DEFAULT_NUM_CALIBRATION, quantize_int8, quantize_onnx
from .quiet import PROCESS_SETTINGS_LOCK

__all__ = [
    "DEFAULT_NUM_CALIBRATION",
    "DEFAULT_OPSET",
    "FORMATS",
    "INSTALL_HINT",
    "METADATA_FILE",
    "ONNX_INPUT_NAME",
    "ONNX_OUTPUT_NAME",
    "SUPPORTED_OPSETS",
    "MissingExtraError",
    "default_export_path",
    "export_metadata",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "prepare_for_export",
    "read_onnx_metadata",
    "require_onnx",
]

logger = logging.getLogger(__name__)

#: Export formats and their default file suffixes.
FORMATS: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}
#: Name of the JSON metadata file inside TorchScript and ExportedProgram archives.
METADATA_FILE = "mobilenet_mnist.json"


def _extra_file(metadata: dict[str, Any]) -> dict[str, str]:
    return {METADATA_FILE: json.dumps(metadata)}


def _output_path(path: str | os.PathLike[str], fmt: str) -> Path:
    return output_file(path, f"model{FORMATS[fmt]}")


# ------------------------------------------------------------------------ TorchScript
def export_torchscript(
    model: nn.Module, path: str | os.PathLike[str], *, input_size: int | None = None
) -> Path:
    """Save ``model`` as a scripted TorchScript file (load with ``torch.jit.load``).

    PyTorch has deprecated TorchScript in favour of ``torch.export``; prefer
    :func:`export_program` for new deployments. The ONNX-style metadata is stored in the
    archive as the extra file ``mobilenet_mnist.json``.

    Args:
        model: A float model (a fused eval copy is scripted) or an int8 model from
            :func:`mobilenet_mnist.deploy.quantize.quantize_int8` (scripted as is).
        path: Output file, conventionally ``*.pt``.
        input_size: Input side recorded in the metadata; defaults to the model's.

    Returns:
        The path written.

    Raises:
        TypeError: If ``model`` is not a module.
        ValueError: If ``path`` is a folder.
    """
    check_module(model, "export_torchscript")
    path = _output_path(path, "torchscript")
    quantized = is_quantized(model)
    prepared = model if quantized else prepare_for_export(model)
    logger.warning("TorchScript is deprecated by PyTorch; prefer format='exported-program' or 'onnx'.")
    meta = export_metadata(model, input_size, precision="int8" if quantized else "fp32")
    with PROCESS_SETTINGS_LOCK, warnings.catch_warnings():  # filters are process-wide (see .quiet)
        # One "torch.jit.script is deprecated" FutureWarning per submodule otherwise.
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The TorchScript type system", category=UserWarning)
        scripted = torch.jit.script(prepared)
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp), _extra_files=_extra_file(meta))
    logger.debug("Wrote TorchScript model to %s", path)
    return path


# ----------------------------------------------------------------------- torch.export
def export_program(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    dynamic_batch: bool = True,
    input_size: int | None = None,
) -> Path:
    """Save ``model`` as a ``torch.export`` ExportedProgram (``.pt2``; ``torch.export.load``).

    Args:
        model: The model (a fused eval-mode copy is exported).
        path: Output file, conventionally ``*.pt2``.
        dynamic_batch: Make the batch axis dynamic; otherwise batch 1 only.
        input_size: Input side in pixels; defaults to the model's.

    Returns:
        The path written.

    Raises:
        TypeError: If ``model`` is not a module.
        ValueError: If ``path`` is a folder or ``input_size`` is invalid.
    """
    check_module(model, "export_program")
    path = _output_path(path, "exported-program")
    prepared = prepare_for_export(model)
    example = example_input(prepared, input_size, batch=2 if dynamic_batch else 1)
    dynamic = {"x": {0: torch.export.Dim("batch", min=1)}} if dynamic_batch else None
    program = torch.export.export(prepared, (example,), dynamic_shapes=dynamic)
    extra = _extra_file(export_metadata(model, input_size, dynamic_batch=dynamic_batch))
    buffer = io.BytesIO()  # a buffer, so torch.export.save does not insist on a .pt2 name
    torch.export.save(program, buffer, extra_files=extra)
    atomic_write_bytes(path, buffer.getvalue())
    logger.debug("Wrote ExportedProgram to %s", path)
    return path


# ------------------------------------------------------------------------- dispatcher
def _check_format(fmt: str) -> str:
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ValueError(unknown_name_message("export format", str(fmt), list(FORMATS)))
    return fmt


def default_export_path(model: nn.Module, fmt: str = "onnx", int8: bool = False) -> Path:
    """``<model name>[_int8]<suffix>`` in the current folder, e.g. ``mobilenet_v1_100_int8.onnx``.

    Args:
        model: The model; its name is ``pretrained_cfg["architecture"]``.
        fmt: One of :data:`FORMATS`.
        int8: Add ``_int8`` to the name.

    Raises:
        ValueError: For an unknown format.
    """
    name = model_name(model).replace(".", "_")
    return Path(f"{name}{'_int8' if int8 else ''}{FORMATS[_check_format(fmt)]}")


def _export_int8(model: nn.Module, path: Path, fmt: str, calibration_images: torch.Tensor | None,
                 **options: Any) -> Path:
    if calibration_images is None:
        raise ValueError(
            "int8 export needs calibration_images: a few hundred training images, e.g. "
            "load_dataset('mnist', 'train', root=DIR).images (CLI: --data-dir DIR)."
        )
    if fmt == "onnx":
        return quantize_onnx(model, path, calibration_images, **options)
    if fmt == "torchscript":
        options.pop("opset", None)
        options.pop("verbose", None)
        qmodel = quantize_int8(model, calibration_images, **options)
        return export_torchscript(qmodel, path, input_size=options.get("input_size"))
    raise ValueError(
        "int8 is available for format='onnx' (ONNX Runtime quantizer, recommended) and "
        "format='torchscript' (PyTorch quantizer). int8 ExportedPrograms need the PT2E flow "
        "of the separate torchao package; export fp32 with format='exported-program' instead."
    )


def export_model(
    model: nn.Module,
    path: str | os.PathLike[str] | None = None,
    *,
    format: str = "onnx",
    int8: bool = False,
    calibration_images: torch.Tensor | None = None,
    num_calibration: int = DEFAULT_NUM_CALIBRATION,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    input_size: int | None = None,
    verbose: bool = False,
) -> Path:
    """Export ``model`` in one of :data:`FORMATS`, optionally quantized to int8.

    The entry point behind ``mobilenet-mnist export NAME --format FMT [--int8]``.

    Example:
        >>> from mobilenet_mnist import mobilenet_v1
        >>> from mobilenet_mnist.deploy.export import export_model
        >>> export_model(mobilenet_v1(width_mult=0.25), "m.pt2", format="exported-program")  # doctest: +SKIP
        PosixPath('m.pt2')

    Args:
        model: A float MobileNetV1 (left unchanged; a fused eval-mode copy is exported).
        path: Output file; default :func:`default_export_path` in the current folder.
        format: ``"onnx"``, ``"torchscript"`` or ``"exported-program"``.
        int8: Quantize to int8 (``onnx``: ONNX Runtime QDQ; ``torchscript``: PyTorch
            FX ``x86``); needs ``calibration_images``.
        calibration_images: Training images for int8 calibration (uint8 digits
            (N, H, W) or normalized float inputs).
        num_calibration: How many of them (a fixed random subset) calibrate int8.
        opset: ONNX opset (``onnx`` only).
        dynamic_batch: Dynamic batch axis (``onnx`` and ``exported-program``).
        input_size: Input side in pixels; defaults to ``model.pretrained_cfg``'s.
        verbose: Show the ONNX exporter's and quantizer's own log output (``onnx`` only).

    Returns:
        The path written.

    Raises:
        TypeError: If ``model`` is not a module.
        ValueError: For an unknown format, int8 without calibration images or with
            ``exported-program``, or bad options (an ``input_size`` below the model's minimum).
        MissingExtraError: For ONNX without the ``onnx`` extra (install hint included).
    """
    check_module(model, "export_model")
    fmt = _check_format(format)
    path = _output_path(path if path is not None else default_export_path(model, fmt, int8), fmt)
    if int8:
        if fmt == "onnx" and not dynamic_batch:
            raise ValueError("int8 ONNX export calibrates in batches; keep dynamic_batch=True.")
        return _export_int8(model, path, fmt, calibration_images, input_size=input_size,
                            num_calibration=num_calibration, opset=opset, verbose=verbose)
    if fmt == "onnx":
        return export_onnx(model, path, opset=opset, dynamic_batch=dynamic_batch, input_size=input_size,
                           verbose=verbose)
    if fmt == "torchscript":
        return export_torchscript(model, path, input_size=input_size)
    return export_program(model, path, dynamic_batch=dynamic_batch, input_size=input_size)

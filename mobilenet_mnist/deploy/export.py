"""Export a model for deployment: ONNX, TorchScript and ``torch.export`` programs.

Every exporter works on a copy of the model in eval mode with BatchNorm folded into the
convolutions, writes its file atomically (a temporary file in the same folder, fsynced,
then renamed), and returns the path it wrote. :func:`export_model` is the single entry
point (used by ``mobilenet-mnist export``); it also writes int8 models (see
:mod:`.quantize`).

ONNX files are produced by PyTorch's ``torch.export``-based exporter (``dynamo=True``,
the default and only non-deprecated path since PyTorch 2.9; it needs ``onnxscript``),
at opset :data:`DEFAULT_OPSET`, with a dynamic batch axis, the input named ``"input"``,
the output ``"logits"``, and the preprocessing recipe in the file's ``metadata_props``
(read it back with :func:`read_onnx_metadata`).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..utils.files import atomic_path

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

#: ONNX opset written by default: the exporter's native opset (no version conversion),
#: run by ONNX Runtime >= 1.14 and most mobile/edge runtimes.
DEFAULT_OPSET = 18
#: Training images that calibrate int8 models by default (a fixed random subset).
DEFAULT_NUM_CALIBRATION = 1024
#: Opsets accepted by :func:`export_onnx`.
SUPPORTED_OPSETS = range(18, 24)
#: Export formats and their default file suffixes.
FORMATS: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}
#: Name of the ONNX graph's input (float32, N×C×S×S).
ONNX_INPUT_NAME = "input"
#: Name of the ONNX graph's output (float32 logits, N×num_classes).
ONNX_OUTPUT_NAME = "logits"
#: Name of the JSON metadata file inside TorchScript and ExportedProgram archives.
METADATA_FILE = "mobilenet_mnist.json"
#: The command that installs the optional ONNX dependencies.
INSTALL_HINT = 'pip install "mobilenet-mnist[onnx]"'


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
    import importlib

    for module in modules or ("onnx", "onnxscript"):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise MissingExtraError(
                f"This needs the optional package {module!r}, which is not installed "
                f"({error}). Install the ONNX extra: {INSTALL_HINT}"
            ) from error


# ------------------------------------------------------------------ model preparation
def prepare_for_export(model: nn.Module) -> nn.Module:
    """The model as the fp32 fast path holds it: an eval copy, BatchNorm folded, channels_last.

    Folding removes the BatchNorm ops from every exported graph; channels_last weights
    are kept by TorchScript and ExportedProgram files and make them run as fast as
    :func:`mobilenet_mnist.deploy.optimize.optimize_for_inference` (about 2× faster than NCHW
    weights on CPU). The caller's model is left untouched (mode and weights).

    Raises:
        TypeError: If ``model`` is not a :class:`torch.nn.Module`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected a torch.nn.Module to export, got {type(model).__name__}.")
    from ..models.layers import ConvBnAct
    from .optimize import fuse_conv_bn

    has_bn_blocks = any(isinstance(m, ConvBnAct) for m in model.modules())
    prepared = fuse_conv_bn(model) if has_bn_blocks else copy.deepcopy(model).eval()
    return prepared.requires_grad_(False).to(memory_format=torch.channels_last)


def _input_shape(model: nn.Module, input_size: int | None) -> tuple[int, int, int]:
    """(C, S, S) of the model's input: its ``pretrained_cfg`` unless ``input_size`` is given."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    in_chans, _, side = cfg.get("input_size", (getattr(model, "in_chans", 1), 32, 32))
    if input_size is not None:
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
            raise ValueError(f"input_size must be a positive int (pixels), got {input_size!r}.")
        arch = getattr(model, "arch", None)
        lowest = getattr(arch, "min_input_size", 1)
        if input_size < lowest:
            raise ValueError(
                f"input_size={input_size} is below {lowest}px, the smallest side the strides of "
                f"architecture {arch.name!r} can take; use input_size >= {lowest}."
            )
        side = input_size
    return int(in_chans), int(side), int(side)


def _example_input(model: nn.Module, input_size: int | None, batch: int = 2) -> torch.Tensor:
    # Batch 2, not 1: torch.export specializes size-1 dimensions, which would pin the batch.
    device = next(iter(model.parameters()), torch.empty(0)).device
    return torch.randn(batch, *_input_shape(model, input_size), device=device)


# ------------------------------------------------------------------------ file writing
def _output_path(path: str | os.PathLike[str], fmt: str) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"Output path {path} is a folder; give a file name, e.g. {path}/model{FORMATS[fmt]}.")
    return path


# ------------------------------------------------------------------------------- ONNX
def _model_name(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    if cfg.get("model_name"):
        return str(cfg["model_name"])
    from ..models.factory import model_name_for_width

    name = model_name_for_width(float(getattr(model, "width_mult", 1.0)))
    arch = cfg.get("architecture", "mnist")
    return name if arch == "mnist" else f"{name}_{arch}"


def export_metadata(model: nn.Module, input_size: int | None = None, **extra: Any) -> dict[str, Any]:
    """What every exported file records about its model and how to feed it.

    ``mean`` and ``std`` (per channel, applied after scaling pixels to [0, 1]),
    ``input_size`` as [C, H, W], ``interpolation``, ``labels`` (one name per output),
    ``model_name``, ``tag``, ``library_version``, ``precision``, plus ``extra``. ONNX files
    hold each value as JSON text in ``metadata_props``; TorchScript and ExportedProgram
    archives hold the whole dict as the JSON extra file ``mobilenet_mnist.json``.
    """
    from ..version import __version__

    cfg = getattr(model, "pretrained_cfg", None) or {}
    num_classes = int(cfg.get("num_classes", getattr(model, "num_classes", 0)))
    labels = cfg.get("labels") or [str(i) for i in range(num_classes)]
    return {
        "model_name": _model_name(model),
        "tag": cfg.get("tag"),
        "library": "mobilenet-mnist",
        "library_version": __version__,
        "input_size": list(_input_shape(model, input_size)),
        "input_layout": "NCHW",
        "mean": list(cfg.get("mean", (0.1307,))),
        "std": list(cfg.get("std", (0.3081,))),
        "interpolation": cfg.get("interpolation", "bilinear"),
        "preprocessing": "x = (resize(pixels / 255, input_size, bilinear) - mean) / std",
        "labels": list(labels),
        "output": "logits (apply softmax for probabilities)",
        "precision": "fp32",
        **extra,
    }


def _onnx_props(metadata: dict[str, Any]) -> dict[str, str]:
    return {key: json.dumps(value) for key, value in metadata.items()}


def _extra_file(metadata: dict[str, Any]) -> dict[str, str]:
    return {METADATA_FILE: json.dumps(metadata)}


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata written by :func:`export_onnx`, decoded from JSON.

    Raises:
        MissingExtraError: If ``onnx`` is not installed.
    """
    require_onnx("onnx")
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    decoded: dict[str, Any] = {}
    for prop in proto.metadata_props:
        try:
            decoded[prop.key] = json.loads(prop.value)
        except json.JSONDecodeError:  # written by another tool: keep the raw text
            decoded[prop.key] = prop.value
    return decoded


def _check_opset(opset: int) -> None:
    if isinstance(opset, bool) or not isinstance(opset, int) or opset not in SUPPORTED_OPSETS:
        raise ValueError(
            f"opset must be an int in [{SUPPORTED_OPSETS.start}, {SUPPORTED_OPSETS.stop - 1}], "
            f"got {opset!r}; the default {DEFAULT_OPSET} suits ONNX Runtime >= 1.14."
        )


def _onnx_proto(model: nn.Module, example: torch.Tensor, opset: int, dynamic_batch: bool) -> Any:
    """Export with the ``torch.export``-based exporter and return the optimized ModelProto."""
    dynamic = {"x": {0: torch.export.Dim("batch", min=1)}} if dynamic_batch else None
    with warnings.catch_warnings():
        # The exporter's optimizer emits notices about opset conversion we don't use.
        warnings.simplefilter("ignore", category=UserWarning)
        program = torch.onnx.export(
            model, (example,), None, dynamo=True, opset_version=opset,
            input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
            dynamic_shapes=dynamic, external_data=False, verbose=False,
        )
    return program.model_proto


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    input_size: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Export ``model`` to an ONNX file for ONNX Runtime and other runtimes.

    Example:
        >>> from mobilenet_mnist import mobilenet_v1
        >>> from mobilenet_mnist.deploy.export import export_onnx
        >>> export_onnx(mobilenet_v1(width_mult=0.25), "model.onnx")  # doctest: +SKIP
        PosixPath('model.onnx')

    Args:
        model: The model (any mode; a fused eval-mode copy is exported).
        path: Output file, conventionally ``*.onnx``.
        opset: ONNX opset, in :data:`SUPPORTED_OPSETS`.
        dynamic_batch: Make the batch axis dynamic (named ``"batch"``); otherwise the
            file takes exactly one image per run.
        input_size: Input side in pixels; defaults to ``model.pretrained_cfg``'s.
        metadata: Extra ``metadata_props`` entries (JSON-encoded).

    Returns:
        The path written.

    Raises:
        MissingExtraError: If ``onnx``/``onnxscript`` are missing (install hint included).
        ValueError: For an unsupported opset or input size.
    """
    require_onnx()
    import onnx

    _check_opset(opset)
    path = _output_path(path, "onnx")
    prepared = prepare_for_export(model)
    example = _example_input(prepared, input_size, batch=2 if dynamic_batch else 1)
    proto = _onnx_proto(prepared, example, opset, dynamic_batch)
    meta = export_metadata(model, input_size, dynamic_batch=dynamic_batch, **(metadata or {}))
    onnx.helper.set_model_props(proto, _onnx_props(meta))
    proto.doc_string = f"{meta['model_name']} exported by mobilenet-mnist: input (N, C, H, W) float32 -> logits."
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))
    logger.info("Wrote ONNX model (opset %d) to %s", opset, path)
    return path


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
    """
    path = _output_path(path, "torchscript")
    prepared = model if _is_quantized(model) else prepare_for_export(model)
    logger.warning("TorchScript is deprecated by PyTorch; prefer format='exported-program' or 'onnx'.")
    extra = _extra_file(export_metadata(model, input_size, precision=_precision(model)))
    with warnings.catch_warnings():
        # One "torch.jit.script is deprecated" FutureWarning per submodule otherwise.
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The TorchScript type system", category=UserWarning)
        scripted = torch.jit.script(prepared)
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp), _extra_files=extra)
    logger.info("Wrote TorchScript model to %s", path)
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
    """
    path = _output_path(path, "exported-program")
    prepared = prepare_for_export(model)
    example = _example_input(prepared, input_size, batch=2 if dynamic_batch else 1)
    dynamic = {"x": {0: torch.export.Dim("batch", min=1)}} if dynamic_batch else None
    program = torch.export.export(prepared, (example,), dynamic_shapes=dynamic)
    extra = _extra_file(export_metadata(model, input_size, dynamic_batch=dynamic_batch))
    buffer = io.BytesIO()  # a buffer, so torch.export.save does not insist on a .pt2 name
    torch.export.save(program, buffer, extra_files=extra)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    logger.info("Wrote ExportedProgram to %s", path)
    return path


def _precision(model: nn.Module) -> str:
    return "int8" if _is_quantized(model) else "fp32"


def _is_quantized(model: nn.Module) -> bool:
    return any(
        type(module).__module__.startswith("torch.ao.nn.quantized") for module in model.modules()
    )


# ------------------------------------------------------------------------- dispatcher
def _check_format(fmt: str) -> str:
    from ..models.archs import unknown_name_message

    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ValueError(unknown_name_message("export format", str(fmt), list(FORMATS)))
    return fmt


def default_export_path(model: nn.Module, fmt: str = "onnx", int8: bool = False) -> Path:
    """``<model name>[_int8]<suffix>`` in the current folder, e.g. ``mobilenet_v1_100_int8.onnx``."""
    name = _model_name(model).replace(".", "_")
    return Path(f"{name}{'_int8' if int8 else ''}{FORMATS[_check_format(fmt)]}")


def _export_int8(model: nn.Module, path: Path, fmt: str, calibration_images: torch.Tensor | None,
                 **options: Any) -> Path:
    from . import quantize

    if calibration_images is None:
        raise ValueError(
            "int8 export needs calibration_images: a few hundred training images, e.g. "
            "load_dataset('mnist', 'train', root=DIR).images (CLI: --data-dir DIR)."
        )
    if fmt == "onnx":
        return quantize.quantize_onnx(model, path, calibration_images, **options)
    if fmt == "torchscript":
        options.pop("opset", None)
        qmodel = quantize.quantize_int8(model, calibration_images, **options)
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

    Returns:
        The path written.

    Raises:
        TypeError: If ``model`` is not a module.
        ValueError: For an unknown format, int8 without calibration images or with
            ``exported-program``, or bad options (an ``input_size`` below the model's minimum).
        MissingExtraError: For ONNX without the ``onnx`` extra (install hint included).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"export_model expects a torch.nn.Module, got {type(model).__name__}.")
    fmt = _check_format(format)
    path = _output_path(path if path is not None else default_export_path(model, fmt, int8), fmt)
    if int8:
        if fmt == "onnx" and not dynamic_batch:
            raise ValueError("int8 ONNX export calibrates in batches; keep dynamic_batch=True.")
        return _export_int8(model, path, fmt, calibration_images, input_size=input_size,
                            num_calibration=num_calibration, opset=opset)
    if fmt == "onnx":
        return export_onnx(model, path, opset=opset, dynamic_batch=dynamic_batch, input_size=input_size)
    if fmt == "torchscript":
        return export_torchscript(model, path, input_size=input_size)
    return export_program(model, path, dynamic_batch=dynamic_batch, input_size=input_size)

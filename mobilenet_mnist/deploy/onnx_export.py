"""ONNX export (fp32) and reading back the metadata an exported file carries.

ONNX files are produced by PyTorch's ``torch.export``-based exporter (``dynamo=True``,
the default and only non-deprecated path since PyTorch 2.9; it needs ``onnxscript``),
at opset :data:`DEFAULT_OPSET`, with a dynamic batch axis, the input named ``"input"``,
the output ``"logits"``, and the preprocessing recipe in the file's ``metadata_props``
(read it back with :func:`read_onnx_metadata`). The exporter's own log output is hidden
unless ``verbose=True`` (see :mod:`.quiet`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..utils.checks import check_module, check_path, is_int
from ..utils.files import atomic_path
from .common import (
    ONNX_INPUT_NAME,
    ONNX_OUTPUT_NAME,
    example_input,
    export_metadata,
    onnx_metadata_props,
    output_file,
    prepare_for_export,
    require_onnx,
)
from .quiet import quiet_exporters

__all__ = [
    "DEFAULT_OPSET",
    "SUPPORTED_OPSETS",
    "export_onnx",
    "onnx_model_proto",
    "read_onnx_metadata",
    "save_onnx",
]

logger = logging.getLogger(__name__)

#: ONNX opset written by default: the exporter's native opset (no version conversion),
#: run by ONNX Runtime >= 1.14 and most mobile/edge runtimes.
DEFAULT_OPSET = 18
#: Opsets accepted by :func:`export_onnx`.
SUPPORTED_OPSETS = range(18, 24)


def _check_opset(opset: int) -> None:
    if not is_int(opset) or opset not in SUPPORTED_OPSETS:
        raise ValueError(
            f"opset must be an int in [{SUPPORTED_OPSETS.start}, {SUPPORTED_OPSETS.stop - 1}], "
            f"got {opset!r}; the default {DEFAULT_OPSET} suits ONNX Runtime >= 1.14."
        )


def onnx_model_proto(
    model: nn.Module,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    input_size: int | None = None,
    verbose: bool = False,
    dynamic_spatial: bool = False,
    optimize: bool = True,
) -> Any:
    """The fused fp32 model as an optimized ``onnx.ModelProto`` (no metadata yet).

    Args:
        model: The model (any mode; a fused eval-mode copy is exported).
        opset: ONNX opset, in :data:`SUPPORTED_OPSETS`.
        dynamic_batch: Make the batch axis dynamic (named ``"batch"``).
        input_size: Input side in pixels; defaults to ``model.pretrained_cfg``'s.
        verbose: Show the exporter's own log output.
        dynamic_spatial: Make height and width dynamic too (``"height"``, ``"width"``,
            at least the architecture's smallest side), so one graph takes any side.
        optimize: Run the exporter's own graph optimizer (about 0.4 s); ONNX Runtime
            optimizes the graph again when it loads it, so its backend skips this.

    Raises:
        MissingExtraError: If ``onnx``/``onnxscript`` are missing (install hint included).
        ValueError: For an unsupported opset or input size.
    """
    _check_opset(opset)  # bad arguments first, with or without the extra
    require_onnx()
    prepared = prepare_for_export(model)
    example = example_input(prepared, input_size, batch=2 if dynamic_batch else 1)
    dynamic = _dynamic_shapes(prepared, dynamic_batch, dynamic_spatial)
    with quiet_exporters(verbose):
        program = torch.onnx.export(
            prepared, (example,), None, dynamo=True, opset_version=opset,
            input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
            dynamic_shapes=dynamic, external_data=False, verbose=verbose, optimize=optimize,
        )  # fmt: skip
    if program is None:  # dynamo=True always returns one; None is the legacy exporter's answer
        raise RuntimeError("torch.onnx.export(dynamo=True) returned no ONNX program; update torch (>= 2.5).")
    return program.model_proto


def _dynamic_shapes(model: nn.Module, batch: bool, spatial: bool) -> dict[str, dict[int, Any]] | None:
    """``torch.export`` dynamic dimensions of the input ``x``: batch, and height/width if asked."""
    dims: dict[int, Any] = {0: torch.export.Dim("batch", min=1)} if batch else {}
    if spatial:
        lowest = max(2, int(getattr(getattr(model, "arch", None), "min_input_size", 2)))
        dims.update({2: torch.export.Dim("height", min=lowest), 3: torch.export.Dim("width", min=lowest)})
    return {"x": dims} if dims else None


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    input_size: int | None = None,
    metadata: dict[str, Any] | None = None,
    verbose: bool = False,
) -> Path:
    """Export ``model`` to an ONNX file for ONNX Runtime and other runtimes.

    Example:
        >>> from mobilenet_mnist import mobilenet_v1
        >>> from mobilenet_mnist.deploy.export import export_onnx
        >>> export_onnx(mobilenet_v1(width_mult=0.25), "model.onnx")  # doctest: +SKIP
        PosixPath('model.onnx')

    Args:
        model: The model (any mode; a fused eval-mode copy is exported).
        path: Output file, conventionally ``*.onnx`` (written atomically).
        opset: ONNX opset, in :data:`SUPPORTED_OPSETS`.
        dynamic_batch: Make the batch axis dynamic (named ``"batch"``); otherwise the
            file takes exactly one image per run.
        input_size: Input side in pixels; defaults to ``model.pretrained_cfg``'s.
        metadata: Extra ``metadata_props`` entries (JSON-encoded).
        verbose: Show the exporter's own log output (hidden by default).

    Returns:
        The path written.

    Raises:
        TypeError: If ``model`` is not a module, ``path`` not a path or ``metadata`` not a dict.
        MissingExtraError: If ``onnx``/``onnxscript`` are missing (install hint included).
        ValueError: For an unsupported opset or input size, or a folder as ``path``.
    """
    check_module(model, "export_onnx")
    path = output_file(path, "model.onnx")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(
            "metadata must be a dict of extra metadata_props entries (JSON-serializable values), "
            f"e.g. {{'dataset': 'mnist'}}, got {type(metadata).__name__}."
        )
    proto = onnx_model_proto(
        model, opset=opset, dynamic_batch=dynamic_batch, input_size=input_size, verbose=verbose
    )
    meta = export_metadata(model, input_size, dynamic_batch=dynamic_batch, **(metadata or {}))
    save_onnx(proto, path, meta)
    logger.debug("Wrote ONNX model (opset %d) to %s", opset, path)
    return path


def save_onnx(proto: Any, path: Path, metadata: dict[str, Any]) -> None:
    """Replace ``proto``'s metadata with ``metadata`` and write it to ``path`` atomically."""
    import onnx

    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, onnx_metadata_props(metadata))
    proto.doc_string = (
        f"{metadata['model_name']} exported by mobilenet-mnist: input (N, C, H, W) float32 -> logits."
    )
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata written by :func:`export_onnx`, decoded from JSON.

    Args:
        path: An ONNX file.

    Returns:
        Every ``metadata_props`` entry; values that are not JSON are kept as text.

    Raises:
        TypeError: If ``path`` is not a str or ``os.PathLike``.
        MissingExtraError: If ``onnx`` is not installed.
        FileNotFoundError: If ``path`` does not exist.
        IsADirectoryError: If ``path`` is a folder.
        ValueError: If the file is not an ONNX model.
    """
    path = check_path("path", path)
    require_onnx("onnx")
    import onnx
    from google.protobuf.message import DecodeError

    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder; read_onnx_metadata reads one .onnx file, e.g. {path / 'model.onnx'}."
        )
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file {path} does not exist; pass a file written by export_onnx or export_model.")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except DecodeError as error:
        raise ValueError(
            f"{path} is not an ONNX model ({error}); pass a .onnx file written by export_onnx or export_model."
        ) from error
    decoded: dict[str, Any] = {}
    for prop in proto.metadata_props:
        try:
            decoded[prop.key] = json.loads(prop.value)
        except json.JSONDecodeError:  # written by another tool: keep the raw text
            decoded[prop.key] = prop.value
    return decoded

"""Deployment: fast inference, export formats (ONNX, TorchScript, ExportedProgram), int8, speed.

Modules, lowest first (each imports only those above it): :mod:`.optimize` (the fast
inference path), :mod:`.quiet` (hides exporter chatter), :mod:`.common` (what exporters
share: prepared model, input shape, metadata, the ONNX extra check), :mod:`.onnx_export`,
:mod:`.quantize` (int8), :mod:`.export` (every format, :func:`export_model`), and
:mod:`.speed` with :mod:`.speed_report` (``mobilenet-mnist benchmark``).
"""

from .common import MissingExtraError
from .export import export_model, export_program, export_torchscript
from .onnx_export import export_onnx, read_onnx_metadata
from .optimize import InferenceWrapper, fuse_conv_bn, optimize_for_inference
from .quantize import quantize_int8, quantize_onnx

__all__ = [
    "InferenceWrapper",
    "MissingExtraError",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "fuse_conv_bn",
    "optimize_for_inference",
    "quantize_int8",
    "quantize_onnx",
    "read_onnx_metadata",
]

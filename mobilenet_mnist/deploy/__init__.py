"""Deployment: fast inference, export formats (ONNX, TorchScript, ExportedProgram), int8."""

from .export import MissingExtraError, export_model, export_onnx, export_program, export_torchscript, read_onnx_metadata
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

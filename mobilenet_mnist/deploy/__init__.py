"""Deployment: fast inference backends, export formats (ONNX, TorchScript, ExportedProgram), int8, speed.

Modules, lowest first (each imports only those above it, :mod:`.optimize` the ONNX Runtime
backend only inside its function): :mod:`.quiet` (hides exporter chatter), :mod:`~mobilenet_mnist.deploy.common`
(what exporters share: prepared model, input shape, metadata, the ONNX extra check),
:mod:`.packed_conv` (one prepacked oneDNN conv+ReLU per layer), :mod:`.onednn_graph` (the
whole network as one frozen oneDNN graph), :mod:`.torch_backend` (BatchNorm folding,
channels_last, both of those), :mod:`.onnx_export`, :mod:`.quantize` (int8),
:mod:`.ort_shards` (large batches split across single-threaded sessions),
:mod:`.ort_backend` (ONNX Runtime behind a torch module), :mod:`.optimize`
(:func:`optimize_for_inference`, which picks the backend), :mod:`~mobilenet_mnist.deploy.export`
(every format, :func:`export_model`), :mod:`.speed` with :mod:`.speed_report`
(``mobilenet-mnist benchmark``), :mod:`~mobilenet_mnist.deploy.stability` (the turned-copies
check) and :mod:`~mobilenet_mnist.deploy.predictor` (:func:`predict`).
"""

from .common import MissingExtraError
from .export import export_model, export_program, export_torchscript
from .onnx_export import export_onnx, read_onnx_metadata
from .optimize import (
    BACKENDS,
    InferenceWrapper,
    backend_of,
    default_backend,
    fuse_conv_bn,
    optimize_for_inference,
)
from .ort_backend import OnnxRuntimeModule
from .predictor import DigitPrediction, Predictor, predict
from .quantize import quantize_int8, quantize_onnx

__all__ = [
    "BACKENDS",
    "DigitPrediction",
    "InferenceWrapper",
    "MissingExtraError",
    "OnnxRuntimeModule",
    "Predictor",
    "backend_of",
    "default_backend",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "fuse_conv_bn",
    "optimize_for_inference",
    "predict",
    "quantize_int8",
    "quantize_onnx",
    "read_onnx_metadata",
]

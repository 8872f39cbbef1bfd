"""int8 post-training static quantization, calibrated on training images.

Two quantizers, one per runtime:

* :func:`quantize_onnx` (recommended) exports the model to ONNX and quantizes it with
  ONNX Runtime's static quantizer: QDQ format, int8 symmetric per-channel weights kept
  within 7 bits (so AVX2 CPUs without VNNI cannot saturate), uint8 per-tensor
  activations, min/max calibration. The file runs in ONNX Runtime and in any
  runtime that reads QDQ graphs (ORT mobile, TensorRT, OpenVINO). This is what
  ``mobilenet-mnist export NAME --format onnx --int8`` writes.
* :func:`quantize_int8` quantizes the PyTorch model itself with FX graph mode
  (``torch.ao.quantization``, ``"x86"`` engine: fbgemm/oneDNN kernels, 7-bit activations
  so the AVX2 ``vpmaddubsw`` path cannot saturate on CPUs without VNNI). It returns a
  ``torch.fx.GraphModule`` that runs in PyTorch and can be saved as TorchScript
  (``--format torchscript --int8``). PyTorch has deprecated ``torch.ao.quantization`` in
  favour of the separate ``torchao`` package; it still works in PyTorch 2.14, but prefer
  the ONNX path for deployment.

Both take the calibration images as uint8 digits (N, H, W) / (N, C, H, W), or as
already normalized float model inputs (N, C, S, S), and use a fixed random subset of
``DEFAULT_NUM_CALIBRATION`` of them. The deployment page of the docs has the measured
accuracy, size and speed of both.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.mobilenet import MNIST_MEAN, MNIST_STD
from ..utils.checks import check_number
from .common import ONNX_INPUT_NAME, export_metadata, input_shape, output_file, require_onnx
from .onnx_export import DEFAULT_OPSET, onnx_model_proto, save_onnx
from .quiet import PROCESS_SETTINGS_LOCK, quiet_exporters

__all__ = [
    "DEFAULT_NUM_CALIBRATION",
    "QUANT_ENGINES",
    "calibration_inputs",
    "quantize_int8",
    "quantize_onnx",
    "sample_calibration_images",
]

logger = logging.getLogger(__name__)

#: PyTorch quantized engines :func:`quantize_int8` accepts.
QUANT_ENGINES = ("x86", "fbgemm", "onednn", "qnnpack")
#: Training images that calibrate int8 models by default (a fixed random subset).
DEFAULT_NUM_CALIBRATION = 1024
_CALIBRATION_BATCH = 128


# ------------------------------------------------------------------------ calibration data
def sample_calibration_images(
    images: torch.Tensor, num: int = DEFAULT_NUM_CALIBRATION, seed: int = 0
) -> torch.Tensor:
    """A fixed random subset of ``num`` images (all of them if there are fewer).

    Args:
        images: Training images, e.g. ``load_dataset("mnist", "train").images``.
        num: How many to keep.
        seed: Seed of the subset, so the same call always calibrates the same way.
    """
    check_number("num", num, 1, integer=True)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"calibration images must be a torch.Tensor, got {type(images).__name__}.")
    if len(images) <= num:
        return images
    generator = torch.Generator().manual_seed(seed)
    return images[torch.randperm(len(images), generator=generator)[:num]]


def calibration_inputs(model: nn.Module, images: torch.Tensor, input_size: int | None = None) -> torch.Tensor:
    """Calibration images as the model's float input (N, C, S, S).

    uint8 images are resized and normalized with the model's ``pretrained_cfg`` (as
    :func:`mobilenet_mnist.preprocess` does); float 4-D images are taken as already
    normalized model inputs.

    Raises:
        TypeError: If ``images`` is not a tensor, or neither uint8 nor float.
        ValueError: For an empty batch, float images that are not 4-D or hold NaN/inf, or
            a shape that does not match the model's input.
    """
    from ..data.transforms import preprocess

    if not isinstance(images, torch.Tensor):
        raise TypeError(f"calibration images must be a torch.Tensor, got {type(images).__name__}.")
    if images.numel() == 0 or len(images) == 0:
        raise ValueError("calibration images are empty; pass a few hundred training images.")
    in_chans, side, _ = input_shape(model, input_size)
    if images.dtype == torch.uint8:
        cfg = getattr(model, "pretrained_cfg", None) or {}
        mean, std = cfg.get("mean", (MNIST_MEAN,) * in_chans), cfg.get("std", (MNIST_STD,) * in_chans)
        return preprocess(images, input_size=side, mean=mean, std=std, in_chans=in_chans)
    if images.dim() != 4 or images.shape[1] != in_chans:
        raise ValueError(
            f"float calibration images must be normalized model inputs of shape (N, {in_chans}, "
            f"H, W), got {tuple(images.shape)}; pass uint8 digits (N, H, W) to preprocess them."
        )
    if not images.is_floating_point():
        raise TypeError(f"calibration images must be uint8 digits or float inputs, got dtype {images.dtype}.")
    if not bool(torch.isfinite(images).all()):
        raise ValueError("calibration images contain NaN or infinite values; they would give meaningless ranges.")
    return images.float()


def _batches(inputs: torch.Tensor) -> Iterator[torch.Tensor]:
    for start in range(0, len(inputs), _CALIBRATION_BATCH):
        yield inputs[start: start + _CALIBRATION_BATCH]


# ------------------------------------------------------------------------------ PyTorch FX
class _Traceable(nn.Module):
    """The model's forward without its input checks, which FX symbolic tracing cannot run."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    # No annotations: under `from __future__ import annotations` they are strings, which
    # FX copies into the generated code as names TorchScript cannot resolve.
    def forward(self, x):
        """Stem, stages and head of the wrapped MobileNetV1 (``Tensor -> Tensor``)."""
        model = self.model
        x = model.stages(model.stem(x))
        # Pool with adaptive_avg_pool2d: quantized mean(dim=(2, 3)) fails on NHWC tensors.
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return model.classifier(model.head_drop(x))


def _check_average_pool(model: nn.Module) -> None:
    """Refuse a head the int8 graph would compute differently (it always average-pools)."""
    pool = getattr(getattr(model, "global_pool", None), "pool_type", "avg")
    if pool != "avg":
        raise ValueError(
            f"quantize_int8 supports the average-pooling head only, got global_pool={pool!r}; "
            "build the model with global_pool='avg' (the default) to quantize it."
        )


@contextlib.contextmanager
def _quantized_engine(engine: str) -> Iterator[None]:
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def _check_engine(engine: str) -> None:
    supported = torch.backends.quantized.supported_engines
    if engine not in QUANT_ENGINES or engine not in supported:
        valid = [e for e in QUANT_ENGINES if e in supported]
        raise ValueError(f"engine must be one of {valid} (this PyTorch build), got {engine!r}.")


@torch.inference_mode(False)
def quantize_int8(
    model: nn.Module,
    calibration_images: torch.Tensor,
    *,
    engine: str = "x86",
    num_calibration: int = DEFAULT_NUM_CALIBRATION,
    input_size: int | None = None,
) -> nn.Module:
    """int8 post-training static quantization of a MobileNetV1 with PyTorch (FX graph mode).

    Conv+BN+ReLU are fused, weights quantized per output channel (int8, symmetric) and
    activations per tensor (uint8, histogram-calibrated on ``calibration_images``).

    Example:
        >>> from mobilenet_mnist import load_dataset, mobilenet_v1
        >>> model = mobilenet_v1(pretrained=True)  # doctest: +SKIP
        >>> train = load_dataset("mnist", "train", root="data")  # doctest: +SKIP
        >>> qmodel = quantize_int8(model, train.images)  # doctest: +SKIP

    Args:
        model: A float MobileNetV1 (left unchanged).
        calibration_images: Training images: uint8 (N, H, W) digits, or normalized float
            model inputs (N, C, S, S); a random ``num_calibration`` of them are used.
        engine: PyTorch quantized engine whose kernels the model is packed for:
            ``"x86"`` (default; 7-bit activations, safe without VNNI) or ``"onednn"``
            (8-bit, faster, may lose accuracy on CPUs without VNNI).
        num_calibration: How many images calibrate the activation ranges.
        input_size: Input side; defaults to the model's ``pretrained_cfg``.

    Returns:
        The quantized model (a ``torch.fx.GraphModule``, eval mode) taking float input and
        returning float logits; it carries the float model's ``pretrained_cfg``.

    Raises:
        TypeError: If ``model`` is not a :class:`~mobilenet_mnist.MobileNetV1`, or the
            calibration images are not a tensor.
        ValueError: For an unknown engine, bad calibration images or ``num_calibration``, or
            a model whose head does not average-pool (``global_pool`` other than ``"avg"``).
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from ..models import MobileNetV1

    if not isinstance(model, MobileNetV1):
        raise TypeError(
            f"quantize_int8 expects a float MobileNetV1 (e.g. from create_model), got {type(model).__name__}."
        )
    check_number("num_calibration", num_calibration, 1, integer=True)
    _check_engine(engine)
    _check_average_pool(model)
    sample = sample_calibration_images(calibration_images, num_calibration)
    inputs = calibration_inputs(model, sample, input_size)
    float_model = _Traceable(copy.deepcopy(model).eval())
    with PROCESS_SETTINGS_LOCK, _quantized_engine(engine), warnings.catch_warnings():  # process-wide settings
        # Per-engine notices (oneDNN on CPUs without VNNI) and torch.ao's deprecation
        # notice are covered by the docstring.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        prepared = prepare_fx(float_model, get_default_qconfig_mapping(engine), (inputs[:2],))
        with torch.no_grad():
            for batch in _batches(inputs):
                prepared(batch)
        quantized = convert_fx(prepared)
    quantized.pretrained_cfg = dict(getattr(model, "pretrained_cfg", {}) or {})  # type: ignore[assignment]
    logger.info("Quantized to int8 with engine %s on %d images.", engine, len(inputs))
    return quantized.eval()


# -------------------------------------------------------------------------- ONNX Runtime
def _calibration_reader(inputs: torch.Tensor) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(_batches(inputs))

        def get_next(self) -> dict[str, Any] | None:
            batch = next(self._batches, None)
            return None if batch is None else {ONNX_INPUT_NAME: batch.numpy()}

    return _Reader()


def _ort_quantize(fp32_proto: Any, target: Path, inputs: torch.Tensor, reduce_range: bool) -> None:
    """ORT shape inference + graph optimization, then static QDQ quantization, into ``target``."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quant_pre_process, quantize_static

    with tempfile.TemporaryDirectory() as folder:
        fp32, pre = Path(folder) / "fp32.onnx", Path(folder) / "preprocessed.onnx"
        onnx.save_model(fp32_proto, str(fp32))
        quant_pre_process(str(fp32), str(pre))
        quantize_static(
            str(pre), str(target), _calibration_reader(inputs),
            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=reduce_range,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )  # fmt: skip


def _quantization_note(num_images: int, reduce_range: bool) -> str:
    bits = "7-bit" if reduce_range else "8-bit"
    return (
        f"onnxruntime static QDQ: int8 per-channel symmetric weights ({bits}), uint8 per-tensor "
        f"activations, min/max calibration on {num_images} training images"
    )


def quantize_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    calibration_images: torch.Tensor,
    *,
    num_calibration: int = DEFAULT_NUM_CALIBRATION,
    reduce_range: bool = True,
    opset: int | None = None,
    input_size: int | None = None,
    verbose: bool = False,
) -> Path:
    """Export ``model`` to ONNX and quantize it to int8 with ONNX Runtime (QDQ, per-channel).

    Weights become int8 (symmetric, per output channel), activations uint8 (per tensor,
    min/max over ``calibration_images``); the batch axis stays dynamic and the file keeps
    the preprocessing metadata of :func:`mobilenet_mnist.deploy.export.export_onnx`, with
    ``precision`` ``"int8"`` and ``quantization`` describing the scheme.

    ``reduce_range`` keeps weights within 7 bits (±63). On x86 CPUs without VNNI
    (AVX2 only) ONNX Runtime multiplies uint8 activations by int8 weights with
    ``vpmaddubsw``, whose int16 pair sums saturate with full 8-bit weights; measured on
    the α=0.75 checkpoint that costs 0.6 point of test accuracy, while 7-bit weights lose
    0.04 point at the same speed. Pass ``False`` only for runtimes known to have VNNI
    or ARM dot-product kernels.

    Args:
        model: A float MobileNetV1 (left unchanged).
        path: Output ``.onnx`` file (written atomically).
        calibration_images: Training images (uint8 digits or normalized float inputs).
        num_calibration: How many of them calibrate the activation ranges.
        reduce_range: Quantize weights to 7 bits (see above).
        opset: ONNX opset of the float export (default
            :data:`~mobilenet_mnist.deploy.onnx_export.DEFAULT_OPSET`).
        input_size: Input side; defaults to the model's ``pretrained_cfg``.
        verbose: Show the exporter's and quantizer's own log output (hidden by default).

    Returns:
        The path written.

    Raises:
        MissingExtraError: If onnx/onnxruntime/onnxscript are missing (install hint).
        ValueError: For bad calibration images (see :func:`calibration_inputs`) or a
            folder as ``path``.
    """
    # Bad arguments first: they are refused the same way whether or not the extra is installed.
    path = output_file(path, "model_int8.onnx")
    check_number("num_calibration", num_calibration, 1, integer=True)
    inputs = calibration_inputs(model, sample_calibration_images(calibration_images, num_calibration), input_size)
    require_onnx("onnx", "onnxscript", "onnxruntime")
    import onnx

    proto = onnx_model_proto(model, opset=opset or DEFAULT_OPSET, input_size=input_size, verbose=verbose)
    with tempfile.TemporaryDirectory() as folder:
        int8 = Path(folder) / "int8.onnx"
        with quiet_exporters(verbose):
            _ort_quantize(proto, int8, inputs, reduce_range)
        quantized = onnx.load(str(int8))
    meta = export_metadata(
        model, input_size, dynamic_batch=True, precision="int8",
        quantization=_quantization_note(len(inputs), reduce_range),
    )  # fmt: skip
    save_onnx(quantized, path, meta)
    logger.debug("Wrote int8 ONNX model to %s", path)
    return path

"""The ONNX Runtime inference backend: the model exported to ONNX, called like a torch module.

:func:`onnxruntime_model` exports the model (BatchNorm folded, fp32, dynamic batch and
input side) or its calibrated int8 version (:func:`~.quantize.quantize_onnx`) to ONNX in
memory and wraps an ONNX Runtime CPU session in an :class:`OnnxRuntimeModule`: a
:class:`torch.nn.Module` that takes and returns torch tensors, so code written for the
PyTorch model (``model(x)``, ``model.eval()``, ``model.pretrained_cfg``) keeps working.

Sessions use ONNX Runtime's full graph optimizations (constant folding, conv+activation
fusion, NCHWc layouts), one inter-op thread and sequential execution. Small batches run on
one session with intra-op threads = ``torch.get_num_threads()`` (lowest latency); batches
of :data:`~.ort_shards.MIN_SHARDED_BATCH` images or more are split across the threads,
each slice on its own single-threaded session in cache-sized chunks
(:class:`~.ort_shards.ShardedRunner`; faster at large batches). ONNX Runtime sessions may
be run from several threads at once, so one :class:`OnnxRuntimeModule` can serve a thread
pool. ``onnxruntime`` is imported only here, inside functions.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.input_checks import nonfinite_input_message
from ..utils.checks import check_module, check_number
from .common import ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, MissingExtraError, input_shape, require_onnx
from .onnx_export import onnx_model_proto
from .ort_shards import ShardedRunner
from .quantize import DEFAULT_NUM_CALIBRATION, quantize_onnx

__all__ = ["ONNX_PACKAGES", "OnnxRuntimeModule", "onnxruntime_available", "onnxruntime_model", "session_options"]

logger = logging.getLogger(__name__)

#: The packages of the ``onnx`` extra that the ONNX Runtime backend needs.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


def onnxruntime_available() -> bool:
    """Whether the packages of the ``onnx`` extra (:data:`ONNX_PACKAGES`) can be imported."""
    try:
        require_onnx(*ONNX_PACKAGES)
    except MissingExtraError:
        return False
    return True


def session_options(num_threads: int | None = None) -> Any:
    """ONNX Runtime ``SessionOptions`` for low-latency CPU inference.

    Args:
        num_threads: Intra-op threads; default ``torch.get_num_threads()``, so both
            backends use the same cores.

    Returns:
        ``onnxruntime.SessionOptions`` with full graph optimization, sequential execution,
        one inter-op thread and only warnings and errors logged.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no "initializer ... appears in graph inputs" notes
    return options


class OnnxRuntimeModule(nn.Module):
    """An ONNX model run by ONNX Runtime's CPU provider, with a torch module's interface.

    Build one with :func:`onnxruntime_model` (or ``optimize_for_inference(model,
    backend="onnxruntime")``). Calling it takes a float tensor (N, C, H, W) and returns
    float32 logits (N, num_classes) as a torch tensor on the CPU; any batch size works.
    It holds no trainable parameters, only one zero-size parameter so that code finding a
    model's device with ``next(model.parameters())`` works. It can be pickled and
    deep-copied (the session is rebuilt from the ONNX bytes).

    Args:
        onnx_bytes: The serialized ONNX model (input ``"input"``, output ``"logits"``).
        source: The PyTorch model it was exported from: ``pretrained_cfg``,
            ``num_classes``, ``in_chans`` and the smallest input side are copied from it.
        precision: ``"fp32"`` or ``"int8"``, recorded in :attr:`precision`.
        input_side: The side the graph was built for, or ``None`` if it takes any side.
        num_threads: Intra-op threads (default ``torch.get_num_threads()``).

    Attributes:
        backend: ``"onnxruntime"``.
        precision: ``"fp32"`` or ``"int8"``.
        session: The ``onnxruntime.InferenceSession``.

    Raises:
        TypeError: If ``onnx_bytes`` is not bytes or ``source`` not a module.
        ValueError: If ``onnx_bytes`` is no ONNX model of this package (input ``"input"``,
            output ``"logits"``), or ``precision``, ``input_side`` or ``num_threads`` is invalid.
        MissingExtraError: If ``onnxruntime`` is not installed.
    """

    backend = "onnxruntime"

    def __init__(self, onnx_bytes: bytes, source: nn.Module, *, precision: str = "fp32",
                 input_side: int | None = None, num_threads: int | None = None) -> None:
        super().__init__()
        _check_module_args(onnx_bytes, source, precision, input_side, num_threads)
        self.pretrained_cfg: dict[str, Any] = dict(getattr(source, "pretrained_cfg", None) or {})
        self.in_chans, side, _ = input_shape(source)
        self.input_size = input_side or side
        self.num_classes = int(getattr(source, "num_classes", self.pretrained_cfg.get("num_classes") or 0))
        arch = getattr(source, "arch", None)
        self.min_input_size = int(getattr(arch, "min_input_size", 1))
        self.precision = precision
        self.input_side = input_side
        self.num_threads = num_threads or torch.get_num_threads()
        self.device_anchor = nn.Parameter(torch.empty(0), requires_grad=False)
        self._onnx_bytes = onnx_bytes
        self.session = self._new_session(self.num_threads)
        self._shards = self._new_shards()
        self.eval()

    def _new_shards(self) -> ShardedRunner:
        return ShardedRunner(self._new_session, self.num_threads, ONNX_OUTPUT_NAME, ONNX_INPUT_NAME)

    def _new_session(self, num_threads: int) -> Any:
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidGraph, InvalidProtobuf

        try:
            session = ort.InferenceSession(
                self._onnx_bytes, session_options(num_threads), providers=["CPUExecutionProvider"]
            )
        except (InvalidProtobuf, InvalidGraph) as error:
            raise ValueError(f"onnx_bytes is not a valid ONNX model ({error}). {_BUILD_HINT}") from error
        names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        if names != ([ONNX_INPUT_NAME], [ONNX_OUTPUT_NAME]):
            raise ValueError(
                f"This ONNX model has inputs {names[0]} and outputs {names[1]}; OnnxRuntimeModule runs models "
                f"exported by this package (input {ONNX_INPUT_NAME!r}, output {ONNX_OUTPUT_NAME!r}). {_BUILD_HINT}"
            )
        return session

    @property
    def onnx_bytes(self) -> bytes:
        """The serialized ONNX model the session runs (write it to a ``.onnx`` file to keep it)."""
        return self._onnx_bytes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes), float32 on the CPU, for a float input (N, C, H, W)."""
        self._check_input(x)
        array = _float32_array(x)
        _check_finite(array)
        if self._shards.wants(len(array)):
            return torch.from_numpy(self._shards.run(array))
        (logits,) = self.session.run([ONNX_OUTPUT_NAME], {ONNX_INPUT_NAME: array})
        return torch.from_numpy(logits)

    def _check_input(self, x: object) -> None:
        """The plain model's input checks, with messages that say how to fix the input."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"OnnxRuntimeModule expects a torch.Tensor, got {type(x).__name__}.")
        side = f"H = W = {self.input_side}" if self.input_side else f"H, W >= {self.min_input_size}"
        expected = f"(N, {self.in_chans}, H, W) with {side}"
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"Expected an input of shape {expected}, got shape {tuple(x.shape)}. "
                             "Add a batch axis with x.unsqueeze(0) for a single image.")
        if self.input_side and tuple(x.shape[2:]) != (self.input_side, self.input_side):
            raise ValueError(f"This {self.precision} ONNX Runtime model was built for {self.input_side}px inputs, "
                             f"got {tuple(x.shape[2:])}. Resize the images, or build it with "
                             "input_size=SIDE (or use backend='torch', which takes any side).")
        if min(x.shape[2:]) < self.min_input_size:
            raise ValueError(f"Input side {tuple(x.shape[2:])} is too small for the strides: expected {expected}.")
        if not x.is_floating_point():
            raise TypeError(f"Expected a floating-point input, got dtype {x.dtype}. Normalise images "
                            "first, e.g. with mobilenet_mnist.preprocess.")

    def __getstate__(self) -> dict[str, Any]:
        """The module's state without the sessions, which cannot be pickled (rebuilt on load)."""
        state = self.__dict__.copy()
        state.pop("session", None)
        state.pop("_shards", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the state and rebuild the session from the ONNX bytes."""
        super().__setstate__(state)
        self.session = self._new_session(self.num_threads)
        self._shards = self._new_shards()

    def extra_repr(self) -> str:
        """Precision, input, threads: what ``print(model)`` shows."""
        side = self.input_side or f">={self.min_input_size}"
        return (f"precision={self.precision!r}, input=(N, {self.in_chans}, {side}, {side}), "
                f"num_classes={self.num_classes}, threads={self.num_threads}")


def _float32_array(x: torch.Tensor) -> np.ndarray:
    """``x`` as a C-contiguous float32 NumPy array on the CPU (no copy when it already is one).

    Converted by NumPy, not torch: a multi-threaded torch op just before ONNX Runtime runs
    leaves torch's OpenMP threads spinning on the cores ONNX Runtime needs (measured: 6 %
    fewer images/s at batch 256).
    """
    x = x.detach().cpu()
    if x.dtype not in (torch.float32, torch.float64, torch.float16):
        x = x.float()  # e.g. bfloat16, which NumPy has no type for
    return np.ascontiguousarray(x.numpy(), dtype=np.float32)


def _check_finite(array: np.ndarray) -> None:
    """Refuse NaN or infinite values, as the model does, but in NumPy (see :func:`_float32_array`).

    One sum first (finite iff every value is, barring overflow), else the exact test.
    """
    if np.isfinite(array.sum()) or np.isfinite(array).all():
        return
    raise ValueError(nonfinite_input_message(int(np.isnan(array).sum()), int(np.isinf(array).sum()), array.size))


_BUILD_HINT = (
    "Pass the bytes of a file written by export_onnx (Path('model.onnx').read_bytes()), or build the "
    "module with optimize_for_inference(model, backend='onnxruntime')."
)


def _check_module_args(
    onnx_bytes: object, source: object, precision: object, input_side: object, num_threads: object
) -> None:
    """Refuse bad :class:`OnnxRuntimeModule` arguments before a session is built."""
    if not isinstance(onnx_bytes, (bytes, bytearray)):
        raise TypeError(
            f"onnx_bytes must be a serialized ONNX model (bytes), got {type(onnx_bytes).__name__}. {_BUILD_HINT}"
        )
    check_module(source, "OnnxRuntimeModule")
    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}.")
    if input_side is not None:  # at least the smallest side the strides take
        lowest = getattr(getattr(source, "arch", None), "min_input_size", 1)
        check_number("input_side", input_side, lowest, integer=True)
    if num_threads is not None:
        check_number("num_threads", num_threads, 1, integer=True)
    require_onnx("onnxruntime")


def _fp32_bytes(model: nn.Module, verbose: bool) -> bytes:
    proto = onnx_model_proto(model, dynamic_batch=True, dynamic_spatial=True, optimize=False, verbose=verbose)
    return proto.SerializeToString()


def _int8_bytes(model: nn.Module, calibration_images: torch.Tensor, num_calibration: int,
                input_size: int | None, verbose: bool) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = quantize_onnx(model, Path(folder) / "int8.onnx", calibration_images, num_calibration=num_calibration,
                             input_size=input_size, verbose=verbose)  # fmt: skip
        return path.read_bytes()


def onnxruntime_model(
    model: nn.Module,
    *,
    int8: bool = False,
    calibration_images: torch.Tensor | None = None,
    num_calibration: int = DEFAULT_NUM_CALIBRATION,
    input_size: int | None = None,
    num_threads: int | None = None,
    verbose: bool = False,
) -> OnnxRuntimeModule:
    """``model`` exported to ONNX (fp32 or calibrated int8) and run by ONNX Runtime.

    fp32: BatchNorm folded, any batch and any input side (dynamic axes); logits within
    1e-4 of the plain model's. int8: the static QDQ quantization of
    :func:`~.quantize.quantize_onnx` (int8 per-channel weights, uint8 activations
    calibrated on ``calibration_images``), any batch, one input side (the model's, or
    ``input_size``).

    Args:
        model: A float MobileNetV1 (left unchanged).
        int8: Quantize to int8.
        calibration_images: Training images for int8 (uint8 digits or normalized inputs).
        num_calibration: How many of them calibrate the activation ranges.
        input_size: int8 only: the input side of the quantized graph.
        num_threads: Intra-op threads (default ``torch.get_num_threads()``).
        verbose: Show the exporter's and quantizer's own log output.

    Returns:
        The :class:`OnnxRuntimeModule`, in eval mode.

    Raises:
        MissingExtraError: If onnx, onnxscript or onnxruntime is missing (install hint).
        ValueError: For int8 without calibration images, or bad calibration images.
    """
    check_module(model, "optimize_for_inference")
    if num_threads is not None:
        check_number("num_threads", num_threads, 1, integer=True)
    if int8 and calibration_images is None:
        raise ValueError(
            "int8=True needs calibration_images: a few hundred training images (uint8 digits), e.g. "
            "load_dataset('mnist', 'train', root=DIR).images; they set the activation ranges."
        )
    require_onnx(*ONNX_PACKAGES)
    if int8 and calibration_images is not None:  # (int8 without images was refused above)
        data = _int8_bytes(model, calibration_images, num_calibration, input_size, verbose)
        side = input_shape(model, input_size)[1]
    else:
        data, side = _fp32_bytes(model, verbose), None
    logger.debug("ONNX Runtime %s model ready (%d bytes).", "int8" if int8 else "fp32", len(data))
    return OnnxRuntimeModule(data, model, precision="int8" if int8 else "fp32", input_side=side,
                             num_threads=num_threads)

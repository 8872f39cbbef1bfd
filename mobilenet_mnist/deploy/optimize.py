"""The fast inference path: one call that picks a backend and prepares the model for it.

:func:`optimize_for_inference` returns a module that takes and returns torch tensors and
gives the plain model's answers (fp32 logits within 1e-4), at any batch size:

* ``backend="onnxruntime"``: the model exported to ONNX and run by ONNX Runtime
  (:mod:`.ort_backend`); the fastest path on CPUs, at large batches and at batch 1;
* ``backend="torch"``: the model kept in PyTorch, BatchNorm folded, channels_last, its
  inference run as one frozen oneDNN graph per input shape (:mod:`.torch_backend`); still
  a :class:`~mobilenet_mnist.MobileNetV1` (``forward_intermediates`` and friends work);
* ``backend="auto"`` (default): ONNX Runtime when the ``onnx`` extra is installed,
  PyTorch otherwise, or PyTorch when a PyTorch-only option (``compile``, ``dtype``,
  ``fuse=False``, ``channels_last=False``) is asked for.

``int8=True`` uses the calibrated int8 quantization of :mod:`.quantize` on either backend.
The speed of each path is measured by ``mobilenet-mnist benchmark`` (see the docs' speed
page), never asserted in tests. This module also re-exports the PyTorch backend's building
blocks (:func:`fuse_conv_bn`, :func:`is_fused`, :func:`bf16_supported`,
:class:`InferenceWrapper`) under their historical import path.

Example:
    >>> import torch
    >>> from mobilenet_mnist import mobilenet_v1
    >>> from mobilenet_mnist.deploy.optimize import optimize_for_inference
    >>> fast = optimize_for_inference(mobilenet_v1(width_mult=0.25), backend="torch")
    >>> with torch.inference_mode():
    ...     fast(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from ..utils.checks import check_module, check_number
from ..utils.names import unknown_name_message
from .common import INSTALL_HINT
from .quantize import DEFAULT_NUM_CALIBRATION
from .torch_backend import InferenceWrapper, bf16_supported, fuse_conv_bn, is_fused, optimize_torch

__all__ = [
    "BACKENDS",
    "InferenceWrapper",
    "backend_of",
    "bf16_supported",
    "default_backend",
    "fuse_conv_bn",
    "is_fused",
    "optimize_for_inference",
]

logger = logging.getLogger(__name__)

#: Values of ``optimize_for_inference(backend=...)``.
BACKENDS = ("auto", "torch", "onnxruntime")


def default_backend() -> str:
    """What ``backend="auto"`` picks here: ``"onnxruntime"`` when the ``onnx`` extra imports, else ``"torch"``."""
    from .ort_backend import onnxruntime_available

    return "onnxruntime" if onnxruntime_available() else "torch"


def backend_of(module: nn.Module) -> str:
    """The backend an :func:`optimize_for_inference` result runs on: ``"onnxruntime"`` or ``"torch"``.

    Raises:
        TypeError: If ``module`` is not a :class:`torch.nn.Module`.
    """
    check_module(module, "backend_of")
    return str(getattr(module, "backend", "torch"))


def check_backend(backend: object) -> str:
    """``backend`` if it names a backend of :data:`BACKENDS`.

    Raises:
        TypeError: If ``backend`` is not a str.
        ValueError: If it is no backend; the message lists the valid ones.
    """
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str, one of {', '.join(map(repr, BACKENDS))}; got {backend!r}.")
    if backend not in BACKENDS:
        raise ValueError(unknown_name_message("backend", backend, BACKENDS))
    return backend


def _torch_only(fuse: bool, channels_last: bool, compile: bool, dtype: Any) -> list[str]:
    """The PyTorch-only options given a non-default value, as ``name=value`` texts."""
    asked = {"fuse": fuse is not True, "channels_last": channels_last is not True, "compile": compile is not False,
             "dtype": dtype is not None and dtype != torch.float32}  # fmt: skip
    values = {"fuse": fuse, "channels_last": channels_last, "compile": compile, "dtype": dtype}
    return [f"{name}={values[name]!r}" for name, given in asked.items() if given]


def _check_int8_options(int8: bool, calibration_images: Any, input_size: int | None) -> None:
    if not isinstance(int8, bool):
        raise TypeError(f"int8 must be True or False, got {int8!r}.")
    if not int8 and calibration_images is not None:
        raise ValueError("calibration_images calibrate int8 models; pass int8=True with them, or drop them.")
    if not int8 and input_size is not None:
        raise ValueError("input_size sets the side of int8 models (int8=True); fp32 models take any side.")
    if int8 and calibration_images is None:
        raise ValueError(
            "int8=True needs calibration_images: a few hundred training images (uint8 digits), e.g. "
            "load_dataset('mnist', 'train', root=DIR).images; they set the activation ranges."
        )


def _resolve(backend: str, torch_only: list[str]) -> str:
    """The concrete backend for ``backend``; refuses PyTorch-only options on ONNX Runtime."""
    if backend == "onnxruntime" and torch_only:
        raise ValueError(
            f"{', '.join(torch_only)}: PyTorch-only option(s), not used by backend='onnxruntime' (ONNX Runtime "
            "folds BatchNorm, picks layouts and fuses ops itself). Drop them, or use backend='torch'."
        )
    if backend != "auto":
        return backend
    if torch_only:
        logger.debug("backend='auto' with %s: using the PyTorch backend.", ", ".join(torch_only))
        return "torch"
    chosen = default_backend()
    if chosen == "torch":
        logger.info("ONNX Runtime is not installed: using the PyTorch backend (faster: %s).", INSTALL_HINT)
    return chosen


def optimize_for_inference(
    model: nn.Module,
    *,
    backend: str = "auto",
    int8: bool = False,
    calibration_images: torch.Tensor | None = None,
    num_calibration: int = DEFAULT_NUM_CALIBRATION,
    input_size: int | None = None,
    fuse: bool = True,
    channels_last: bool = True,
    compile: bool = False,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A fast inference copy of ``model`` on the chosen backend; the original is untouched.

    The result is called like the model: a float tensor (N, C, H, W) in, float32 logits
    (N, num_classes) out, any batch size, the plain model's predictions (fp32 logits
    within 1e-4), safe to call from several threads at once. On the PyTorch backend call
    it under ``torch.inference_mode()`` for the least overhead.

    Example:
        >>> from mobilenet_mnist import load_dataset, mobilenet_v1
        >>> model = mobilenet_v1(pretrained=True)  # doctest: +SKIP
        >>> fast = optimize_for_inference(model)  # ONNX Runtime if installed  # doctest: +SKIP
        >>> train = load_dataset("mnist", "train", root="data")  # doctest: +SKIP
        >>> int8 = optimize_for_inference(model, int8=True, calibration_images=train.images)  # doctest: +SKIP

    Args:
        model: A :class:`~mobilenet_mnist.MobileNetV1` (for ``backend="torch"`` with
            ``fuse=False``, any module).
        backend: ``"auto"``, ``"torch"`` or ``"onnxruntime"`` (see the module docs).
            ``"onnxruntime"`` exports the model once (about 2 s).
        int8: Use the calibrated int8 model: ONNX Runtime's static QDQ quantization
            (:func:`~mobilenet_mnist.deploy.quantize_onnx`) or, on ``"torch"``, PyTorch's FX
            quantization (:func:`~mobilenet_mnist.deploy.quantize_int8`; slower than fp32 on most CPUs).
        calibration_images: With ``int8``: training images, uint8 digits (N, H, W) or
            normalized inputs (N, C, S, S); a random ``num_calibration`` of them are used.
        num_calibration: How many images calibrate the int8 activation ranges.
        input_size: With ``int8``: the input side to calibrate at (default the model's);
            the ONNX Runtime int8 graph takes only that side. fp32 results take any side.
        fuse: PyTorch only: fold BatchNorm into the convs (:func:`fuse_conv_bn`).
        channels_last: PyTorch only: NHWC weights, prepacked oneDNN layers and (with ``fuse``,
            float32, no ``compile``) the whole-network oneDNN graph.
        compile: PyTorch only: wrap with ``torch.compile(dynamic=False)`` (Inductor; needs a
            C++ compiler; each new input shape compiles once, tens of seconds).
        dtype: PyTorch only: ``None``/``torch.float32``, or ``torch.bfloat16`` (inputs and
            outputs stay fp32 via :class:`InferenceWrapper`; only fast where
            :func:`bf16_supported` is True, elsewhere a ``RuntimeWarning`` says so).

    Returns:
        An eval-mode module: on PyTorch the optimized model (parameters not requiring
        grad); on ONNX Runtime an :class:`~.ort_backend.OnnxRuntimeModule`.
        :func:`backend_of` tells which.

    Raises:
        TypeError: If ``model`` is not an ``nn.Module``, ``backend`` not a str or ``dtype``
            not a torch dtype.
        ValueError: For an unknown backend (the valid ones are listed), PyTorch-only options
            with ``backend="onnxruntime"``, int8 without calibration images (or their
            options without int8), a dtype other than float32/bfloat16, or a failed fusion.
        MissingExtraError: If ``backend="onnxruntime"`` and the ``onnx`` extra is missing
            (the message says how to install it).
    """
    check_module(model, "optimize_for_inference")
    torch_only = _torch_only(fuse, channels_last, compile, dtype)
    chosen = _resolve(check_backend(backend), torch_only)
    _check_int8_options(int8, calibration_images, input_size)
    check_number("num_calibration", num_calibration, 1, integer=True)
    if chosen == "onnxruntime":
        from .ort_backend import onnxruntime_model

        return onnxruntime_model(model, int8=int8, calibration_images=calibration_images,
                                 num_calibration=num_calibration, input_size=input_size)  # fmt: skip
    if int8 and calibration_images is not None:  # (int8 without images was refused above)
        return _torch_int8(model, calibration_images, num_calibration, input_size, torch_only)
    return optimize_torch(model, fuse=fuse, channels_last=channels_last, compile=compile, dtype=dtype)


def _torch_int8(model: nn.Module, images: torch.Tensor, num_calibration: int, input_size: int | None,
                torch_only: list[str]) -> nn.Module:
    """PyTorch FX int8 (x86 engine); the fp32-path options do not apply to it."""
    from .quantize import quantize_int8

    if torch_only:
        raise ValueError(
            f"{', '.join(torch_only)}: options of the fp32 PyTorch path; int8=True on backend='torch' "
            "quantizes with torch.ao FX (its own fusion and layout). Drop them."
        )
    quantized = quantize_int8(model, images, num_calibration=num_calibration, input_size=input_size)
    return quantized.requires_grad_(False)

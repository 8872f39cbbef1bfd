"""Preprocessing for inference: images of any common kind → the model's normalized input.

Accepts PIL images (any mode, incl. RGBA and 16-bit), numpy arrays and tensors, single
images or batches, and resizes and normalizes them exactly as the training pipeline does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.mobilenet import MNIST_MEAN, MNIST_STD
from ..utils.checks import check_number

__all__ = [
    "check_normalization", "create_transform", "open_image", "pil_to_array", "preprocess", "resize_normalize",
    "to_batch",
]  # fmt: skip


def resize_normalize(
    images: torch.Tensor, input_size: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """uint8 or [0, 1] float (N, C, H, W) → normalized float (N, C, S, S), resized bilinearly.

    The resize matches the training pipeline (bilinear, ``align_corners=False``, no
    antialiasing), so inference sees the same pixels as training.

    Raises:
        TypeError: If ``images`` is not a uint8 or float tensor.
        ValueError: If ``images`` is not 4-D, ``input_size`` is not positive, or ``mean``/``std``
            do not hold one valid value per channel.
    """
    if not isinstance(images, torch.Tensor) or not (images.dtype == torch.uint8 or images.is_floating_point()):
        got = f"dtype {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(
            f"resize_normalize takes a uint8 (0-255) or float (0-1) tensor, got {got}; "
            "preprocess converts other images (numpy arrays, PIL images, other dtypes)."
        )
    if images.dim() != 4:
        raise ValueError(
            f"resize_normalize takes (N, C, H, W) images, got shape {tuple(images.shape)}; "
            "add the channel axis with images.unsqueeze(1), or use preprocess."
        )
    check_number("input_size", input_size, 1, integer=True)
    check_normalization(mean, std, images.shape[1])
    x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
    if tuple(x.shape[-2:]) != (input_size, input_size):
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


# PIL modes whose pixels do not fit in 8 bits: convert("L") would clip them, so their
# values are read as they are (uint16 scaled by 1/65535; int32 and float32 range-checked).
_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_CHANNEL_LAST_SIZES = (1, 3, 4)


def to_batch(images: Any, in_chans: int) -> torch.Tensor:
    """One image-like object → (N, C, H, W) tensor (uint8 or float in [0, 1])."""
    if isinstance(images, np.ndarray):
        x = _numpy_to_tensor(images)
    elif isinstance(images, torch.Tensor):
        x = images
    else:
        x = torch.from_numpy(pil_to_array(images, in_chans))
    x = _add_axes(x, in_chans)
    return _check_values(x)


def _numpy_to_tensor(array: np.ndarray) -> torch.Tensor:
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Unsupported image dtype {array.dtype}; use uint8 (0-255) or float (0-1).")
    return torch.from_numpy(np.array(array, dtype=array.dtype.newbyteorder("=")))  # a native-order copy


def open_image(path: str | os.PathLike[str]) -> Any:
    """A fully decoded PIL image read from ``path``.

    Args:
        path: An image file in any format Pillow reads (PNG, JPEG, BMP, TIFF, ...).

    Returns:
        The ``PIL.Image.Image``, decoded now (a truncated file fails here, not later).

    Raises:
        ValueError: If the file is missing, unreadable or not an image; the message names it.
    """
    from PIL import Image

    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(
            f"Cannot read image {os.fspath(path)}: {error}. Pass a PNG, JPEG, BMP, TIFF or other format Pillow reads."
        ) from error
    return image


def pil_to_array(image: Any, in_chans: int) -> np.ndarray:
    """A PIL image as a numpy array, converted as :func:`preprocess` converts it.

    Transparent images are composited onto black (the MNIST background); 16-bit, 32-bit
    and float modes keep their exact values as a 2-D array; every other mode becomes
    gray (``in_chans=1``, shape (H, W)) or RGB (shape (3, H, W)).

    Raises:
        TypeError: If ``image`` is not a PIL image.
        ValueError: If PIL cannot convert its mode.
    """
    try:
        from PIL import Image
    except ImportError as error:  # pillow is a dependency, but be explicit
        raise TypeError(f"Cannot preprocess {type(image).__name__}: Pillow missing.") from error
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"preprocess takes torch tensors, numpy arrays, PIL images or lists of them, got {type(image).__name__}."
        )
    if image.mode in _HIGH_BIT_MODES:  # a 2-D array; _add_axes repeats it for RGB models
        array = np.array(image)
        return array.astype(array.dtype.newbyteorder("="))
    target = "L" if in_chans == 1 else "RGB"
    try:
        array = np.array(_convert(_flatten_alpha(image), target))
    except (ValueError, OSError) as error:
        raise ValueError(
            f"Cannot convert a PIL image of mode {image.mode!r} to {target!r} ({error}); convert it "
            "to 'L' or 'RGB' first."
        ) from error
    return array if in_chans == 1 else np.ascontiguousarray(array.transpose(2, 0, 1))


def _flatten_alpha(image: Any) -> Any:
    """Composite a transparent image onto black, the MNIST background (convert() ignores alpha)."""
    from PIL import Image

    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode not in _ALPHA_MODES:
        return image
    background = Image.new("RGBA", image.size, (0, 0, 0, 255))
    return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")


def _convert(image: Any, target: str) -> Any:
    """``image.convert(target)``, through RGB for modes PIL cannot convert directly (LAB → L)."""
    try:
        return image.convert(target)
    except ValueError:
        return image.convert("RGB").convert(target)


def _add_axes(x: torch.Tensor, in_chans: int) -> torch.Tensor:
    if x.dim() == 3 and x.shape[0] != in_chans and _looks_channels_last(x.shape):
        raise ValueError(
            f"Shape {tuple(x.shape)} looks like a channels-last (H, W, C) image; preprocess takes (H, W), "
            "(N, H, W) or (N, C, H, W). Pass a PIL image, or move the channels first with "
            "np.moveaxis(x, -1, 0) / x.permute(2, 0, 1)."
        )
    if x.dim() == 2:  # (H, W)
        x = x[None, None]
    elif x.dim() == 3:  # (C, H, W) when C matches a multi-channel model, else (N, H, W)
        x = x[None] if in_chans > 1 and x.shape[0] == in_chans else x[:, None]
    if x.dim() != 4:
        raise ValueError(f"Expected an image (H, W), a batch (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}.")
    if x.shape[1] == 1 and in_chans > 1:
        x = x.expand(-1, in_chans, -1, -1)
    if x.shape[1] != in_chans:
        hint = " It looks channels-last: use x.permute(0, 3, 1, 2)." if _looks_channels_last(x.shape[1:]) else ""
        raise ValueError(f"Expected {in_chans} channel(s), got shape {tuple(x.shape)} (N, C, H, W).{hint}")
    if x.shape[0] == 0:
        raise ValueError("preprocess got an empty batch (N = 0).")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"preprocess got images with an empty side: shape {tuple(x.shape)} (N, C, H, W).")
    return x


def _looks_channels_last(shape: Sequence[int]) -> bool:
    """(H, W, C) with a colour-sized last axis and image-sized others (a width of 3 is no digit)."""
    return shape[-1] in _CHANNEL_LAST_SIZES and min(shape[-3], shape[-2]) > max(_CHANNEL_LAST_SIZES)


def _check_values(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x
    if x.dtype == torch.uint16:  # 16-bit images (PIL mode "I;16"): the full range maps to [0, 1]
        return x.to(torch.float32).div_(65535)
    if x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in (torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"Unsupported image dtype {x.dtype}; use uint8 (0-255), uint16 (0-65535) or float (0-1).")
    if not x.is_floating_point():
        if int(x.min()) < 0 or int(x.max()) > 255:
            raise ValueError(
                f"Integer images must hold values in [0, 255], got range [{int(x.min())}, {int(x.max())}]; "
                "for 16-bit images pass uint16 (scaled by 1/65535) or floats in [0, 1]."
            )
        return x.to(torch.uint8)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("Images contain NaN or infinite values.")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError(
            f"Float images must be scaled to [0, 1], got range [{float(x.min()):.3g}, "
            f"{float(x.max()):.3g}]; divide uint8 pixels by 255."
        )
    return x


def check_normalization(mean: Any, std: Any, in_chans: Any) -> int:
    """Validate the normalisation arguments of :func:`preprocess`; return ``in_chans``.

    Args:
        mean: Per-channel mean, a sequence of finite numbers.
        std: Per-channel std, a sequence of positive finite numbers.
        in_chans: Channels the model takes, or ``None`` for ``len(mean)``.

    Returns:
        ``in_chans``, defaulted to ``len(mean)``.

    Raises:
        TypeError: If ``mean`` or ``std`` is not a sequence.
        ValueError: If the values are not finite, ``std`` is not positive, or the lengths
            do not match ``in_chans``.
    """
    for name, values in (("mean", mean), ("std", std)):
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise TypeError(f"{name} must be a sequence of numbers, one per channel, got {type(values).__name__}.")
    in_chans = len(mean) if in_chans is None else in_chans
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive int, got {in_chans!r}.")
    for name, values in (("mean", mean), ("std", std)):
        if len(values) != in_chans:
            raise ValueError(f"mean and std need {in_chans} values, got {len(mean)} and {len(std)}.")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise ValueError(f"{name} must hold finite numbers, got {tuple(values)!r}.")
    if min(std) <= 0:
        raise ValueError(f"std must be positive (it divides the pixels), got {tuple(std)!r}.")
    return in_chans


def preprocess(
    images: Any,
    input_size: int = 32,
    mean: Sequence[float] = (MNIST_MEAN,),
    std: Sequence[float] = (MNIST_STD,),
    in_chans: int | None = None,
) -> torch.Tensor:
    """Turn digits as users have them into the model's input.

    Accepts a uint8 tensor or numpy array (0–255), a uint16 one (0–65535) or a float one
    (0–1) of shape (H, W), (N, H, W) or (N, C, H, W); a PIL image; or a list of any of
    these, of any sizes. White digits on black, like MNIST; invert other images first.
    Every image is resized to a square ``input_size`` (the aspect ratio is not kept: pad
    very oblong images first). PIL images are converted to the model's channels: with
    transparency (RGBA, LA, P) they are composited onto black; 16-bit (``I;16``) and
    float (``F``) images keep their full precision, scaled as the arrays above.

    Example:
        >>> import torch
        >>> from mobilenet_mnist import preprocess
        >>> preprocess(torch.zeros(5, 28, 28, dtype=torch.uint8)).shape
        torch.Size([5, 1, 32, 32])

    Args:
        images: The images.
        input_size: Output side in pixels (the model's ``pretrained_cfg["input_size"][-1]``).
        mean: Per-channel mean to subtract (after scaling to [0, 1]).
        std: Per-channel std to divide by.
        in_chans: Channels the model takes; defaults to ``len(mean)``.

    Returns:
        A float32 tensor of shape (N, in_chans, input_size, input_size).

    Raises:
        TypeError: For unsupported types or dtypes.
        ValueError: For bad shapes, empty batches, NaN/inf or out-of-range values, PIL
            modes that cannot be converted, or bad ``mean``/``std``/``input_size``.
    """
    in_chans = check_normalization(mean, std, in_chans)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}.")
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("preprocess got an empty list of images.")
        items = enumerate(images)
        return torch.cat([_preprocess_item(i, image, input_size, mean, std, in_chans) for i, image in items])
    return resize_normalize(to_batch(images, in_chans), input_size, mean, std)


def _preprocess_item(
    index: int, image: Any, input_size: int, mean: Sequence[float], std: Sequence[float], in_chans: int
) -> torch.Tensor:
    """One list entry, resized on its own (entries may differ in size); errors name the entry."""
    try:
        return preprocess(image, input_size, mean, std, in_chans)
    except (TypeError, ValueError) as error:
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"Image {index} of the list: {error}") from error


def create_transform(pretrained_cfg: Mapping[str, Any]) -> Callable[[Any], torch.Tensor]:
    """A preprocessing callable built from a model's ``pretrained_cfg``.

    Example:
        >>> import torch
        >>> from mobilenet_mnist import create_transform, mobilenet_v1
        >>> model = mobilenet_v1(resolution_mult=0.875)
        >>> transform = create_transform(model.pretrained_cfg)
        >>> transform(torch.zeros(28, 28, dtype=torch.uint8)).shape
        torch.Size([1, 1, 28, 28])

    Raises:
        TypeError: If ``pretrained_cfg`` is not a mapping.
        ValueError: If it lacks ``input_size`` (C, S, S), ``mean`` or ``std``, or they are invalid.
    """
    if not isinstance(pretrained_cfg, Mapping):
        raise TypeError(
            f"create_transform expects a model's pretrained_cfg dict (e.g. model.pretrained_cfg), "
            f"got {type(pretrained_cfg).__name__}."
        )
    missing = [key for key in ("input_size", "mean", "std") if key not in pretrained_cfg]
    if missing:
        raise ValueError(
            f"pretrained_cfg lacks {missing}; pass model.pretrained_cfg, which holds input_size "
            "(C, H, W), mean and std."
        )
    shape = pretrained_cfg["input_size"]
    if not isinstance(shape, Sequence) or len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"pretrained_cfg['input_size'] must be (C, S, S) with a square side, got {shape!r}.")
    in_chans, _, size = shape
    mean, std = pretrained_cfg["mean"], pretrained_cfg["std"]
    check_normalization(mean, std, in_chans)
    mean, std = tuple(mean), tuple(std)

    def transform(images: Any) -> torch.Tensor:
        return preprocess(images, input_size=size, mean=mean, std=std, in_chans=in_chans)

    return transform

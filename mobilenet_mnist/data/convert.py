"""A dataset of ``(image, label)`` pairs → :class:`~mobilenet_mnist.data.datasets.ImageTensors`.

:func:`tensors_from_dataset` reads any ``torch.utils.data.Dataset`` (a torchvision
``ImageFolder`` or ``FashionMNIST``, a list of pairs, ...) into memory as uint8 images and
int64 labels, the input of :func:`mobilenet_mnist.training.fit`. PIL images are converted
as :func:`~mobilenet_mnist.preprocess` converts them; colour is turned into gray with PIL's
luma weights (or gray repeated into RGB) to match the model's input channels.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..utils.checks import is_int
from .datasets import ImageTensors
from .transforms import pil_to_array

__all__ = ["tensors_from_dataset"]

# ITU-R 601 luma weights, as PIL's convert("L") uses.
_LUMA = (0.299, 0.587, 0.114)
_CHANNEL_COUNTS = (1, 3, 4)


def _to_chw(x: torch.Tensor, index: int) -> torch.Tensor:
    """(H, W), (C, H, W) or (H, W, C) → (C, H, W); channels-first wins when both fit."""
    if x.dim() == 2:
        return x.unsqueeze(0)
    if x.dim() == 3 and x.shape[0] in _CHANNEL_COUNTS:
        return x
    if x.dim() == 3 and x.shape[-1] in _CHANNEL_COUNTS:
        return x.permute(2, 0, 1)
    raise ValueError(
        f"Item {index}: expected an image of shape (H, W), (C, H, W) or (H, W, C) with C in "
        f"{_CHANNEL_COUNTS}, got shape {tuple(x.shape)}."
    )


def _to_uint8(x: torch.Tensor, index: int) -> torch.Tensor:
    """uint8 as is; floats in [0, 1] and ints in [0, 255] converted; anything else refused."""
    if x.dtype == torch.uint8:
        return x
    if x.dtype == torch.uint16:  # 16-bit images (PIL mode "I;16"): the full range maps to [0, 1]
        x = x.to(torch.float32).div_(65535)
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()) or float(x.min()) < 0 or float(x.max()) > 1:
            raise ValueError(
                f"Item {index}: float images must hold finite values in [0, 1] (e.g. from "
                f"transforms.ToTensor()), got range [{float(x.min()):.3g}, {float(x.max()):.3g}]. "
                "Do not normalise them: training normalises with the model's mean and std."
            )
        return x.mul(255).round_().to(torch.uint8)
    if x.dtype in (torch.int16, torch.int32, torch.int64) and int(x.min()) >= 0 and int(x.max()) <= 255:
        return x.to(torch.uint8)
    raise TypeError(f"Item {index}: unsupported image dtype {x.dtype} or values outside [0, 255]; use uint8.")


def _match_channels(x: torch.Tensor, in_chans: int, index: int) -> torch.Tensor:
    """(C, H, W) uint8 → (in_chans, H, W): drop alpha, gray → RGB by repeating, RGB → gray by luma."""
    if x.shape[0] == 4:
        x = x[:3]
    if x.shape[0] == in_chans:
        return x
    if x.shape[0] == 1:
        return x.expand(in_chans, -1, -1)
    if x.shape[0] == 3 and in_chans == 1:
        luma = torch.tensor(_LUMA).view(3, 1, 1)
        return (x.float() * luma).sum(dim=0, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    raise ValueError(f"Item {index}: cannot turn {x.shape[0]} channels into in_chans={in_chans}.")


def _image_tensor(image: Any, in_chans: int, index: int) -> torch.Tensor:
    """One dataset image (PIL, numpy or tensor) → uint8 (in_chans, H, W)."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    elif not isinstance(image, torch.Tensor):
        from PIL import Image  # lazy: only needed for PIL datasets

        if not isinstance(image, Image.Image):
            raise TypeError(
                f"Item {index}: images must be PIL images, numpy arrays or torch tensors, got {type(image).__name__}."
            )
        try:  # the conversions of preprocess: alpha onto black, 16-bit and float modes kept exact
            image = torch.from_numpy(pil_to_array(image, in_chans))
        except ValueError as error:
            raise ValueError(f"Item {index}: {error}") from error
    x = _to_uint8(_to_chw(image.detach().cpu(), index), index)
    return _match_channels(x, in_chans, index)


def _label(label: Any, index: int) -> int:
    if isinstance(label, (torch.Tensor, np.ndarray)):
        array = np.asarray(label.detach().cpu() if isinstance(label, torch.Tensor) else label)
        if array.size != 1:
            raise ValueError(f"Item {index}: a label must be one integer, got shape {array.shape}.")
        label = array.reshape(()).item()
    try:
        value = operator.index(label)
    except TypeError as error:
        raise TypeError(f"Item {index}: a label must be an integer class index, got {label!r}.") from error
    if value < 0:
        raise ValueError(f"Item {index}: labels must be >= 0, got {value}.")
    return value


def _items(dataset: Any) -> Iterator[Any]:
    """Map-style datasets by index (torch Datasets need not support iteration), else iterate."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[i] for i in range(len(dataset)))
    if not hasattr(dataset, "__iter__"):
        raise TypeError(
            "tensors_from_dataset expects a dataset of (image, label) pairs (a torch Dataset, a list "
            f"of pairs, ...), got {type(dataset).__name__}."
        )
    return iter(dataset)


def _resolve_classes(dataset: Any, classes: Any, labels: torch.Tensor) -> tuple[str, ...]:
    if classes is None:
        classes = getattr(dataset, "classes", None)
    if classes is None:
        classes = [str(i) for i in range(int(labels.max()) + 1)]
    classes = tuple(str(name) for name in classes)
    if int(labels.max()) >= len(classes):
        raise ValueError(
            f"Label {int(labels.max())} is out of range for {len(classes)} classes {classes}; "
            "pass classes= naming every class, indexed by label."
        )
    return classes


def tensors_from_dataset(
    dataset: Any,
    classes: list[str] | tuple[str, ...] | None = None,
    in_chans: int = 1,
) -> ImageTensors:
    """Read a dataset of ``(image, label)`` pairs into memory for :func:`~mobilenet_mnist.training.fit`.

    Works with any ``torch.utils.data.Dataset`` (map-style or iterable), a list of
    pairs, or torchvision datasets such as ``ImageFolder`` or ``FashionMNIST``.
    Images may be PIL images, numpy arrays ((H, W) or (H, W, C)) or tensors ((H, W) or
    (C, H, W), e.g. from ``transforms.ToTensor()``), as uint8 (0–255) or float (0–1),
    not yet normalised. All must have the same size: resize them in the dataset's
    transform (``fit`` resizes to the recipe's ``train_sizes`` anyway).

    Example:
        >>> import torch
        >>> from mobilenet_mnist.data.convert import tensors_from_dataset
        >>> pairs = [(torch.rand(1, 28, 28), i % 3) for i in range(6)]
        >>> data = tensors_from_dataset(pairs, classes=["a", "b", "c"])
        >>> data.images.shape, data.images.dtype, data.classes
        (torch.Size([6, 28, 28]), torch.uint8, ('a', 'b', 'c'))

    Args:
        dataset: The (image, label) pairs; labels are integer class indices.
        classes: Class names indexed by label; default ``dataset.classes`` if it exists,
            else ``"0"``, ``"1"``, ... up to the largest label.
        in_chans: Channels the model takes: 1 (colour is converted to gray with PIL's
            luma weights) or 3 (gray is repeated).

    Returns:
        :class:`~mobilenet_mnist.data.datasets.ImageTensors` with uint8 images of shape (N, H, W)
        for ``in_chans=1``, (N, C, H, W) otherwise, and int64 labels.

    Raises:
        ValueError: For an empty dataset, images of different sizes, out-of-range values
            or labels.
        TypeError: For items that are not (image, label) pairs or unsupported types.
    """
    if not is_int(in_chans) or in_chans < 1:
        raise ValueError(f"in_chans must be a positive int (1 for gray, 3 for RGB), got {in_chans!r}.")
    images, labels = _read_items(dataset, in_chans)
    labels_t = torch.tensor(labels, dtype=torch.int64)
    stacked = torch.stack(images)
    if in_chans == 1:
        stacked = stacked[:, 0]
    return ImageTensors(stacked.contiguous(), labels_t, _resolve_classes(dataset, classes, labels_t))


def _read_items(dataset: Any, in_chans: int) -> tuple[list[torch.Tensor], list[int]]:
    from tqdm.auto import tqdm

    total = len(dataset) if hasattr(dataset, "__len__") else None
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for index, item in enumerate(tqdm(_items(dataset), total=total, desc="reading dataset", leave=False,
                                      disable=total is None or total < 10_000)):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"Item {index}: expected an (image, label) pair, got {type(item).__name__}.")
        image = _image_tensor(item[0], in_chans, index)
        if images and image.shape != images[0].shape:
            raise ValueError(
                f"Item {index} has shape {tuple(image.shape)} but item 0 has {tuple(images[0].shape)} "
                "(channels, height, width): resize every image to one size in the dataset's "
                "transform, e.g. torchvision.transforms.Resize((28, 28))."
            )
        images.append(image)
        labels.append(_label(item[1], index))
    if not images:
        raise ValueError("The dataset is empty: tensors_from_dataset needs at least one (image, label) pair.")
    return images, labels

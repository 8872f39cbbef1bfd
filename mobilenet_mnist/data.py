"""MNIST-family datasets held in memory as tensors, and preprocessing for inference.

Datasets are read from the four canonical IDX files (gzipped or not) in any folder a
user names, including torchvision's ``<root>/MNIST/raw`` layout; where a network
exists, ``download=True`` lets torchvision fetch them. Everything is returned as uint8
tensors, so training can augment whole batches at once (see :mod:`.augment`).
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .archs import unknown_name_message

__all__ = [
    "ImageTensors",
    "DATASETS",
    "load_dataset",
    "read_idx",
    "train_val_split",
    "preprocess",
    "create_transform",
    "resize_normalize",
]

logger = logging.getLogger(__name__)

#: Environment variable naming a default data folder.
DATA_ENV = "MOBILENET_MNIST_DATA"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset's files come from and what its labels mean."""

    torchvision_name: str
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("MNIST", tuple(str(d) for d in range(10))),
    "fashion_mnist": DatasetInfo(
        "FashionMNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian's dataset-fashion-mnist
    ),
}

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class ImageTensors:
    """A dataset split held in memory.

    Attributes:
        images: uint8 tensor of shape (N, H, W).
        labels: int64 tensor of shape (N,).
        classes: Class names, indexed by label.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor) -> ImageTensors:
        """The rows at ``indices`` (a new object sharing no storage with this one)."""
        return ImageTensors(self.images[indices].clone(), self.labels[indices].clone(), self.classes)


def read_idx(path: str | Path) -> torch.Tensor:
    """Read one IDX file (optionally gzipped) into a tensor.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a well-formed IDX file (bad magic, truncated).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:  # gzip raises these for corrupt archives
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"Cannot read IDX file {path}: {error}") from error
    return _parse_idx(raw, path)


def _parse_idx(raw: bytes, path: Path) -> torch.Tensor:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r}).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: header needs {header} bytes, file has {len(raw)}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path} has {len(raw)} bytes but its header (shape {shape}) implies {expected}: "
            "the file is truncated or corrupt; download it again."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=True))


def _candidate_dirs(root: Path, info: DatasetInfo) -> list[Path]:
    return [root, root / info.torchvision_name / "raw", root / "raw"]


def _find_file(dirs: list[Path], stem: str) -> Path | None:
    for folder in dirs:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _resolve_root(name: str, root: str | Path | None) -> list[Path]:
    info = DATASETS[name]
    if root is not None:
        return _candidate_dirs(Path(root).expanduser(), info)
    roots = [Path(p) for p in (os.environ.get(DATA_ENV),) if p]
    roots += [Path(p) for p in info.system_dirs]
    return [d for r in roots for d in _candidate_dirs(r, info)]


def load_dataset(
    name: str = "mnist",
    split: str = "train",
    root: str | Path | None = None,
    download: bool = False,
) -> ImageTensors:
    """Load a split of MNIST or Fashion-MNIST into memory.

    Files are looked for in ``root`` itself, then ``root/<MNIST|FashionMNIST>/raw``
    (torchvision's layout), as ``train-images-idx3-ubyte[.gz]`` etc. With ``root=None``
    the folder in ``$MOBILENET_MNIST_DATA`` is used, then system folders (Debian's
    ``dataset-fashion-mnist`` package).

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: Folder with the IDX files.
        download: If the files are missing, let torchvision download them into ``root``
            (needs a network).

    Returns:
        The split as uint8 images (N, 28, 28) and int64 labels.

    Raises:
        KeyError: For an unknown dataset name.
        ValueError: For an unknown split or malformed files.
        FileNotFoundError: If the files are missing (the message says where it looked
            and how to get them).
    """
    if name not in DATASETS:
        raise KeyError(unknown_name_message("dataset", str(name), sorted(DATASETS)))
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    dirs = _resolve_root(name, root)
    prefix = _SPLIT_PREFIX[split]
    images_path = _find_file(dirs, f"{prefix}-images-idx3-ubyte")
    labels_path = _find_file(dirs, f"{prefix}-labels-idx1-ubyte")
    if (images_path is None or labels_path is None) and download:
        _download(name, root)
        return load_dataset(name, split, root, download=False)
    if images_path is None or labels_path is None:
        raise FileNotFoundError(_missing_message(name, split, dirs))
    return _to_image_tensors(read_idx(images_path), read_idx(labels_path), name, images_path)


def _to_image_tensors(images: torch.Tensor, labels: torch.Tensor, name: str, path: Path) -> ImageTensors:
    if images.dim() != 3 or labels.dim() != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{path}: expected images (N, H, W) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}."
        )
    classes = DATASETS[name].classes
    if labels.numel() and int(labels.max()) >= len(classes):
        raise ValueError(f"{path}: label {int(labels.max())} out of range for {len(classes)} classes.")
    return ImageTensors(images.to(torch.uint8), labels.to(torch.int64), classes)


def _missing_message(name: str, split: str, dirs: list[Path]) -> str:
    looked = ", ".join(str(d) for d in dirs) or "(no folder given)"
    hint = (
        "Pass root=FOLDER (CLI: --data-dir FOLDER) naming a folder with the four IDX files, "
        f"set ${DATA_ENV}, or use download=True with a network."
    )
    if name == "fashion_mnist":
        hint += " On Debian/Ubuntu: apt-get install dataset-fashion-mnist."
    return f"{name} {split} files not found. Looked in: {looked}. {hint}"


def _download(name: str, root: str | Path | None) -> None:
    if root is None:
        raise ValueError("download=True needs root=FOLDER to download into.")
    import torchvision.datasets  # lazy: heavy import, only needed with a network

    dataset_class = getattr(torchvision.datasets, DATASETS[name].torchvision_name)
    logger.info("Downloading %s into %s", name, root)
    for train in (True, False):
        dataset_class(str(root), train=train, download=True)


def train_val_split(num_train: int = 60_000, val_size: int = 5_000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed split of the training set into train and validation indices.

    The same arguments always give the same split, so hyper-parameters are chosen on
    the validation part and the test set stays untouched.

    Returns:
        ``(train_indices, val_indices)``, both sorted int64 tensors.
    """
    if not 0 <= val_size < num_train:
        raise ValueError(f"val_size must be in [0, {num_train}), got {val_size}.")
    perm = torch.randperm(num_train, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def resize_normalize(
    images: torch.Tensor, input_size: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """uint8 or [0, 1] float (N, C, H, W) → normalized float (N, C, S, S), resized bilinearly.

    The resize matches the training pipeline (bilinear, ``align_corners=False``, no
    antialiasing), so inference sees the same pixels as training.
    """
    x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
    if tuple(x.shape[-2:]) != (input_size, input_size):
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


def _to_batch(images: Any, in_chans: int) -> torch.Tensor:
    """Anything image-like → (N, C, H, W) tensor (uint8 or float in [0, 1])."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("preprocess got an empty list of images.")
        return torch.cat([_to_batch(image, in_chans) for image in images])
    if not isinstance(images, (torch.Tensor, np.ndarray)):
        images = _pil_to_array(images, in_chans)
    x = torch.as_tensor(np.array(images) if isinstance(images, np.ndarray) else images)
    x = _add_axes(x, in_chans)
    return _check_values(x)


def _pil_to_array(image: Any, in_chans: int) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as error:  # pillow is a dependency, but be explicit
        raise TypeError(f"Cannot preprocess {type(image).__name__}: Pillow missing.") from error
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"preprocess takes torch tensors, numpy arrays, PIL images or lists of them, got {type(image).__name__}."
        )
    array = np.asarray(image.convert("L" if in_chans == 1 else "RGB"))
    return array if in_chans == 1 else np.ascontiguousarray(array.transpose(2, 0, 1))


def _add_axes(x: torch.Tensor, in_chans: int) -> torch.Tensor:
    if x.dim() == 2:  # (H, W)
        x = x[None, None]
    elif x.dim() == 3:  # (C, H, W) when C matches a multi-channel model, else (N, H, W)
        x = x[None] if in_chans > 1 and x.shape[0] == in_chans else x[:, None]
    if x.dim() != 4:
        raise ValueError(f"Expected an image (H, W), a batch (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}.")
    if x.shape[1] == 1 and in_chans > 1:
        x = x.expand(-1, in_chans, -1, -1)
    if x.shape[1] != in_chans:
        raise ValueError(f"Expected {in_chans} channel(s), got shape {tuple(x.shape)} (N, C, H, W).")
    if x.shape[0] == 0:
        raise ValueError("preprocess got an empty batch (N = 0).")
    return x


def _check_values(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x
    if x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in (torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"Unsupported image dtype {x.dtype}; use uint8 (0-255) or float (0-1).")
    if not x.is_floating_point():
        if int(x.min()) < 0 or int(x.max()) > 255:
            raise ValueError("Integer images must hold values in [0, 255].")
        return x.to(torch.uint8)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("Images contain NaN or infinite values.")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError(
            f"Float images must be scaled to [0, 1], got range [{float(x.min()):.3g}, "
            f"{float(x.max()):.3g}]; divide uint8 pixels by 255."
        )
    return x


def preprocess(
    images: Any,
    input_size: int = 32,
    mean: Sequence[float] = (0.1307,),
    std: Sequence[float] = (0.3081,),
    in_chans: int | None = None,
) -> torch.Tensor:
    """Turn digits as users have them into the model's input.

    Accepts a uint8 tensor or numpy array (0–255) or a float one (0–1) of shape
    (H, W), (N, H, W) or (N, C, H, W); a PIL image; or a list of any of these. White
    digits on black, like MNIST; invert other images first.

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
        ValueError: For bad shapes, empty batches, NaN/inf or out-of-range values.
    """
    in_chans = len(mean) if in_chans is None else in_chans
    if len(mean) != in_chans or len(std) != in_chans:
        raise ValueError(f"mean and std need {in_chans} values, got {len(mean)} and {len(std)}.")
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}.")
    return resize_normalize(_to_batch(images, in_chans), input_size, mean, std)


def create_transform(pretrained_cfg: dict[str, Any]) -> Callable[[Any], torch.Tensor]:
    """A preprocessing callable built from a model's ``pretrained_cfg``.

    Example:
        >>> import torch
        >>> from mobilenet_mnist import create_transform, mobilenet_v1
        >>> model = mobilenet_v1(resolution_mult=0.875)
        >>> transform = create_transform(model.pretrained_cfg)
        >>> transform(torch.zeros(28, 28, dtype=torch.uint8)).shape
        torch.Size([1, 1, 28, 28])
    """
    in_chans, _, size = pretrained_cfg["input_size"]
    mean, std = tuple(pretrained_cfg["mean"]), tuple(pretrained_cfg["std"])

    def transform(images: Any) -> torch.Tensor:
        return preprocess(images, input_size=size, mean=mean, std=std, in_chans=in_chans)

    return transform

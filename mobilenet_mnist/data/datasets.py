"""MNIST-family datasets held in memory as tensors, and preprocessing for inference.

Datasets are read from the four canonical IDX files (gzipped or not) in any folder a
user names, including torchvision's ``<root>/MNIST/raw`` layout; where a network
exists, ``download=True`` lets torchvision fetch them. Everything is returned as uint8
tensors, so training can augment whole batches at once (see :mod:`.augment`).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.archs import unknown_name_message

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
_GZIP_MAGIC = b"\x1f\x8b"
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

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or not isinstance(self.labels, torch.Tensor):
            raise TypeError(
                f"ImageTensors needs torch tensors, got images: {type(self.images).__name__}, labels: "
                f"{type(self.labels).__name__}; wrap arrays with torch.as_tensor."
            )
        if self.images.dim() not in (3, 4) or self.labels.dim() != 1 or len(self.images) != len(self.labels):
            raise ValueError(
                f"ImageTensors needs images (N, H, W) or (N, C, H, W) and labels (N,), got "
                f"{tuple(self.images.shape)} and {tuple(self.labels.shape)}."
            )
        if self.labels.is_floating_point() or self.labels.dtype == torch.bool:
            raise TypeError(f"ImageTensors labels must be integer class indices, got dtype {self.labels.dtype}.")
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(
                f"ImageTensors labels must be in [0, {len(self.classes)}) for the {len(self.classes)} classes "
                f"{tuple(self.classes)}, got range [{int(self.labels.min())}, {int(self.labels.max())}]; "
                "name every class in classes, indexed by label."
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor) -> ImageTensors:
        """The rows at ``indices`` (a new object sharing no storage with this one)."""
        return ImageTensors(self.images[indices].clone(), self.labels[indices].clone(), self.classes)


def read_idx(path: str | Path) -> torch.Tensor:
    """Read one IDX file (gzipped if its name ends in ``.gz``) into a tensor.

    Raises:
        TypeError: If ``path`` is not a str or path.
        FileNotFoundError: If the file does not exist.
        IsADirectoryError: If ``path`` is a folder.
        PermissionError: If the file cannot be read.
        ValueError: If the file is not a well-formed IDX file (bad magic, unknown type
            code, truncated, size not matching its header) or not the gzip its name says.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_idx expects a file path (str or os.PathLike), got {type(path).__name__}.")
    path = Path(path)
    return _parse_idx(_read_idx_bytes(path), path)


def _read_idx_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip; errors name the file and the fix."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file {path} does not exist.") from None
    except IsADirectoryError:
        raise IsADirectoryError(
            f"{path} is a folder; read_idx reads one IDX file such as train-images-idx3-ubyte.gz "
            "(load_dataset reads a folder)."
        ) from None
    except PermissionError as error:
        raise PermissionError(f"Cannot read IDX file {path}: permission denied; check its permissions.") from error
    is_gzip = raw[:2] == _GZIP_MAGIC
    if path.suffix == ".gz" and not is_gzip:
        hint = " It looks like an uncompressed IDX file: drop the .gz suffix." if raw[:2] == b"\0\0" else ""
        raise ValueError(f"Cannot read IDX file {path}: its name ends in .gz but it is not gzip-compressed.{hint}")
    if path.suffix != ".gz" and is_gzip:
        raise ValueError(
            f"Cannot read IDX file {path}: it is gzip-compressed but its name lacks .gz; rename it "
            f"to {path.name}.gz or decompress it with gunzip."
        )
    if not is_gzip:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"Cannot read IDX file {path}: corrupt or truncated gzip data ({error}); download it again."
        ) from error


def _parse_idx(raw: bytes, path: Path) -> torch.Tensor:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path} is not an IDX file (bad magic number {raw[:4]!r}): IDX files start with two "
            "zero bytes, a type code and the number of dimensions."
        )
    if raw[2] not in _IDX_DTYPES:
        valid = ", ".join(f"0x{code:02X} ({np.dtype(dtype).name})" for code, dtype in _IDX_DTYPES.items())
        raise ValueError(f"{path} has an unknown IDX type code 0x{raw[2]:02X}; valid codes: {valid}.")
    ndim = raw[3]
    if ndim == 0:
        raise ValueError(f"{path} declares 0 dimensions; IDX files hold arrays of at least one dimension.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: header needs {header} bytes, file has {len(raw)}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + math.prod(shape) * dtype.itemsize
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
            try:
                if (folder / name).is_file():
                    return folder / name
            except PermissionError as error:
                raise PermissionError(
                    f"Cannot look into data folder {folder}: permission denied; check its "
                    "permissions or pass another folder."
                ) from error
    return None


def _check_root(root: str | Path | None, download: bool) -> None:
    """A given data folder must be a folder (it may be missing when downloading into it)."""
    if root is None:
        return
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike) or None, got {type(root).__name__}.")
    folder = Path(root).expanduser()
    try:
        is_file, exists = folder.is_file(), folder.exists()
    except PermissionError as error:
        raise PermissionError(
            f"Cannot look into data folder {folder}: permission denied; check its permissions or pass another folder."
        ) from error
    if is_file:
        raise NotADirectoryError(
            f"Data folder {folder} is a file; pass the folder that holds the four IDX files "
            f"(e.g. {folder.parent})."
        )
    if not exists and not download:
        raise FileNotFoundError(
            f"Data folder {folder} does not exist. Pass root=FOLDER (CLI: --data-dir FOLDER) naming "
            "a folder with the four IDX files, or use download=True with a network."
        )


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
        TypeError: If ``root`` is not a path.
        ValueError: For an unknown split or malformed files (see :func:`read_idx`).
        FileNotFoundError: If the folder or files are missing (the message names the
            missing files, says where it looked and how to get them).
        NotADirectoryError: If ``root`` is a file.
        PermissionError: If the folder or a file cannot be read.
    """
    if name not in DATASETS:
        raise KeyError(unknown_name_message("dataset", str(name), sorted(DATASETS)))
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    _check_root(root, download)
    dirs = _resolve_root(name, root)
    prefix = _SPLIT_PREFIX[split]
    images_path = _find_file(dirs, f"{prefix}-images-idx3-ubyte")
    labels_path = _find_file(dirs, f"{prefix}-labels-idx1-ubyte")
    if (images_path is None or labels_path is None) and download:
        _download(name, root)
        return load_dataset(name, split, root, download=False)
    if images_path is None or labels_path is None:
        missing = [f"{prefix}-{kind}[.gz]" for kind, found in (("images-idx3-ubyte", images_path),
                                                             ("labels-idx1-ubyte", labels_path)) if found is None]
        raise FileNotFoundError(_missing_message(name, split, dirs, missing))
    return _to_image_tensors(read_idx(images_path), read_idx(labels_path), name, (images_path, labels_path))


def _to_image_tensors(
    images: torch.Tensor, labels: torch.Tensor, name: str, paths: tuple[Path, Path]
) -> ImageTensors:
    images_path, labels_path = paths
    if images.dim() != 3 or labels.dim() != 1:
        raise ValueError(
            f"{images_path} and {labels_path}: expected images (N, H, W) and labels (N,), got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}; are the two files swapped or from another dataset?"
        )
    if images.dtype != torch.uint8 or labels.dtype != torch.uint8:
        raise ValueError(
            f"{images_path} and {labels_path}: expected uint8 images and labels (IDX type code 0x08), "
            f"got {images.dtype} and {labels.dtype}; these are not {name} files."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.shape[0]} "
            "labels: the two files do not belong together (e.g. train images with test labels)."
        )
    classes = DATASETS[name].classes
    if labels.numel() and int(labels.max()) >= len(classes):
        raise ValueError(f"{labels_path}: label {int(labels.max())} out of range for {len(classes)} classes.")
    return ImageTensors(images, labels.to(torch.int64), classes)


def _missing_message(name: str, split: str, dirs: list[Path], missing: list[str]) -> str:
    looked = ", ".join(str(d) for d in dirs) or "(no folder given)"
    hint = (
        "Pass root=FOLDER (CLI: --data-dir FOLDER) naming a folder with the four IDX files, "
        f"set ${DATA_ENV}, or use download=True with a network."
    )
    if name == "fashion_mnist":
        hint += " On Debian/Ubuntu: apt-get install dataset-fashion-mnist."
    return f"{name} {split} files not found (missing: {', '.join(missing)}). Looked in: {looked}. {hint}"


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

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If ``val_size`` is not in ``[0, num_train)``.
    """
    for name, value in (("num_train", num_train), ("val_size", val_size), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r}).")
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


# PIL modes whose pixels do not fit in 8 bits: convert("L") would clip them, so their
# values are read as they are (uint16 scaled by 1/65535; int32 and float32 range-checked).
_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_CHANNEL_LAST_SIZES = (1, 3, 4)


def _to_batch(images: Any, in_chans: int) -> torch.Tensor:
    """One image-like object → (N, C, H, W) tensor (uint8 or float in [0, 1])."""
    if isinstance(images, np.ndarray):
        x = _numpy_to_tensor(images)
    elif isinstance(images, torch.Tensor):
        x = images
    else:
        x = torch.from_numpy(_pil_to_array(images, in_chans))
    x = _add_axes(x, in_chans)
    return _check_values(x)


def _numpy_to_tensor(array: np.ndarray) -> torch.Tensor:
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Unsupported image dtype {array.dtype}; use uint8 (0-255) or float (0-1).")
    return torch.from_numpy(np.array(array, dtype=array.dtype.newbyteorder("=")))  # a native-order copy


def _pil_to_array(image: Any, in_chans: int) -> np.ndarray:
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


def _check_normalization(mean: Any, std: Any, in_chans: Any) -> int:
    """Validate the normalisation arguments; return ``in_chans`` (default ``len(mean)``)."""
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
    mean: Sequence[float] = (0.1307,),
    std: Sequence[float] = (0.3081,),
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
    in_chans = _check_normalization(mean, std, in_chans)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}.")
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("preprocess got an empty list of images.")
        items = enumerate(images)
        return torch.cat([_preprocess_item(i, image, input_size, mean, std, in_chans) for i, image in items])
    return resize_normalize(_to_batch(images, in_chans), input_size, mean, std)


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
    _check_normalization(mean, std, in_chans)
    mean, std = tuple(mean), tuple(std)

    def transform(images: Any) -> torch.Tensor:
        return preprocess(images, input_size=size, mean=mean, std=std, in_chans=in_chans)

    return transform

"""MNIST-family datasets held in memory as uint8 tensors.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..utils.names import unknown_name_message

__all__ = [
    "ImageTensors",
    "DATASETS",
    "load_dataset",
    "read_idx",
    "train_val_split",
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


#: The data sets :func:`load_dataset` knows, by name: file stems, class names, image size.
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
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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

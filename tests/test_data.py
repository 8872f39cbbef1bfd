"""Data loading (IDX parsing, folders, splits) and preprocessing."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilenet_mnist.data.augment import AugmentConfig, augment_batch
from mobilenet_mnist.data.datasets import load_dataset, read_idx, train_val_split
from mobilenet_mnist.data.transforms import create_transform, preprocess, resize_normalize
from mobilenet_mnist.models.factory import mobilenet_v1

# MD5 of the decompressed files, from ../shared/data/mnist/README.md.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


@pytest.mark.parametrize("name", sorted(MNIST_MD5))
def test_mnist_files_are_the_canonical_ones(mnist_dir: Path, name: str) -> None:
    with gzip.open(mnist_dir / name, "rb") as handle:
        assert hashlib.md5(handle.read()).hexdigest() == MNIST_MD5[name]


def test_load_mnist_test_split(mnist_dir: Path) -> None:
    data = load_dataset("mnist", "test", mnist_dir)
    assert data.images.shape == (10_000, 28, 28) and data.images.dtype == torch.uint8
    assert data.labels.shape == (10_000,) and data.labels.dtype == torch.int64
    assert torch.bincount(data.labels).tolist()[:3] == [980, 1135, 1032]  # the canonical class counts
    assert data.classes == tuple("0123456789")


def test_torchvision_layout_and_uncompressed_files(mnist_dir: Path, tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(mnist_dir / f"{stem}.gz", "rb") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    from_raw = load_dataset("mnist", "test", tmp_path)
    from_gz = load_dataset("mnist", "test", mnist_dir)
    assert torch.equal(from_raw.images, from_gz.images) and torch.equal(from_raw.labels, from_gz.labels)


def test_fashion_mnist_from_debian_package(fashion_mnist_dir: Path) -> None:
    data = load_dataset("fashion_mnist", "test", fashion_mnist_dir)
    assert data.images.shape == (10_000, 28, 28)
    assert torch.bincount(data.labels).tolist() == [1000] * 10
    assert data.classes[9] == "Ankle boot"


def test_missing_folder_error_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"mnist test files not found.*--data-dir"):
        load_dataset("mnist", "test", tmp_path)


def test_unknown_dataset_and_split() -> None:
    with pytest.raises(KeyError, match="Did you mean 'mnist'"):
        load_dataset("mnsit")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_dataset("mnist", "validation")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x00\x08", "bad magic"),
        (b"\x01\x02\x08\x03" + b"\x00" * 12, "bad magic"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "implies 13"),
    ],
)
def test_malformed_idx_files_are_refused(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_corrupt_gzip_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(ValueError, match="Cannot read IDX file"):
        read_idx(path)


def test_train_val_split_is_fixed_and_disjoint() -> None:
    train_a, val_a = train_val_split(60_000, 5_000)
    train_b, val_b = train_val_split(60_000, 5_000)
    assert torch.equal(train_a, train_b) and torch.equal(val_a, val_b)
    assert len(train_a) == 55_000 and len(val_a) == 5_000
    assert not set(train_a.tolist()) & set(val_a.tolist())


def test_preprocess_accepts_what_users_have() -> None:
    digit = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    expected = preprocess(torch.from_numpy(digit))
    assert expected.shape == (1, 1, 32, 32)
    assert torch.allclose(preprocess(digit), expected)
    assert torch.allclose(preprocess(Image.fromarray(digit)), expected)
    assert torch.allclose(preprocess(torch.from_numpy(digit).float() / 255), expected, atol=1e-5)
    batch = preprocess([digit, digit, digit])
    assert batch.shape == (3, 1, 32, 32) and torch.allclose(batch[2], expected[0])
    # Normalisation: a black pixel maps to -mean/std.
    assert preprocess(np.zeros((28, 28), np.uint8))[0, 0, 0, 0].item() == pytest.approx(-0.1307 / 0.3081)


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (torch.zeros(0, 28, 28, dtype=torch.uint8), ValueError, "empty batch"),
        (torch.full((28, 28), float("nan")), ValueError, "NaN or infinite"),
        (torch.full((28, 28), 3.0), ValueError, r"scaled to \[0, 1\]"),
        (torch.zeros(2, 3, 4, 28, 28), ValueError, "Expected an image"),
        (torch.zeros(2, 3, 28, 28), ValueError, "Expected 1 channel"),
        ("digit.png", TypeError, "takes torch tensors, numpy arrays, PIL images"),
        ([], ValueError, "empty list"),
        (torch.zeros(28, 28, dtype=torch.bool), TypeError, "Unsupported image dtype"),
    ],
)
def test_preprocess_errors(images: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        preprocess(images)


def test_create_transform_follows_the_model() -> None:
    model = mobilenet_v1(resolution_mult=0.75, in_chans=3)
    x = create_transform(model.pretrained_cfg)(torch.zeros(4, 28, 28, dtype=torch.uint8))
    assert x.shape == (4, 3, 24, 24)


def test_identity_augmentation_equals_inference_resize() -> None:
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    for size in (24, 28, 32):
        augmented = augment_batch(images, size, (0.1307,), (0.3081,), AugmentConfig(0, 0, 0), torch.Generator())
        reference = resize_normalize(images[:, None], size, (0.1307,), (0.3081,))
        assert torch.allclose(augmented, reference, atol=1e-5)


def test_augmentation_is_reproducible_and_random() -> None:
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    cfg = AugmentConfig()
    a = augment_batch(images, 32, (0.0,), (1.0,), cfg, torch.Generator().manual_seed(1))
    b = augment_batch(images, 32, (0.0,), (1.0,), cfg, torch.Generator().manual_seed(1))
    c = augment_batch(images, 32, (0.0,), (1.0,), cfg, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1  # resampling never leaves the pixel range

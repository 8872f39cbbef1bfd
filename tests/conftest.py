"""Shared fixtures: where the test data lives, and a deterministic torch setup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI and developers keep MNIST in ../shared/data/mnist beside the repository;
# MOBILENET_MNIST_TEST_DATA overrides that.
MNIST_DIR = Path(os.environ.get("MOBILENET_MNIST_TEST_DATA", REPO_ROOT.parent / "shared" / "data" / "mnist"))
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder with the four MNIST IDX files; tests fail (not skip) if it is missing."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST not found at {MNIST_DIR}; set MOBILENET_MNIST_TEST_DATA.")
    return MNIST_DIR


@pytest.fixture(scope="session")
def fashion_mnist_dir() -> Path:
    """Folder of Debian's dataset-fashion-mnist package (installed by .ci/run)."""
    if not (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail("Fashion-MNIST missing: apt-get install dataset-fashion-mnist")
    return FASHION_MNIST_DIR


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)

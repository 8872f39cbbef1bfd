"""Shared fixtures: where the test data lives, and a deterministic torch setup."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI and developers keep MNIST in ../shared/data/mnist beside the repository;
# MOBILENET_MNIST_TEST_DATA overrides that.
MNIST_DIR = Path(os.environ.get("MOBILENET_MNIST_TEST_DATA", REPO_ROOT.parent / "shared" / "data" / "mnist"))
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        help="also run the slow end-to-end tests (training runs, full test-set evaluations, torchrun)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the tests marked ``slow`` unless ``--runslow`` or ``-m`` asks for them."""
    if config.getoption("--runslow") or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


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


@pytest.fixture(autouse=True)
def _torch_threads() -> Iterator[None]:
    """Give each test the thread count it started with: the CLI's ``--threads`` (run in process)
    sets it for the whole process, and a later training test then ran on one thread and came
    out differently (a CI run left the fast preset's run at 98.91 %)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _fresh_torchscript_classes() -> None:
    """Start each test with TorchScript's class cache empty, as PyTorch's own JIT tests do.

    Scripted classes are cached process-wide; one CI run saw a later ``torch.jit.script`` of
    a plain ``Conv2d`` fail ("builtin cannot be used as a value") after other tests had
    scripted models, and the test passed in isolation.
    """
    torch.jit._state._clear_class_state()

"""The MNIST-C-style corruptions of ``benchmarks/corruptions.py``: shapes, identities, determinism, geometry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corruptions import CORRUPTIONS, DEFAULT_STRENGTH, STRENGTHS, corrupt

IDENTITY = {"scale": 1.0, "contrast": 1.0}


def _digits(n: int = 6, seed: int = 0) -> torch.Tensor:
    """Blob-and-stroke 'digits' near the center, white on black, uint8 (n, 28, 28)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 28, 28)
    x[:, 8:20, 12:16] = 255
    x[:, 8:11, 10:19] = 200
    x = x * (0.6 + 0.4 * torch.rand(n, 1, 1, generator=g))
    return x.round().to(torch.uint8)


def _center_of_mass(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    rows = torch.arange(x.shape[1], dtype=torch.float32)
    cols = torch.arange(x.shape[2], dtype=torch.float32)
    mass = x.sum((1, 2))
    return torch.stack([(x.sum(2) * rows).sum(1) / mass, (x.sum(1) * cols).sum(1) / mass], 1)


def test_tables_cover_every_corruption() -> None:
    assert set(STRENGTHS) == set(CORRUPTIONS) == set(DEFAULT_STRENGTH)
    for name, levels in STRENGTHS.items():
        assert DEFAULT_STRENGTH[name] in levels, name


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_shape_dtype_identity_and_determinism(name: str) -> None:
    x = _digits()
    for strength in STRENGTHS[name]:
        y = corrupt(x, name, strength, seed=3)
        assert y.shape == x.shape and y.dtype == torch.uint8
        assert torch.equal(y, corrupt(x, name, strength, seed=3))
    clean = corrupt(x, name, IDENTITY.get(name, 0))
    assert torch.equal(clean, x)
    assert not torch.equal(corrupt(x, name, DEFAULT_STRENGTH[name]), x)


def test_seed_changes_random_corruptions() -> None:
    x = _digits()
    for name in ("shift", "noise", "impulse", "lines"):
        assert not torch.equal(
            corrupt(x, name, DEFAULT_STRENGTH[name], seed=0), corrupt(x, name, DEFAULT_STRENGTH[name], seed=1)
        )


@pytest.mark.parametrize("pixels", [2.0, 4.0])
def test_shift_moves_the_center_of_mass(pixels: float) -> None:
    x = _digits()
    moved = _center_of_mass(corrupt(x, "shift", pixels)) - _center_of_mass(x)
    assert torch.allclose(moved.norm(dim=1), torch.full((len(x),), pixels), atol=0.1)


def test_rotation_by_180_twice_is_identity() -> None:
    x = _digits()
    once = corrupt(x, "rotate", 180)
    assert torch.equal(once, x.flip(1, 2))
    twice = corrupt(once, "rotate", 180, seed=1)
    assert (twice.int() - x.int()).abs().max() <= 1


def test_inversion_and_mass_preservation() -> None:
    x = _digits()
    assert torch.equal(corrupt(x, "invert", 1), 255 - x)
    assert torch.equal(corrupt(x.numpy(), "invert", 1), 255 - x)  # numpy is accepted
    rotated = corrupt(x, "rotate", 45)
    assert abs(rotated.float().sum() / x.float().sum() - 1) < 0.02
    assert corrupt(x, "scale", 0.5).float().sum() < 0.35 * x.float().sum()  # the ink shrinks by 0.5²
    assert corrupt(x, "thicken", 1).float().sum() > x.float().sum() > corrupt(x, "thin", 1).float().sum()


def test_bad_arguments() -> None:
    x = _digits()
    with pytest.raises(ValueError, match="Unknown corruption"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(x.float(), "blur", 1)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(x[0], "blur", 1)
    with pytest.raises(TypeError, match="uint8"):
        corrupt([[0]], "blur", 1)
    with pytest.raises(TypeError, match="finite number"):
        corrupt(x, "blur", "1")
    with pytest.raises(ValueError, match=">= 0"):
        corrupt(x, "rotate", -1)
    with pytest.raises(ValueError, match="> 0"):
        corrupt(x, "scale", 0)
    with pytest.raises(ValueError, match="whole number"):
        corrupt(x, "thicken", 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corrupt(x, "impulse", 2)
    assert np.asarray(corrupt(x[:0], "shift", 2)).shape == (0, 28, 28)

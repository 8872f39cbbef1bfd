"""Batched affine augmentation: the mirror option and its random stream."""

from __future__ import annotations

import pytest
import torch

from mobilenet_mnist.data.augment import AugmentConfig, augment_batch, random_affine_thetas


def asymmetric_images(n: int = 6) -> torch.Tensor:
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 2:9] = 255  # a bar on the left only
    return images


def test_hflip_probability_one_mirrors_every_image() -> None:
    images = asymmetric_images()
    mirrored = augment_batch(images, 28, (0.0,), (1.0,), AugmentConfig(0, 0, 0, hflip=1.0), torch.Generator())
    plain = augment_batch(images, 28, (0.0,), (1.0,), AugmentConfig(0, 0, 0), torch.Generator())
    assert torch.allclose(mirrored, plain.flip(-1), atol=1e-5)


def test_hflip_half_mirrors_some_and_keeps_others() -> None:
    cfg = AugmentConfig(0, 0, 0, hflip=0.5)
    thetas = random_affine_thetas(400, cfg, torch.Generator().manual_seed(0))
    mirrored = (thetas[:, 0, 0] < 0).float().mean().item()
    assert 0.4 < mirrored < 0.6
    assert torch.equal(thetas[:, 1, 1], torch.ones(400))  # vertical axis untouched


def test_hflip_off_keeps_the_random_stream_of_older_recipes() -> None:
    a = random_affine_thetas(8, AugmentConfig(), torch.Generator().manual_seed(5))
    b = random_affine_thetas(8, AugmentConfig(hflip=0.0), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_hflip_must_be_a_probability(bad: float) -> None:
    with pytest.raises(ValueError, match="hflip is a probability in \\[0, 1\\]"):
        AugmentConfig(hflip=bad)


def test_erase_probability_one_blanks_one_rectangle_per_image() -> None:
    images = torch.full((16, 28, 28), 200, dtype=torch.uint8)
    out = augment_batch(images, 32, (0.0,), (1.0,), AugmentConfig(0, 0, 0, erase=1.0), torch.Generator().manual_seed(1))
    erased = out == 0
    for mask in erased[:, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        # One filled rectangle: its bounding box is entirely erased.
        assert mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        area = mask.float().mean().item()
        assert 0.015 <= area <= 0.25, area
    assert not torch.equal(erased[0], erased[1])  # rectangles differ between images


def test_erase_off_and_zero_probability_erase_nothing() -> None:
    images = torch.full((8, 28, 28), 200, dtype=torch.uint8)
    out = augment_batch(images, 28, (0.0,), (1.0,), AugmentConfig(0, 0, 0, erase=0.0), torch.Generator())
    assert (out > 0).all()


def test_erase_half_erases_some_images_and_keeps_others() -> None:
    images = torch.full((200, 28, 28), 200, dtype=torch.uint8)
    out = augment_batch(images, 28, (0.0,), (1.0,), AugmentConfig(0, 0, 0, erase=0.5), torch.Generator().manual_seed(0))
    erased = (out == 0).flatten(1).any(1).float().mean().item()
    assert 0.35 < erased < 0.65


def test_erase_keeps_the_affine_random_stream() -> None:
    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    plain = augment_batch(images, 32, (0.0,), (1.0,), AugmentConfig(), torch.Generator().manual_seed(3))
    erased = augment_batch(images, 32, (0.0,), (1.0,), AugmentConfig(erase=1.0), torch.Generator().manual_seed(3))
    keep = erased != 0
    assert torch.equal(plain[keep], erased[keep])


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_erase_must_be_a_probability(bad: float) -> None:
    with pytest.raises(ValueError, match="erase is a probability in \\[0, 1\\]"):
        AugmentConfig(erase=bad)

"""Batched data augmentation on tensors: one ``grid_sample`` per batch, no per-image Python.

A random affine transform (rotation, scale, translation) and the resize to the
training input size happen in the same resampling step. With the identity transform
the result equals :func:`mobilenet_mnist.data.resize_normalize`, so training and
inference see pixels produced the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..utils.checks import check_number
from .transforms import check_normalization

__all__ = ["AugmentConfig", "augment_batch"]


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random affine augmentation.

    Attributes:
        rotate_deg: Maximum absolute rotation in degrees.
        scale: Maximum relative zoom (0.1 → zoom in [0.9, 1.1]).
        translate: Maximum shift as a fraction of the image side.
        hflip: Probability of a horizontal mirror (0 for digits; 0.5 suits clothing).
        erase: Probability of random erasing (Zhong et al., 2017): a rectangle covering
            2–20 % of the image, of aspect ratio 0.3–3.3, is set to the mean pixel (0 after
            normalization). Helps on clothing; 0 disables it.
    """

    rotate_deg: float = 10.0
    scale: float = 0.1
    translate: float = 0.1
    hflip: float = 0.0
    erase: float = 0.0

    def __post_init__(self) -> None:
        for name in ("hflip", "erase"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {value!r}.")

    @property
    def affine(self) -> bool:
        """Whether a random affine transform (or mirror) is drawn per image."""
        return bool(self.rotate_deg or self.scale or self.translate or self.hflip)

    @property
    def enabled(self) -> bool:
        """Whether any augmentation is applied."""
        return self.affine or bool(self.erase)


def _uniform(n: int, bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=generator) * 2 - 1) * bound


def random_affine_thetas(n: int, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """(n, 2, 3) matrices mapping output to input coordinates in [-1, 1] units."""
    angle = _uniform(n, math.radians(cfg.rotate_deg), generator)
    zoom = 1 + _uniform(n, cfg.scale, generator)
    shift = torch.stack([_uniform(n, 2 * cfg.translate, generator) for _ in range(2)], dim=1)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    if cfg.hflip:
        # Mirroring negates the output x coordinate, i.e. the first column of the matrix.
        # Drawn only when enabled, so recipes without flips keep their random stream.
        flip = torch.rand(n, generator=generator) < cfg.hflip
        theta[:, :, 0] = torch.where(flip[:, None], -theta[:, :, 0], theta[:, :, 0])
    return theta


def _between(n: int, bounds: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    return bounds[0] + torch.rand(n, generator=generator) * (bounds[1] - bounds[0])


ERASE_AREA = (0.02, 0.2)
ERASE_LOG_ASPECT = (math.log(0.3), math.log(1 / 0.3))


def random_erase_masks(n: int, side: int, probability: float, generator: torch.Generator) -> torch.Tensor:
    """(n, 1, side, side) boolean masks, True inside each image's erased rectangle.

    Each image gets a rectangle with probability ``probability``; its area and aspect
    ratio are drawn from :data:`ERASE_AREA` and :data:`ERASE_LOG_ASPECT`, and it is
    clipped to the image.
    """
    area = side * side * _between(n, ERASE_AREA, generator)
    aspect = torch.exp(_between(n, ERASE_LOG_ASPECT, generator))
    height = (area * aspect).sqrt().round().clamp(1, side)
    width = (area / aspect).sqrt().round().clamp(1, side)
    top = (torch.rand(n, generator=generator) * (side - height + 1)).floor()
    left = (torch.rand(n, generator=generator) * (side - width + 1)).floor()
    chosen = torch.rand(n, generator=generator) < probability
    pixels = torch.arange(side, dtype=torch.float32)
    rows = (pixels >= top[:, None]) & (pixels < (top + height)[:, None])
    cols = (pixels >= left[:, None]) & (pixels < (left + width)[:, None])
    return (rows[:, :, None] & cols[:, None, :] & chosen[:, None, None]).unsqueeze(1)


def _check_augment_args(
    images: object, input_size: object, mean: object, std: object, cfg: object, generator: object
) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        got = f"dtype {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(
            f"augment_batch takes a uint8 tensor of pixels (0-255), got {got}; pass the images as "
            "load_dataset returns them (ImageTensors.images), not scaled or normalised."
        )
    if images.dim() not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got shape {tuple(images.shape)}.")
    check_number("input_size", input_size, 1, integer=True)
    check_normalization(mean, std, 1 if images.dim() == 3 else images.shape[1])
    if not isinstance(cfg, AugmentConfig):
        raise TypeError(f"cfg must be an AugmentConfig, e.g. AugmentConfig(rotate_deg=10), got {type(cfg).__name__}.")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            "generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0), "
            f"got {type(generator).__name__}."
        )


def augment_batch(
    images: torch.Tensor,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    cfg: AugmentConfig,
    generator: torch.Generator,
) -> torch.Tensor:
    """Augment, resize and normalize a batch of uint8 images in one resampling step.

    Args:
        images: uint8 (N, H, W) or (N, C, H, W).
        input_size: Output side in pixels.
        mean: Per-channel normalization mean (for pixels scaled to [0, 1]).
        std: Per-channel normalization std.
        cfg: Augmentation ranges.
        generator: Source of randomness (CPU generator), for reproducible runs.

    Returns:
        Float tensor (N, C, input_size, input_size) on the images' device.

    Raises:
        TypeError: If ``images`` is not a uint8 tensor, ``cfg`` not an :class:`AugmentConfig`
            or ``generator`` not a ``torch.Generator``.
        ValueError: If ``images`` is not 3-D or 4-D, ``input_size`` is not positive, or
            ``mean``/``std`` do not hold one valid value per channel.
    """
    _check_augment_args(images, input_size, mean, std, cfg, generator)
    x = images.unsqueeze(1) if images.dim() == 3 else images
    x = x.float().div_(255)
    n, channels = x.shape[:2]
    if cfg.affine:
        theta = random_affine_thetas(n, cfg, generator).to(x.device)
    else:
        theta = torch.eye(2, 3, device=x.device).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, channels, input_size, input_size], align_corners=False)
    # "border" matches F.interpolate at the edges; MNIST borders are black anyway.
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean_t = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    x = (x - mean_t) / std_t
    if cfg.erase:
        # Drawn after the affine parameters, so recipes without erasing keep their random stream.
        x = x.masked_fill(random_erase_masks(n, input_size, cfg.erase, generator).to(x.device), 0.0)
    return x

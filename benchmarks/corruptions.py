"""MNIST-C-style corruptions (Mu & Gilmer, 2019), generated on the fly from uint8 digit batches.

Every corruption takes uint8 ``(N, H, W)`` white-on-black images (MNIST's layout), a
strength and a ``torch.Generator``, and returns uint8 ``(N, H, W)``. Everything is
vectorized torch (``affine_grid``/``grid_sample``, separable convolutions, pooling) and
deterministic for a given generator state; :func:`corrupt` seeds a fresh generator.

Strength means, per corruption (0, or 1 for ``scale``/``contrast``, is the identity):

* ``shift``: pixels the image content moves, in a random direction per image;
* ``rotate``: degrees, clockwise or counter-clockwise at random per image;
* ``scale``: zoom factor about the center (< 1 shrinks the digit; anti-aliased);
* ``blur``: Gaussian sigma in pixels;
* ``noise``: standard deviation of additive Gaussian noise, in gray levels (0–255);
* ``impulse``: share of pixels set to black or white (salt and pepper);
* ``invert``: blend toward ``255 - x`` (1 = fully inverted, black ink on white);
* ``thicken``: radius in pixels of a grayscale dilation by a diamond (fatter strokes);
* ``thin``: radius in pixels of a grayscale erosion by a diamond (thinner strokes, may break them);
* ``lines``: number of random straight white lines drawn across the image (MNIST-C's
  "zigzag"/"line" family);
* ``contrast``: factor applied around mid-gray (``127.5 + (x - 127.5) * c``; 1 = clean);
* ``brightness``: gray level of the background (ink stays white; MNIST-C's "fog"-like
  lift of the black paper).

Example:
    >>> import torch
    >>> x = torch.zeros(2, 28, 28, dtype=torch.uint8)
    >>> corrupt(x, "rotate", 30).shape
    torch.Size([2, 28, 28])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["CORRUPTIONS", "DEFAULT_STRENGTH", "STRENGTHS", "corrupt"]

_CHUNK = 2048  # images resampled at once (bounds the memory of the supersampled grids)


def _float(images: torch.Tensor) -> torch.Tensor:
    return images.float().unsqueeze(1)


def _uint8(x: torch.Tensor) -> torch.Tensor:
    return x.squeeze(1).round().clamp(0, 255).to(torch.uint8)


def _affine(images: torch.Tensor, theta: torch.Tensor, supersample: int = 1) -> torch.Tensor:
    """Resample with (N, 2, 3) output→input matrices in [-1, 1] units; zero (black) outside.

    ``supersample`` > 1 samples an output grid that many times finer and area-averages it:
    the anti-aliasing a shrinking transform needs.
    """
    n, h, w = images.shape
    out = []
    for start in range(0, n, _CHUNK):
        x = _float(images[start : start + _CHUNK])
        t = theta[start : start + _CHUNK]
        grid = F.affine_grid(t, [len(x), 1, h * supersample, w * supersample], align_corners=False)
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if supersample > 1:
            y = F.avg_pool2d(y, supersample)
        out.append(_uint8(y))
    return torch.cat(out) if out else images.clone()


def _matrices(n: int, angle: torch.Tensor, zoom: float | torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Output→input matrices for content rotated by ``angle`` (radians), zoomed, shifted (normalized units)."""
    zoom = torch.as_tensor(zoom, dtype=torch.float32).expand(n)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # input = R(-angle) · (output - shift) / zoom
    tx = -(cos * shift[:, 0] + sin * shift[:, 1])
    ty = -(-sin * shift[:, 0] + cos * shift[:, 1])
    return torch.stack([torch.stack([cos, sin, tx], 1), torch.stack([-sin, cos, ty], 1)], 1)


def shift(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Move the content ``strength`` pixels in a uniformly random direction per image."""
    n, h, w = images.shape
    direction = torch.rand(n, generator=generator) * (2 * math.pi)
    pixels = torch.stack([torch.cos(direction), torch.sin(direction)], 1) * strength
    normalized = pixels * torch.tensor([2 / w, 2 / h])
    return _affine(images, _matrices(n, torch.zeros(n), 1.0, normalized))


def rotate(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate about the image center by ``strength`` degrees, direction random per image."""
    n = len(images)
    sign = torch.randint(0, 2, (n,), generator=generator).float() * 2 - 1
    return _affine(images, _matrices(n, sign * math.radians(strength), 1.0, torch.zeros(n, 2)))


def scale(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Zoom about the image center by the factor ``strength`` (< 1 shrinks), anti-aliased."""
    del generator  # deterministic
    n = len(images)
    supersample = max(1, math.ceil(1 / strength)) if strength < 1 else 1
    return _affine(images, _matrices(n, torch.zeros(n), strength, torch.zeros(n, 2)), supersample)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def blur(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian blur with sigma ``strength`` pixels (separable convolution, zero padding)."""
    del generator
    if strength == 0:
        return images.clone()
    kernel = _gaussian_kernel(strength)
    radius = len(kernel) // 2
    x = _float(images)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1), padding=(0, radius))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return _uint8(x)


def noise(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``strength`` gray levels; clip to 0–255."""
    x = images.float() + torch.randn(images.shape, generator=generator) * strength
    return x.round().clamp(0, 255).to(torch.uint8)


def impulse(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Set a share ``strength`` of the pixels to 0 or 255 at random (salt and pepper)."""
    hit = torch.rand(images.shape, generator=generator) < strength
    salt = torch.rand(images.shape, generator=generator) < 0.5
    value = salt.to(torch.uint8) * 255
    return torch.where(hit, value, images)


def invert(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Blend toward the negative: ``x + strength · (255 - 2x)``; 1 gives ``255 - x``."""
    del generator
    if strength == 1:
        return 255 - images
    x = images.float()
    return (x + strength * (255 - 2 * x)).round().clamp(0, 255).to(torch.uint8)


def _radius(strength: float, name: str) -> int:
    radius = round(strength)
    if radius != strength:
        raise ValueError(f"{name} takes a whole number of pixels, got {strength!r}.")
    return radius


def _cross_max(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` passes of a 3×3 cross-shaped (4-neighbour) max filter on (N, 1, H, W) floats."""
    for _ in range(steps):
        padded = F.pad(x, (1, 1, 1, 1))
        x = torch.stack([x, padded[..., :-2, 1:-1], padded[..., 2:, 1:-1], padded[..., 1:-1, :-2],
                         padded[..., 1:-1, 2:]]).amax(0)  # fmt: skip
    return x


def thicken(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Grayscale dilation by a diamond of radius ``strength`` pixels: strokes about 2·strength px fatter."""
    del generator
    return _uint8(_cross_max(_float(images), _radius(strength, "thicken")))


def thin(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Grayscale erosion by a diamond of radius ``strength`` pixels: thinner strokes (thin ones break)."""
    del generator
    return _uint8(-_cross_max(-_float(images), _radius(strength, "thin")))


def lines(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Draw ``strength`` random white straight lines (about 1.5 px wide, anti-aliased) per image."""
    count = _radius(strength, "lines")
    n, h, w = images.shape
    if count == 0:
        return images.clone()
    ends = torch.rand(n, count, 2, 2, generator=generator) * torch.tensor([w - 1, h - 1])  # (n, L, end, xy)
    a, b = ends[:, :, 0], ends[:, :, 1]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    points = torch.stack([xs, ys], -1).view(1, 1, h, w, 2)
    ab = (b - a).view(n, count, 1, 1, 2)
    ap = points - a.view(n, count, 1, 1, 2)
    t = ((ap * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-6)).clamp(0, 1)
    distance = (ap - t.unsqueeze(-1) * ab).norm(dim=-1)  # (n, L, h, w)
    ink = (1.25 - distance).clamp(0, 1).amax(1) * 255  # 1.5 px core, soft edge
    return torch.maximum(images.float(), ink).round().to(torch.uint8)


def contrast(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Scale the pixel values around mid-gray by ``strength`` (1 = clean, 0 = flat gray)."""
    del generator
    x = 127.5 + (images.float() - 127.5) * strength
    return x.round().clamp(0, 255).to(torch.uint8)


def brightness(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Lift the black background to gray level ``strength``; white ink stays white."""
    del generator
    x = strength + images.float() * (1 - strength / 255)
    return x.round().clamp(0, 255).to(torch.uint8)


#: Corruption name → function ``(uint8 (N, H, W), strength, generator) → uint8 (N, H, W)``.
CORRUPTIONS: dict[str, Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]] = {
    "shift": shift,
    "rotate": rotate,
    "scale": scale,
    "blur": blur,
    "noise": noise,
    "impulse": impulse,
    "invert": invert,
    "thicken": thicken,
    "thin": thin,
    "lines": lines,
    "contrast": contrast,
    "brightness": brightness,
}

#: A few levels per corruption, mild first; the first level is the clean identity.
STRENGTHS: dict[str, tuple[float, ...]] = {
    "shift": (0, 2, 4, 6, 8),
    "rotate": (0, 15, 30, 45, 60),
    "scale": (1.0, 0.8, 0.6, 0.5, 0.4),
    "blur": (0, 0.5, 1.0, 1.5, 2.0),
    "noise": (0, 32, 64, 96, 128),
    "impulse": (0, 0.03, 0.06, 0.1, 0.2),
    "invert": (0, 1),
    "thicken": (0, 1, 2),
    "thin": (0, 1),
    "lines": (0, 1, 2, 3),
    "contrast": (1.0, 0.5, 0.3, 0.2, 0.1),
    "brightness": (0, 64, 128, 192),
}

#: The mid strength the robustness benchmark reports (one number per corruption).
DEFAULT_STRENGTH: dict[str, float] = {
    "shift": 6,
    "rotate": 30,
    "scale": 0.5,
    "blur": 1.5,
    "noise": 64,
    "impulse": 0.1,
    "invert": 1,
    "thicken": 1,
    "thin": 1,
    "lines": 2,
    "contrast": 0.2,
    "brightness": 128,
}


def _check(images: object, name: object, strength: object) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a uint8 torch.Tensor (or numpy array), got {type(images).__name__}.")
    if images.dtype != torch.uint8 or images.dim() != 3:
        raise ValueError(
            f"images must be uint8 (N, H, W) white ink on black, got dtype {images.dtype}, shape {tuple(images.shape)}."
        )
    if name not in CORRUPTIONS:
        raise ValueError(f"Unknown corruption {name!r}; choose one of {sorted(CORRUPTIONS)}.")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength):
        raise TypeError(f"strength must be a finite number, got {strength!r}.")
    if strength < 0 or (name == "scale" and strength == 0):
        raise ValueError(f"strength of {name!r} must be {'> 0' if name == 'scale' else '>= 0'}, got {strength!r}.")
    if name in ("impulse", "invert") and strength > 1:
        raise ValueError(f"strength of {name!r} is a share in [0, 1], got {strength!r}.")
    if name == "brightness" and strength > 255:
        raise ValueError(f"strength of 'brightness' is a gray level in [0, 255], got {strength!r}.")
    return images.cpu()


def corrupt(images: torch.Tensor | np.ndarray, name: str, strength: float, seed: int = 0) -> torch.Tensor:
    """Apply one corruption with a generator seeded by ``seed``: same inputs, same output.

    Args:
        images: uint8 (N, H, W) white ink on black (a numpy array is converted).
        name: A key of :data:`CORRUPTIONS`.
        strength: The corruption's strength (see the module docstring; :data:`STRENGTHS`).
        seed: Seed of the random directions, noise and lines.

    Returns:
        uint8 (N, H, W) on the CPU.

    Raises:
        TypeError: If ``images`` is not a tensor/array or ``strength`` not a number.
        ValueError: If ``images`` is not uint8 (N, H, W), ``name`` is unknown, or
            ``strength`` is out of the corruption's range.
    """
    images = _check(images, name, strength)
    generator = torch.Generator().manual_seed(int(seed))
    return CORRUPTIONS[name](images, float(strength), generator)

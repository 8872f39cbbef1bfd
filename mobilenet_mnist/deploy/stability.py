"""How steady a prediction stays when the digit is turned a little: the model's own doubt.

A digit the model reads surely is read the same when it is turned by ``VIEW_ANGLES``
(people slant their writing at least that much, and MNIST holds such slants). Where the
cleanup went wrong (a stroke lost along a printed line, a neighbour's stroke kept, a stroke
washed out by a glare) or the handwriting is ambiguous, the turned copies often read
otherwise, even when the upright copy gets 99 %. :func:`unsteadiness` measures that, and
:func:`stability` turns it into a factor in (0, 1] that divides the temperature, as the
ink finder's quality (:mod:`mobilenet_mnist.data.quality`) does:
``softmax(logits · quality · stability / T)``.

Like the quality, it is measured on images of ``MIN_SIDE_FOR_VIEWS`` (32) pixels a side
or more, photos and scans: MNIST-sized images keep the checkpoint's own calibration (its
temperature and not-a-digit threshold were chosen on MNIST's digits, where the turned
copies would flag about three times as many right answers).

The weight is fitted with the quality's weights on the hard digit set's dev split
(``benchmarks/fit_quality.py``). The turned copies cost one forward pass each (about
1.2 ms an image on one CPU core for the default checkpoint), not another cleanup.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..data.ink import MIN_SIDE_FOR_QUALITY

__all__ = ["MIN_SIDE_FOR_VIEWS", "STABILITY_WEIGHT", "VIEW_ANGLES", "stability", "turned_views", "unsteadiness"]

#: The turned copies, in degrees (counter-clockwise positive).
VIEW_ANGLES = (-20.0, 20.0)
#: Images with a shorter side under this many pixels are not turned (stability 1).
MIN_SIDE_FOR_VIEWS = MIN_SIDE_FOR_QUALITY
#: ``stability = exp(-STABILITY_WEIGHT · unsteadiness)``; fitted by ``benchmarks/fit_quality.py``.
STABILITY_WEIGHT = 1.0603


def turned_views(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images → (V·N, C, H, W): all of them turned by each of ``VIEW_ANGLES`` in turn.

    Args:
        images: Float images, ink bright on a zero background (the MNIST-style frame).

    Returns:
        The turned copies about the image's center, bilinearly interpolated, the corners
        filled with zeros (``grid_sample``; torchvision's ``rotate`` does the same, but its
        import would add a second to every program's start).
    """
    n = images.shape[0]
    turns = []
    for angle in VIEW_ANGLES:
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        theta = images.new_tensor([[cos, -sin, 0.0], [sin, cos, 0.0]]).expand(n, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        turns.append(F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    return torch.cat(turns)


def unsteadiness(logits: torch.Tensor, view_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """How much of the top label's probability the turned copies lose, in [0, 1].

    Args:
        logits: (N, C) logits of the images as they are.
        view_logits: (V, N, C) logits of the V turned copies (:func:`turned_views` order,
            reshaped); V may be 0 (then nothing is unsteady).
        temperature: The model's temperature.

    Returns:
        (N,) ``1 - mean_v softmax(view_logits[v] / T)[top]``, ``top`` being each image's
        top label; float32.

    Raises:
        ValueError: For shapes that do not match.
    """
    if view_logits.dim() != 3 or view_logits.shape[1:] != logits.shape:
        raise ValueError(
            f"view_logits must be (V, N, C) with (N, C) = logits' shape {tuple(logits.shape)}, "
            f"got {tuple(view_logits.shape)}."
        )
    if view_logits.shape[0] == 0:
        return torch.zeros(logits.shape[0])
    top = logits.argmax(1)
    kept = (view_logits.float() / temperature).softmax(2).gather(2, top.expand(view_logits.shape[0], -1)[..., None])
    return (1 - kept[..., 0].mean(0)).clamp_(0, 1)


def stability(unsteady: torch.Tensor) -> torch.Tensor:
    """(N,) unsteadiness → (N,) stability in (0, 1]: ``exp(-STABILITY_WEIGHT · unsteadiness)``."""
    return torch.exp(-STABILITY_WEIGHT * unsteady.float())

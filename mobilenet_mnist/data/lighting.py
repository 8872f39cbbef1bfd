"""Local lighting of digit photos: shadows, gradients and glare, evened out.

A glare highlight on a whiteboard or a glossy page washes the strokes under it out toward
white; a shadow darkens ink and paper together. Both scale the ink's contrast locally:
a glare by ``1 - g`` toward white (a screen blend), a shadow by ``s`` toward black. The
paper shows how much: where it is lighter than elsewhere, a glare; darker, a shadow.
:func:`even_out` measures the paper's level around every pixel (:func:`local_background`)
and divides the ink's contrast by that gain (:func:`contrast_gain`), so that a washed-out
stroke is as strong as the rest of the digit.

Works on images whose ink is bright (after :func:`~mobilenet_mnist.data.ink.ink_bright`);
the formula is the same for dark ink on light paper and light ink on a dark board.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["MAX_GAIN", "contrast_gain", "even_out", "even_out_with_gain", "local_background", "local_mean"]

#: The background is measured on a copy reduced to at most this side ...
COARSE_SIDE = 64
#: ... with an opening this fraction of its side wide (wider than any stroke: ink goes).
OPENING = 0.2
#: Paper within this of black or white is not measured for a glare or shadow toward that end.
MIN_LEVEL = 0.08
#: Contrast is raised at most this many times (a glare that left nothing is not invented).
MAX_GAIN = 5.0


def _max_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size``×``size`` maximum filter (edges replicated), as two 1-D passes: O(2·size) a pixel."""
    pad = size // 2
    rows = F.max_pool2d(F.pad(x, (pad, pad, 0, 0), mode="replicate"), (1, size), stride=1)
    return F.max_pool2d(F.pad(rows, (0, 0, pad, pad), mode="replicate"), (size, 1), stride=1)


def _open(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grayscale opening (a minimum then a maximum filter): bright structures narrower than ``size`` go."""
    return _max_filter(-_max_filter(-x, size), size)


def _box_blur(x: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size``×``size`` mean filter (edges replicated), as two 1-D passes."""
    pad = size // 2
    rows = F.avg_pool2d(F.pad(x, (pad, pad, 0, 0), mode="replicate"), (1, size), stride=1)
    return F.avg_pool2d(F.pad(rows, (0, 0, pad, pad), mode="replicate"), (size, 1), stride=1)


def _coarse(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``x`` area-reduced to at most ``COARSE_SIDE`` a side, and the (odd) window ``OPENING`` of its side."""
    h, w = x.shape[-2:]
    factor = max(h, w) / COARSE_SIDE
    ch, cw = max(1, round(h / max(factor, 1))), max(1, round(w / max(factor, 1)))
    return F.interpolate(x, size=(ch, cw), mode="area"), max(3, round(OPENING * max(ch, cw))) | 1


def local_background(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bright ink → the paper's level around each pixel, the ink left out."""
    coarse, size = _coarse(x)
    # A blur half the opening's width smooths its blocky steps; a full-width one would also
    # fill a glare's dip in the paper, and the strokes under the glare would sink below it.
    smooth = _box_blur(_open(coarse, size), max(3, size // 2) | 1)
    return F.interpolate(smooth, size=x.shape[-2:], mode="bilinear", align_corners=False)


def local_mean(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) → the mean level around each pixel, ink included, over the window of
    :func:`local_background`: a thin stroke stands out from it, a broad glare does not."""
    coarse, size = _coarse(x)
    return F.interpolate(_box_blur(coarse, size), size=x.shape[-2:], mode="bilinear", align_corners=False)


def contrast_gain(background: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """How much of the ink's contrast the light left, from the paper's local and usual levels.

    Args:
        background: (N, 1, H, W) local paper level (bright-ink polarity).
        level: (N,) the paper's usual level.

    Returns:
        (N, 1, H, W) in [1 / MAX_GAIN, 1]: ``b / level`` where the paper is below its usual
        level, ``(1 - b) / (1 - level)`` where it is above (a glare or a shadow, whichever
        polarity the ink had).
    """
    level = level.view(-1, 1, 1, 1)
    # Paper at the end of the range (white paper, ink inverted) leaves no room to measure
    # a change in that direction: its gain is 1.
    below = torch.where(level > MIN_LEVEL, background / level.clamp_min(1e-6), 1.0)
    above = torch.where(level < 1 - MIN_LEVEL, (1 - background) / (1 - level).clamp_min(1e-6), 1.0)
    gain = torch.where(background < level, below, above)
    return gain.clamp(1 / MAX_GAIN, 1)


def even_out(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bright ink → its contrast over the local paper, glare and shadows undone.

    Args:
        x: Gray images in [0, 1], ink brighter than the paper.

    Returns:
        (N, 1, H, W) the ink's height above the local paper, divided by the light's gain;
        the paper's usual level is the median of its local levels (a thick box along the
        border does not count).
    """
    return even_out_with_gain(x)[0]


def even_out_with_gain(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`even_out`, and the gain it divided by (:func:`contrast_gain`), (N, 1, H, W) each."""
    background = local_background(x)
    level = background.flatten(1).median(dim=1).values
    gain = contrast_gain(background, level)
    return (x - background) / gain, gain

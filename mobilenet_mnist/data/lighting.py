"""Local lighting of digit photos: shadows, gradients and glare, evened out.

A glare highlight on a whiteboard or a glossy page washes the strokes under it out toward
white; a shadow darkens ink and paper together. Both scale the ink's contrast locally:
a glare by ``1 - g`` toward white (a screen blend), a shadow by ``s`` toward black. The
paper shows how much: where it is lighter than elsewhere, a glare; darker, a shadow.
:func:`even_out` measures the paper's level around every pixel (:func:`local_background`)
and divides the ink's contrast by that gain (:func:`contrast_gain`), so that a washed-out
stroke is as strong as the rest of the digit.

The paper alone cannot tell a glare from plain brighter light (a phone photo's lit side):
a glare lifts ink and paper together, more light leaves dark ink dark, and its strokes
stand out *more*. The strokes tell them apart: :func:`confirmed_gain` keeps a zone's gain
only where the ink there stands out less than the ink at steady light. It needs ink on
both sides (a tenth of it each); a digit wholly inside a lit zone keeps the zone's gain,
which raises all of its strokes alike.

Works on images whose ink is bright (after :func:`~mobilenet_mnist.data.ink.ink_bright`);
the formula is the same for dark ink on light paper and light ink on a dark board.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "MAX_GAIN",
    "STEADY_GAIN",
    "confirmed_gain",
    "contrast_gain",
    "even_out",
    "even_out_with_gain",
    "local_background",
    "local_mean",
]

#: The background is measured on a copy reduced to at most this side ...
COARSE_SIDE = 64
#: ... with an opening this fraction of its side wide (wider than any stroke: ink goes).
OPENING = 0.2
#: Paper within this of black or white is not measured for a glare or shadow toward that end.
MIN_LEVEL = 0.08
#: Contrast is raised at most this many times (a glare that left nothing is not invented).
MAX_GAIN = 5.0
#: Gains from this on are the paper's usual unevenness, not a glare or a shadow.
STEADY_GAIN = 0.9
#: A zone's gain is checked against the ink only when the zone, and the paper at steady
#: light, each hold at least this share of the ink.
MIN_INK_SHARE = 0.1


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


def confirmed_gain(raw: torch.Tensor, gain: torch.Tensor, ink: torch.Tensor, lighter: torch.Tensor) -> torch.Tensor:
    """The light's gain, reset to 1 in a zone where the strokes show that the light took no contrast.

    A zone is the paper lighter than usual, or darker, where the gain is under
    ``STEADY_GAIN``. If the light took contrast there (a glare, a shadow), the ink's median
    contrast over the paper is about ``g`` times that at steady light (``g``: the zone's
    gain; on the hard digit set's whiteboards the ratio follows it, 0.3–0.9). If not (more
    light on a phone photo's lit side), it is as large or larger (1.0–1.4 there). So a
    zone whose ink is at least as strong as the ink at steady light gets gain 1; the others,
    and zones or images with too little ink to tell (``MIN_INK_SHARE``), keep their gain.

    Args:
        raw: (N, 1, H, W) the ink's height above the local paper, before any gain.
        gain: (N, 1, H, W) :func:`contrast_gain`.
        ink: (N, 1, H, W) bool, a first guess of the ink.
        lighter: (N, 1, H, W) bool, where the paper is lighter than usual (bright-ink polarity).

    Returns:
        (N, 1, H, W) the gain, 1 in the zones the ink contradicts.
    """
    flat_raw, flat_gain, flat_ink = raw.flatten(1), gain.flatten(1), ink.flatten(1)
    steady = flat_gain >= STEADY_GAIN
    enough = MIN_INK_SHARE * flat_ink.sum(1)
    steady_ink = flat_ink & steady
    steady_contrast = _masked_median(flat_raw, steady_ink)
    out = flat_gain.clone()
    for side in (lighter.flatten(1), ~lighter.flatten(1)):
        zone = side & ~steady
        zone_ink = flat_ink & zone
        known = (zone_ink.sum(1) >= enough) & (steady_ink.sum(1) >= enough) & (enough > 0)
        ratio = _masked_median(flat_raw, zone_ink) / steady_contrast.clamp_min(1e-6)
        untouched = known & (ratio >= 1)
        out = torch.where(zone & untouched[:, None], 1.0, out)
    return out.view_as(gain)


def _masked_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, P) values, (N, P) bool → (N,) median of each row's masked values (NaN where none).

    Row by row on the masked values alone: only the ink's pixels are sorted, not the whole
    image padded with NaNs (``nanmedian``)."""
    nan = values.new_tensor(float("nan"))
    rows = zip(values, mask, strict=True)
    return torch.stack([row[kept].median() if bool(kept.any()) else nan for row, kept in rows])


def even_out_with_gain(
    x: torch.Tensor, ink_of: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`even_out`, and the gain it divided by (:func:`contrast_gain`), (N, 1, H, W) each.

    Args:
        x: As for :func:`even_out`.
        ink_of: A first guess of the ink from a contrast image ((N, 1, H, W) → bool);
            when given, the gain is kept only where that ink confirms it (:func:`confirmed_gain`).
    """
    background = local_background(x)
    level = background.flatten(1).median(dim=1).values
    gain = contrast_gain(background, level)
    raw = x - background
    if ink_of is not None and bool((gain < STEADY_GAIN).any()):
        # The first guess divides by the gain's square root, halfway between the two
        # explanations: divided by the whole gain, a lit side's strokes would outshine the
        # rest and take the whole ink class; undivided, a glare's would be missed.
        ink = ink_of(raw / gain.sqrt())
        gain = confirmed_gain(raw, gain, ink, background < level.view(-1, 1, 1, 1))
    return raw / gain, gain

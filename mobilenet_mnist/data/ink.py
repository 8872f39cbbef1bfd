"""Finding the ink of digit images: polarity, uneven lighting, threshold, specks, blank images.

The first half of :func:`~mobilenet_mnist.data.digits.normalize_digits`, batched in torch on
(N, 1, H, W) gray images in [0, 1] of one size:

1. polarity (:func:`ink_bright`): the background is the border's median; when the darkest
   pixels are farther from it than the brightest, the ink is dark and the image inverted
   (also when the brightest are a broad glare and the darkest stand out locally);
2. uneven lighting (:func:`~mobilenet_mnist.data.lighting.even_out`): the paper's local
   level (the ink opened away) is subtracted and the contrast that glare or a shadow took
   is given back, where the strokes confirm that the light took it
   (:func:`~mobilenet_mnist.data.lighting.confirmed_gain`: a phone photo's lit side is no
   glare); images under 32 pixels get a quadratic surface fitted to the background
   instead (ink excluded by a few reweighting rounds, on a copy reduced to 32×32), under
   24 pixels a flat one;
3. ink: Otsu's threshold on the corrected image, lightly blurred against noise and JPEG
   artefacts; where a glare or shadow took contrast (the light's gain under
   ``WASHED_FROM``), weaker ink joined to it is taken too (``_washed_out``);
4. printed lines (:func:`~mobilenet_mnist.data.lines.remove_lines`), then faint ink
   (``_drop_faint``: weaker than ``FAINT_FRACTION`` of the main ink, lowered likewise
   under a glare, and more than ``FAINT_REACH`` pixels from stronger ink) leave the ink mask;
5. specks: 8-connected components under ``SPECK_FRACTION`` of the largest are dropped,
   and neighbours (``_edge_pieces``, ``_side_digits``: pieces cut by the edge beside a
   digit clear of it, pieces beside the digit nearest the middle column), the latter
   looked for again on a finer grid when the ink reaches the left or right edge
   (``_neighbours_apart``: a neighbour's stroke a few pixels from the digit);
   an image is blank when its ink is not clearly above the background's noise
   (``MIN_CONTRAST``, ``NOISE_RATIO``), when its largest component is small
   (``MIN_EXTENT``, ``MIN_EXTENT_FRACTION``) or holds little of the ink (``MIN_SHARE``:
   scattered dots);
6. gray levels are stretched from the background's noise level (0) to the ink's median (1),
   so anti-aliased edges stay soft.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .lighting import STEADY_GAIN, even_out_with_gain, local_mean
from .lines import remove_lines
from .morphology import cell_counts, cell_pixels, component_sizes, max3
from .quality import one_sided_edges

__all__ = ["extent", "find_ink", "ink_bright"]

#: Ink components smaller than this fraction of the largest one are dropped as specks.
SPECK_FRACTION = 0.05
#: Ink must stand out from the background by this much (on a 0–1 scale) ...
MIN_CONTRAST = 0.04
#: ... and by this many times the background's noise σ, or the image is blank.
NOISE_RATIO = 4.0
#: The largest ink component's longer side must reach this fraction of the image's shorter side ...
MIN_EXTENT_FRACTION = 0.1
#: ... and this many pixels.
MIN_EXTENT = 4
#: The largest ink component must hold at least this share of the ink (not scattered dots).
MIN_SHARE = 0.3
#: Images at least this large get a quadratic background and a denoising blur ...
MIN_SIDE_FOR_LIGHTING = 24
#: ... and from this size on, local lighting correction instead of the quadratic.
MIN_SIDE_FOR_LOCAL_LIGHTING = 32
#: Components are found on a copy reduced to at most this side (fast; joins tiny gaps).
COMPONENT_SIDE = 32
#: Neighbours reaching the left or right edge are looked for again on a grid this fine.
NEIGHBOUR_SIDE = 96
#: Ink fainter than this fraction of the main ink's contrast is faint ...
FAINT_FRACTION = 0.4
#: ... the main ink's contrast being this quantile of the ink's ...
MAIN_INK_QUANTILE = 0.95
#: ... and faint ink farther than this many pixels from stronger ink is dropped.
FAINT_REACH = 2
#: Images smaller than this (MNIST's 28×28, thumbnails) keep their faint ink.
MIN_SIDE_FOR_FAINT = 32
#: Ink pieces cut by the image's edge are dropped (neighbours' strokes) from the size photos
#: and scans get local lighting (MNIST's 28×28 and thumbnails are prepared as before) ...
MIN_SIDE_FOR_EDGE_PIECES = MIN_SIDE_FOR_LOCAL_LIGHTING
#: ... when a piece clear of the edges holds at least this share of the largest piece's ink.
CLEAR_PIECE_SHARE = 0.5
#: Pieces at least this fraction as tall as the tallest are digit-sized (a neighbour, or the digit).
DIGIT_HEIGHT = 0.5
#: ... and the digit's piece must span this fraction of the ink's rows (a whole digit, not a fragment).
WHOLE_DIGIT = 0.75
#: Under a glare the threshold is lowered by the light's gain, to at most this fraction of Otsu's.
WASHED_MIN = 0.5
#: ... where the light's gain is below this (paper's unevenness stays above it).
WASHED_FROM = STEADY_GAIN
#: Smaller images get no signs of doubt (quality 1): no cleanup is done on them.
MIN_SIDE_FOR_QUALITY = MIN_SIDE_FOR_LOCAL_LIGHTING
#: The brightest pixels are a glare, not ink, when they stand out from the local mean by less
#: than this fraction of their height over the border's median (a highlight is broad).
SMOOTH_BRIGHT = 0.7
#: The background is the median of this outer fraction of each side.
BORDER_FRACTION = 0.1
#: Histogram bins of the quantiles (precision: the value range / bins).
HIST_BINS = 1024


def _border_median(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) → (N,) median of the border: the outer ``BORDER_FRACTION`` of each side.

    A band rather than the outermost ring: a form box's line or a neighbour's stroke
    along the image's edge would be the ring's median.
    """
    h, w = x.shape[-2:]
    bh, bw = max(1, round(BORDER_FRACTION * h)), max(1, round(BORDER_FRACTION * w))
    band = torch.cat(
        [x[..., :bh, :].flatten(1), x[..., -bh:, :].flatten(1), x[..., :, :bw].flatten(1), x[..., :, -bw:].flatten(1)],
        dim=1,
    )
    return band.median(dim=1).values


def _quantiles(
    values: torch.Tensor, qs: Sequence[float], span: tuple[float, float], groups: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-row quantiles from a fine histogram: O(P) where sorting is O(P log P).

    Args:
        values: (N, P) values within ``span``.
        qs: Quantiles to find, in [0, 1].
        span: The values' (low, high) range; results are exact to ``(high - low) / HIST_BINS``.
        groups: Optional (N, P) bool splitting each row in two groups (False, True).

    Returns:
        (N, G, len(qs)) quantiles, G = 2 with ``groups``, else 1 (an empty group gives ``low``).
    """
    low, high = span
    n, bins = values.shape[0], HIST_BINS
    index = ((values - low) * (bins / (high - low))).long().clamp_(0, bins - 1)
    n_groups = 1 if groups is None else 2
    if groups is not None:
        index = index + groups.long() * bins
    hist = torch.zeros(n, n_groups * bins).scatter_add_(1, index, torch.ones_like(values)).view(n, n_groups, bins)
    cum = hist.cumsum(2)
    targets = cum[..., -1:] * torch.tensor(qs, dtype=cum.dtype)  # (N, G, Q)
    position = torch.searchsorted(cum, targets).clamp_(max=bins - 1)  # the first bin reaching each target
    return low + (position + 0.5) * ((high - low) / bins)


def ink_bright(x: torch.Tensor) -> torch.Tensor:
    """Invert the images whose ink is darker than their background (dark ink on paper).

    The ink is dark when the darkest pixels lie farther below the border's median than the
    brightest lie above it. From ``MIN_SIDE_FOR_LOCAL_LIGHTING`` a side it is dark too when
    they do so below the image's median (a thick printed frame along the border, a form's
    box, takes the border's median; smaller images, an 8×8 digit, may be mostly ink), or when
    the brightest pixels are a broad, smooth highlight (a glare: their height over the
    local mean, :func:`.lighting.local_mean`, is under ``SMOOTH_BRIGHT`` of their height
    over the border) and the dark pixels stand out from the local mean more than they do.
    """
    background = _border_median(x)
    low, paper, high = _quantiles(x.flatten(1), (0.005, 0.5, 0.995), (0.0, 1.0))[:, 0].unbind(1)
    dark = (background - low) > (high - background)
    if min(x.shape[-2:]) >= MIN_SIDE_FOR_LOCAL_LIGHTING:
        dark |= (paper - low) > (high - paper)
        detail = (x - local_mean(x)).flatten(1)
        detail_low, detail_high = _quantiles(detail, (0.005, 0.995), (-1.0, 1.0))[:, 0].unbind(1)
        glare = detail_high < SMOOTH_BRIGHT * (high - background)
        dark |= glare & (-detail_low > detail_high)
    return torch.where(dark.view(-1, 1, 1, 1), 1 - x, x)


def _basis(h: int, w: int, degree: int) -> torch.Tensor:
    """(h·w, K) polynomial terms of the pixel-center coordinates scaled to [-1, 1]."""
    ys = ((torch.arange(h) + 0.5) / h * 2 - 1).view(h, 1).expand(h, w).reshape(-1)
    xs = ((torch.arange(w) + 0.5) / w * 2 - 1).view(1, w).expand(h, w).reshape(-1)
    terms = [torch.ones_like(xs)]
    if degree > 0:
        terms += [xs, ys, xs * xs, ys * ys, xs * ys]
    return torch.stack(terms, dim=1)


def _background(x: torch.Tensor) -> torch.Tensor:
    """A smooth background under bright ink: a quadratic fitted robustly on a coarse copy."""
    h, w = x.shape[-2:]
    degree = 0 if min(h, w) < MIN_SIDE_FOR_LIGHTING else 2
    ch, cw = min(h, 32), min(w, 32)
    coarse = F.interpolate(x, size=(ch, cw), mode="area").flatten(1)
    basis = _basis(ch, cw, degree)
    base, high = _border_median(x), _quantiles(coarse, (0.995,), (0.0, 1.0))[:, 0, 0]
    weights = (coarse <= (base + 0.5 * (high - base))[:, None]).float()  # the ink left out
    ridge = 1e-6 * torch.eye(basis.shape[1])
    for _ in range(3):
        normal = torch.einsum("pk,np,pj->nkj", basis, weights, basis) + ridge
        coef = torch.linalg.solve(normal, torch.einsum("pk,np->nk", basis, weights * coarse))
        residual = coarse - coef @ basis.T
        sigma = ((weights * residual**2).sum(1) / weights.sum(1).clamp_min(1)).sqrt()
        weights = (residual <= sigma.mul(2.5).clamp_min(0.02)[:, None]).float()
    return (coef @ _basis(h, w, degree).T).view_as(x)


def _blur(x: torch.Tensor) -> torch.Tensor:
    """A 3×3 binomial blur (edges replicated) against pixel noise; small images unchanged."""
    if min(x.shape[-2:]) < MIN_SIDE_FOR_LIGHTING:
        return x
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    rows = padded[..., :-2] + 2 * padded[..., 1:-1] + padded[..., 2:]
    return (rows[..., :-2, :] + 2 * rows[..., 1:-1, :] + rows[..., 2:, :]) / 16


def _otsu(flat: torch.Tensor, bins: int = 64) -> torch.Tensor:
    """(N, P) → (N,) Otsu thresholds: values above one are the bright class."""
    low, high = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    span = (high - low).clamp_min(1e-6)
    index = ((flat - low) / span * bins).long().clamp_(0, bins - 1)
    hist = torch.zeros(flat.shape[0], bins).scatter_add_(1, index, torch.ones_like(flat))
    prob = hist / flat.shape[1]
    omega = prob.cumsum(1)
    mu = (prob * (torch.arange(bins) + 0.5)).cumsum(1)
    between = (mu[:, -1:] * omega - mu) ** 2 / (omega * (1 - omega)).clamp_min(1e-12)
    return low[:, 0] + (between[:, :-1].argmax(1) + 1) / bins * span[:, 0]


def _keep_large(
    mask: torch.Tensor, weight: torch.Tensor, edge_pieces: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Components of ``mask`` (N, 1, H, W) → those of at least ``SPECK_FRACTION`` of each
    image's largest (and with ``edge_pieces``, without the neighbours of :func:`_edge_pieces`
    and :func:`_side_digits`);
    the largest's share of the ink (small for scattered noise) and the longer side of its
    box, (N,) each. A component's size is the sum of its pixels' ``weight``."""
    keys, pixel_area = component_sizes(mask, weight)
    n, size = keys.shape
    flat = mask.view(n, size)
    largest = pixel_area.amax(1, keepdim=True)
    keep = (pixel_area >= SPECK_FRACTION * largest) & flat
    if edge_pieces:
        box = _piece_boxes(keys, keep, mask.shape[-2:])
        keep &= ~_edge_pieces(box, keep, pixel_area, mask.shape[-2:])
        keep &= ~_side_digits(box, keep, pixel_area, mask.shape[-2:])
    height, width = extent((flat & (pixel_area == largest)).view_as(mask))
    share = largest[:, 0] / weight.view(n, size).sum(1).clamp_min(1e-6)
    return keep.view_as(mask), share, torch.maximum(height, width)


def _edge_pieces(box: torch.Tensor, keep: torch.Tensor, pixel_area: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """(N, P) pixels of the ink pieces cut by the image's edge beside a digit clear of it.

    A neighbour's stroke cut at the crop's edge is not the digit when a piece that touches
    no edge holds at least ``CLEAR_PIECE_SHARE`` of the largest piece's ink (the digit the
    user centred). A tightly cropped digit touches the edges itself and loses nothing.

    Args:
        box: (N, P, 4) the box of every pixel's piece (:func:`_piece_boxes`).
        keep: (N, P) bool, the pixels kept so far.
        pixel_area: (N, P) size of each pixel's component (0 off the ink).
        shape: (H, W) of the images.
    """
    h, w = shape
    cut = keep & ((box[..., 0] == 0) | (box[..., 1] == h - 1) | (box[..., 2] == 0) | (box[..., 3] == w - 1))
    clear_area = torch.where(keep & ~cut, pixel_area, 0.0).amax(1, keepdim=True)
    has_clear_digit = clear_area >= CLEAR_PIECE_SHARE * pixel_area.amax(1, keepdim=True)
    return cut & has_clear_digit & (clear_area > 0)


def _piece_boxes(keys: torch.Tensor, keep: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """(N, P, 4) every pixel's piece's box (first row, last row, first column, last column);
    meaningful on the kept pixels. ``keys``: the pieces' keys (:func:`.morphology.component_sizes`)."""
    w = shape[1]
    n, size = keep.shape
    index = torch.arange(size)
    rows, cols = index // w, index % w
    signed = torch.stack([-rows, rows, -cols, cols], dim=1).expand(n, size, 4)[keep]  # the minima as maxima
    highest = torch.full((n * size, 4), -size, dtype=torch.long)
    highest.scatter_reduce_(0, keys[keep][:, None].expand(-1, 4), signed, "amax")
    return highest[keys] * torch.tensor([-1, 1, -1, 1])


def _side_digits(box: torch.Tensor, keep: torch.Tensor, pixel_area: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """(N, P) pixels of the neighbours beside the digit nearest the middle (a crop cut from a number).

    The digit is the piece nearest the image's middle column among those at least
    ``DIGIT_HEIGHT`` as tall as the tallest (ties: the larger). Pieces that share no
    column with it go when they are cut by the left or right edge or as tall as a digit,
    provided the digit's piece spans ``WHOLE_DIGIT`` of the ink's rows: the pieces of a
    digit broken apart (by a rule taken out, a glare) are none of them whole, and all stay.
    Arguments as for :func:`_edge_pieces`.
    """
    h, w = shape
    height = (box[..., 1] - box[..., 0] + 1).float()
    tall = keep & (height >= DIGIT_HEIGHT * torch.where(keep, height, 0.0).amax(1, keepdim=True))
    middle = (w - 1) / 2
    distance = torch.maximum(box[..., 2] - middle, middle - box[..., 3]).clamp_min(0).float()
    # The nearest first, then the largest: distance outweighs any difference of size.
    rank = torch.where(tall, distance * (float(pixel_area.max()) + 1) - pixel_area, float("inf"))
    digit = rank.argmin(1, keepdim=True)
    first, last = box[..., 2].gather(1, digit), box[..., 3].gather(1, digit)
    beside = (box[..., 3] < first) | (box[..., 2] > last)
    cut = (box[..., 2] == 0) | (box[..., 3] == w - 1)
    rows = torch.where(keep, box[..., 1], -1).amax(1) - torch.where(keep, box[..., 0], h).amin(1) + 1
    whole = height.gather(1, digit)[:, 0] >= WHOLE_DIGIT * rows  # not a fragment of a broken digit
    return keep & beside & (cut | tall) & whole[:, None]


def _drop_specks(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Drop the ink components under ``SPECK_FRACTION`` of each image's largest (see :func:`_keep_large`),
    and from ``MIN_SIDE_FOR_EDGE_PIECES`` a side the neighbours: pieces cut by the image's edge
    beside a digit clear of it (:func:`_edge_pieces`) and pieces beside the digit nearest the
    middle column (:func:`_side_digits`).

    Components are found on a copy reduced to at most ``COMPONENT_SIDE`` a side (a cell
    is ink if any of its pixels is; its size is its count of ink pixels), which is fast
    and joins gaps narrower than a cell.
    """
    h, w = mask.shape[-2:]
    edge_pieces = min(h, w) >= MIN_SIDE_FOR_EDGE_PIECES
    counts, factor = cell_counts(mask, COMPONENT_SIDE)
    if factor == 1:
        return _keep_large(mask, mask.float(), edge_pieces)
    cells, share, side = _keep_large(counts > 0, counts, edge_pieces)
    kept = mask & cell_pixels(cells, factor, (h, w))
    return (_neighbours_apart(kept) if edge_pieces else kept), share, side * factor


def _neighbours_apart(mask: torch.Tensor) -> torch.Tensor:
    """The neighbours of :func:`_side_digits` dropped once more, found on a finer grid
    (``NEIGHBOUR_SIDE`` cells a side), for the images whose ink reaches the left or right edge:
    a neighbour's stroke a few pixels from the digit is one piece with it on the coarse grid
    of the specks. :func:`_edge_pieces` is not applied here: it has no guard against the
    pieces of a digit broken apart, which the coarse grid joins and the fine grid does not."""
    reaching = mask[..., 0].flatten(1).any(1) | mask[..., -1].flatten(1).any(1)
    if not bool(reaching.any()):
        return mask
    some = mask[reaching]
    counts, factor = cell_counts(some, NEIGHBOUR_SIDE)
    cells = counts > 0
    keys, pixel_area = component_sizes(cells, counts)
    keep = cells.flatten(1)
    box = _piece_boxes(keys, keep, cells.shape[-2:])
    drop = _side_digits(box, keep, pixel_area, cells.shape[-2:])
    out = mask.clone()
    out[reaching] = some & ~cell_pixels(drop.view_as(cells), factor, (mask.shape[-2], mask.shape[-1]))
    return out


def extent(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) bool → the bounding box's (height, width) in pixels, (N,) each (0 if empty)."""

    def span(any_along: torch.Tensor) -> torch.Tensor:
        first = any_along.float().argmax(-1)
        last = any_along.shape[-1] - 1 - any_along.flip(-1).float().argmax(-1)
        return torch.where(any_along.any(-1), last - first + 1, 0).view(-1)

    return span(mask.any(3)), span(mask.any(2))


def _class_levels(d: torch.Tensor, ink: torch.Tensor, ink_q: float) -> torch.Tensor:
    """(N, P) values in [-1, 1] and ink mask → (N, 3): background median and noise σ, ink's ``ink_q`` quantile."""
    levels = _quantiles(d, (0.1587, 0.5, ink_q), (-1.0, 1.0), groups=ink)  # (N, 2 groups, 3)
    bg_low, bg_median = levels[:, 0, 0], levels[:, 0, 1]
    return torch.stack([bg_median, bg_median - bg_low, levels[:, 1, 2]], dim=1)


def _drop_faint(
    ink: torch.Tensor, smooth: torch.Tensor, background: torch.Tensor, lowering: torch.Tensor
) -> torch.Tensor:
    """Drop the ink much fainter than the main ink and away from it: erased writing, light rules.

    Args:
        ink: (N, 1, H, W) bool ink class.
        smooth: (N, 1, H, W) blurred, background-corrected values.
        background: (N,) the background's level in ``smooth``.
        lowering: (N, 1, H, W) how far thresholds are lowered under a glare (:func:`_lowering`).

    Returns:
        (N, 1, H, W) bool: the ink within ``FAINT_REACH`` pixels of strong ink, strong
        meaning at least ``FAINT_FRACTION`` of the main ink's contrast (the ink's
        ``MAIN_INK_QUANTILE``), lowered where a glare took contrast (:func:`_lowering`:
        the gain given back is smoothed and falls short at a glare's peak). A pencil's
        lighter stretches stay when they continue a stronger stroke; a ghost of erased
        writing or a light rule away from the digit goes.
        Images under ``MIN_SIDE_FOR_FAINT`` a side are returned unchanged: their strokes
        are a pixel or two wide, mostly anti-aliased edge, and faint by nature.
    """
    if min(ink.shape[-2:]) < MIN_SIDE_FOR_FAINT:
        return ink
    flat, values = ink.flatten(1), smooth.flatten(1).clamp(-1, 1)
    main = _quantiles(values, (MAIN_INK_QUANTILE,), (-1.0, 1.0), groups=flat)[:, 1, 0]
    threshold = background.view(-1, 1, 1, 1) + FAINT_FRACTION * (main - background).view(-1, 1, 1, 1) * lowering
    strong = ink & (smooth >= threshold)
    near = strong.float()
    for _ in range(FAINT_REACH):  # 3×3 dilations, FAINT_REACH pixels in all
        near = max3(near)
    near = near > 0
    return ink & near


def _contrast(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ink's height above the paper: local lighting evened out (:func:`.lighting.even_out`:
    shadows, gradients, glare) from ``MIN_SIDE_FOR_LOCAL_LIGHTING`` a side; smaller images
    (MNIST's 28×28, thumbnails) get a quadratic or, under ``MIN_SIDE_FOR_LIGHTING``, a flat
    background: too few pixels to tell a stroke from the paper's local level. Also the
    contrast the light left (:func:`.lighting.contrast_gain`, where the ink confirms it:
    :func:`.lighting.confirmed_gain`; 1 on smaller images)."""
    if min(x.shape[-2:]) < MIN_SIDE_FOR_LOCAL_LIGHTING:
        return x - _background(x), torch.ones_like(x)
    return even_out_with_gain(x, ink_of=_ink_class)


def _blurred_otsu(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) contrast → its lightly blurred copy (N, H·W) and Otsu's threshold of it (N,)."""
    smooth = _blur(d).flatten(1)
    return smooth, _otsu(smooth)


def _ink_class(d: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) contrast → the ink class: above Otsu's threshold of the lightly blurred copy."""
    smooth, threshold = _blurred_otsu(d)
    return (smooth > threshold[:, None]).view_as(d)


def _lowering(gain: torch.Tensor) -> torch.Tensor:
    """How far a threshold is lowered under a glare or shadow: the light's gain beyond
    ``WASHED_FROM`` (a paper's usual unevenness changes nothing), at most to ``WASHED_MIN``."""
    return (gain / WASHED_FROM).clamp(WASHED_MIN, 1)


def _washed_out(
    ink: torch.Tensor, smooth: torch.Tensor, threshold: torch.Tensor, lowering: torch.Tensor
) -> torch.Tensor:
    """(N, P) ink class → with the weaker ink joined to it where the light took contrast.

    A glare's gain is measured on the paper around the strokes, smoothed: at the glare's
    peak the stroke lost more than the gain gives back. There the threshold is lowered by
    the gain (down to ``WASHED_MIN`` of Otsu's); only ink connected to the ink class is
    taken, so the amplified noise under the glare stays out.
    """
    low = lowering.flatten(1) * threshold[:, None]
    weak = smooth > low
    if torch.equal(weak, ink):
        return ink
    # Connected on the reduced grid of _drop_specks (fast; joins gaps narrower than a cell).
    weak_cells, factor = cell_counts(weak.view_as(lowering), COMPONENT_SIDE)
    ink_cells = cell_counts(ink.view_as(lowering), COMPONENT_SIDE)[0].flatten(1) > 0
    keys, _ = component_sizes(weak_cells > 0, weak_cells)
    joined = torch.zeros(keys.numel(), dtype=torch.bool)
    joined[keys[ink_cells]] = True
    cells = (joined[keys] & (weak_cells.flatten(1) > 0)).view_as(weak_cells)
    return weak & cell_pixels(cells, factor, (lowering.shape[-2], lowering.shape[-1])).flatten(1)


def find_ink(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gray images with bright ink (see :func:`ink_bright`) → their ink.

    Args:
        x: (N, 1, H, W) float in [0, 1].

    Returns:
        ``(soft, mask, has_ink, signs)``: the ink's gray levels in [0, 1] (N, 1, H, W),
        specks and background zeroed; the ink's mask (N, 1, H, W) bool; (N,) bool, False
        for images without ink; and (N, 4) float, the signs of doubt of
        :mod:`.quality` (what the cleanup had to do), in ``quality.SIGNS`` order.
    """
    d, gain = _contrast(x)
    lowering = _lowering(gain)  # for the ink class and the faint ink alike
    smooth, threshold = _blurred_otsu(d)
    ink = _washed_out(smooth > threshold[:, None], smooth, threshold, lowering)
    # Blank or not is judged on the blurred copy (less noise), by the ink's upper quartile
    # (the ink class of thin, faint strokes holds many noisy edge pixels).
    bg_smooth, sigma_smooth, ink_smooth = _class_levels(smooth, ink, 0.75).unbind(1)
    contrast = ink_smooth - bg_smooth
    has_ink = ink.any(1) & (contrast > MIN_CONTRAST) & (contrast > NOISE_RATIO * sigma_smooth)
    before_lines, smooth_image = ink.view_as(x), smooth.view_as(x)
    unlined = remove_lines(before_lines, smooth_image)
    unfaint = _drop_faint(unlined, smooth_image, bg_smooth, lowering)
    ink = unfaint.flatten(1)
    bg_median, sigma, ink_median = _class_levels(d.flatten(1), ink, 0.5).unbind(1)
    mask, share, largest_side = _drop_specks(ink.view_as(x))
    has_ink &= share >= MIN_SHARE  # scattered dots are noise, not a digit
    has_ink &= largest_side >= max(MIN_EXTENT, MIN_EXTENT_FRACTION * min(x.shape[-2:]))
    low = (bg_median + 3 * sigma).view(-1, 1, 1, 1)
    soft = ((d - low) / (ink_median.view(-1, 1, 1, 1) - low).clamp_min(1e-6)).clamp_(0, 1)
    signs = _signs_of_doubt(before_lines, unlined, unfaint, mask, share)
    return soft * max3(mask.float()), mask, has_ink, signs


def _signs_of_doubt(
    before_lines: torch.Tensor, unlined: torch.Tensor, unfaint: torch.Tensor, mask: torch.Tensor, share: torch.Tensor
) -> torch.Tensor:
    """(N, 4) signs of :mod:`.quality`: lines taken out, faint ink dropped, scattered ink, ink
    cut at one side; zeros under ``MIN_SIDE_FOR_QUALITY`` a side (no cleanup is done there,
    and the weights were fitted on larger images)."""
    if min(mask.shape[-2:]) < MIN_SIDE_FOR_QUALITY:
        return torch.zeros(mask.shape[0], 4)
    return torch.stack(
        [
            (before_lines & ~unlined).flatten(1).any(1).float(),
            (unlined & ~unfaint).flatten(1).any(1).float(),
            1 - share,
            one_sided_edges(mask),
        ],
        dim=1,
    )

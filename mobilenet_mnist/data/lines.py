"""Printed straight lines in digit images: form boxes, grid and ruled lines, table borders.

A digit written in a form box, on squared or ruled paper or across a table border comes
with long thin straight lines in its ink mask. Taken for ink, a box reads as "0" and a rule
through a digit as a stroke. :func:`remove_lines` takes them out of the mask, in steps:

1. candidates (``_find_lines``): for each orientation (near-horizontal, near-vertical,
   tilted up to ``MAX_TILT`` degrees), the mask is projected across lines at several
   angles; bins holding ink along at least ``LINE_SPAN`` of the image's side, at most
   ``MAX_LINE_WIDTH`` of its side thick, continuous but for gaps of ``MAX_GAP`` (a line
   of the other orientation crossing it is no gap), are straight lines. Each orientation
   is searched without the other's lines, so a digit's stroke that runs into a box's two
   edges is not one line from edge to edge. A search takes one angle, the best line's; a
   line found at another angle of its own is refitted along its centre line (``_refitted``):
   of two rules tilted opposite ways (a photo), the second's far end would otherwise fall
   outside its bins, short of the edge, and be kept as a stroke;
2. the digit is told from the lines (``_accepted``): a line is removed only when it
   reaches (nearly, ``BORDER_REACH``) the image's edge or meets a perpendicular line
   at each of its ends (a box's side), or runs from the image's edge into another line at a
   small angle (``_joined``: two rules crossing, the second found only up to where their ink
   becomes one band), and runs past the rest of the ink at both ends, lies
   clear of it or touches none of it (``_untouched``: a rule just above a digit). A digit's
   own long stroke (the bar of a tightly cropped "7", the stem of a "4") ends where the
   digit does and is kept, and so is a line from the image's edge
   to a line that is the digit's with no other line meeting it (``_edge_to_stroke``: a
   "7"'s bar cut by the crop, ending on its upright stem); ``PAGE_LINES`` or more
   parallel lines from edge to edge, evenly spaced, are a page's ruling: print, even
   across a digit that no rule runs past (``_page_ruling``); a line from edge to edge
   across two or more printed perpendicular lines is a page's margin line and goes however
   near the digit sits (``_rules_crossed``), and a box's side the digit touches goes when
   printed sides hold both its ends (or one, the other reaching the image's edge: a comb
   field) and all the rest of the ink lies between it and a printed side parallel to it
   (``_box_side``); when only lines are left (a "1" in a box or on a rule), the digit
   is a line that ends inside the image, the one nearest the image's center first; lines
   that all run edge to edge in parallel sets (a ruled or squared page, its margin line
   too) are all print, and a tiny digit between them is what is left;
3. crossing strokes are restored (``_restore_crossings``): where the rest of the ink
   continues on both sides of a removed line, the pixels between are kept, so a digit
   crossed by a rule is not cut in two;
4. strokes along a line are kept (``_strokes_along``): where a line is ``ALONG_EXTRA``
   pixels thicker than its thin parts over a stretch longer than it is wide (away from the
   lines crossing it: a faint one makes a shorter bump), a digit's stroke
   runs along it (the stem of a 9 down a margin line, a loop resting on a rule) and those
   pixels stay. When hardly any ink is left beside the lines, such a stroke is the digit
   (a "1" drawn along a rule), not the line nearest the center. Given the ink's contrast
   (``remove_lines(mask, contrast)``), a stroke no wider than the line is told by its ink
   too: where the line's ink is ``ALONG_CONTRAST`` times as strong as along the rest of it
   (a pen's stroke over a lighter printed rule: the stem of a 4 on a margin line), for a
   stretch longer than it is wide and at most ``ALONG_MAX_SHARE`` of the line (a line
   printed darker at one end is no stroke). Such a stroke stays only where the digit is
   (``_by_the_digit``: it reaches the box around the ink off the lines): a rule printed
   darker or thicker for a stretch far from the digit is print.

What it cannot do: curved or diagonal lines (more than ``MAX_TILT`` off the axes), lines
shorter than ``LINE_SPAN`` of the image (a box much smaller than the crop), and a digit
stroke that coincides with a line, is no wider than it and no stronger (a pen as dark as
the print, or no contrast given) is lost with it.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F

from .morphology import component_labels, long_runs, main_components, max3, runs_holding

__all__ = ["ALONG_CONTRAST", "LINE_SPAN", "MAX_LINE_WIDTH", "MAX_TILT", "MIN_SIDE_FOR_LINES", "remove_lines"]

#: A line holds ink along at least this fraction of the image's side (its chord) ...
LINE_SPAN = 0.55
#: ... and is at most this fraction of the image's shorter side thick (plus one pixel).
MAX_LINE_WIDTH = 0.1
#: A line's core: the bins beside its peak holding at least this share of the peak's ink.
CORE = 0.6
#: A line may break for this fraction of the side (a faint print, JPEG), no more.
MAX_GAP = 0.04
#: Lines tilted up to this many degrees from horizontal or vertical are found (photos of forms).
MAX_TILT = 6
#: Angle step of the search, in degrees.
TILT_STEP = 1.0
#: A line must run past the rest of the ink by this fraction of the side at both ends ...
OVERHANG = 0.06
#: ... or be at least this fraction of the side clear of it.
CLEARANCE = 0.04
#: A printed line runs to within this fraction of the image's side from both its edges
#: (or is a box's side, meeting perpendicular lines at both ends).
BORDER_REACH = 0.1
#: Images smaller than this (thumbnails, 8×8 digits) are left alone: a stroke fills them.
MIN_SIDE_FOR_LINES = 32
#: Searches per orientation: lines at other angles (a photographed form's perspective) are
#: looked for again once the first angle's lines are out.
MAX_SEARCHES = 3
#: The rest of the ink, judged against a line, is its components holding at least this
#: fraction of the largest one: a line's ragged ends and a broken rule are no digit.
REST_FRACTION = 0.15

#: Less ink beside the lines than this fraction of the side (in pixels) is hardly any: the
#: lines, or the strokes along them, are the digit (a "1" in a box or drawn along a rule).
HARDLY_ANY = 1 / 8

#: A page's ruling: at least this many parallel lines from edge to edge ...
PAGE_LINES = 3
#: ... spaced evenly (each gap within this fraction of a whole number of the smallest gap:
#: a rule the search missed leaves a double gap) are print, however near the digit they run.
PAGE_SPACING = 0.15

#: A digit's stroke along a line: where a line is at least ``ALONG_EXTRA`` pixels thicker than
#: its thin parts (its ``ALONG_QUANTILE`` quantile of thickness), the ink is the line and a stroke.
ALONG_EXTRA = 2
ALONG_QUANTILE = 0.1
#: ... and where its ink is at least this many times as strong as the line's median strength,
ALONG_CONTRAST = 1.25
#: ... over at most this share of the line's length, the ink is the line and a stroke.
ALONG_MAX_SHARE = 0.5

#: A line: whether it is near-vertical, and its (H, W) bool pixels.
Line = tuple[bool, torch.Tensor]
#: A line's first and last coordinate along it, and its mean coordinate across it (:func:`_ends`).
Ends = tuple[float, float, float]
#: The percentiles of :func:`_span`.
_SPAN_QUANTILES = torch.tensor([0.01, 0.99])


def _projections(mask: torch.Tensor, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W) bool → per angle, each ink pixel's offset bin across near-horizontal lines.

    Returns:
        ``(bins, counts)``: (A, P) long bin of each of the P ink pixels at each angle, and
        (A, B) ink count per bin (B covers every offset in the image).
    """
    h, w = mask.shape
    ys, xs = torch.nonzero(mask, as_tuple=True)
    ys, xs = ys.float()[None], xs.float()[None]
    offset = ys * torch.cos(angles)[:, None] - (xs - (w - 1) / 2) * torch.sin(angles)[:, None]
    pad = math.ceil(w * math.sin(math.radians(MAX_TILT))) + 1
    bins = offset.round().long() + pad
    counts = torch.zeros(len(angles), h + 2 * pad).scatter_add_(1, bins, torch.ones_like(offset))
    return bins, counts


def _bands(counts: torch.Tensor, side: int, max_width: int) -> list[tuple[int, int]]:
    """(B,) ink per bin → the (first, last) bins of each line's core: a peak of at least
    ``LINE_SPAN`` of the side, with its neighbours holding ``CORE`` of the peak's ink."""
    counts_list: list[float] = counts.tolist()  # Python floats: the walk below is per bin
    bands, b, n = [], 0, len(counts_list)
    high = LINE_SPAN * side
    while b < n:
        if counts_list[b] < high:
            b += 1
            continue
        peak = b
        while peak + 1 < n and counts_list[peak + 1] > counts_list[peak]:
            peak += 1
        low = CORE * counts_list[peak]
        first, last = peak, peak
        while first > 0 and counts_list[first - 1] >= low:
            first -= 1
        while last + 1 < n and counts_list[last + 1] >= low:
            last += 1
        if last - first + 1 <= max_width:
            bands.append((first, last))
        b = last + 1
    return bands


def _candidates(mask: torch.Tensor, crossing: torch.Tensor | None = None) -> list[torch.Tensor]:
    """(H, W) bool → one (H, W) bool mask per near-horizontal straight line in it.

    ``crossing``: (H, W) bool pixels of perpendicular lines already taken out of ``mask``;
    a line may continue across them (a grid's lines cross), but does not start or end there.
    """
    mask = mask.contiguous()
    h, w = mask.shape
    if not bool(mask.any()):
        return []
    steps = int(MAX_TILT / TILT_STEP)
    angles = torch.deg2rad(torch.arange(-steps, steps + 1) * TILT_STEP)
    bins, counts = _projections(mask, angles)
    # The best angle has the highest peak; ties go to the angle nearest horizontal.
    peaks = counts.amax(1) - angles.abs() * 1e-3
    best = int(peaks.argmax())
    max_width = max(3, round(MAX_LINE_WIDTH * min(h, w)))
    bridge = torch.zeros(w, dtype=torch.bool) if crossing is None else crossing.any(0)
    bridged = torch.cat([torch.zeros(1, dtype=torch.long), bridge.long().cumsum(0)])
    lines = []
    pixels = torch.nonzero(mask.view(-1), as_tuple=True)[0]
    xs = pixels % w
    max_gap = max(2, round(MAX_GAP * w))
    ys = pixels // w
    for first, last in _bands(counts[best], w, max_width):
        on = (bins[best] >= first) & (bins[best] <= last)
        start, end = _longest_run(xs[on], w, max_gap, bridged)
        if end - start + 1 < LINE_SPAN * w:
            continue
        on &= (xs >= start) & (xs <= end)
        on = _refitted(on, xs, ys, float(angles[best]), (w, max_gap), bridged)
        line = torch.zeros(h * w, dtype=torch.bool)
        line[pixels[on]] = True
        # The line's ragged rim (anti-aliasing, JPEG) one pixel beyond its bins goes with it.
        rim = max3(line.view(1, 1, h, w).float())[0, 0] > 0
        lines.append(rim & mask)
    return lines


def _refitted(
    on: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, angle: float, run: tuple[int, int], bridged: torch.Tensor
) -> torch.Tensor:
    """A near-horizontal line's ink pixels (``on``, over the mask's ink pixels at ``xs``, ``ys``),
    along a straight centre line fitted to its thin columns, when it lies at another angle
    than the search's (``angle``, radians).

    A search takes the best line's angle: a rule tilted otherwise (a photo's two rules tilted
    opposite ways) leaves its far end outside its bins, short of the image's edge, and
    passes for a digit's stroke. The centre line is fitted (least squares) where the line is
    no thicker than its median thickness (a stroke resting on it left out); when its angle
    differs from ``angle`` by ``TILT_STEP`` or more, the ink within half that thickness plus
    one pixel of it, in the longest run with no gap over ``max_gap`` (``run``: the image's
    width and ``max_gap``), is the line when it is longer than before. A line found at its
    own angle is left as it is (a digit's stroke beside it is not drawn into it).
    """
    w, max_gap = run
    line_xs, line_ys = xs[on], ys[on].float()
    thickness = torch.bincount(line_xs, minlength=w)
    median = float(thickness[thickness > 0].float().median())
    thin = (thickness > 0) & (thickness <= median)
    columns = torch.nonzero(thin).view(-1)
    if columns.numel() < 2:
        return on
    centres = torch.zeros(w).index_add_(0, line_xs, line_ys)[columns] / thickness[columns]
    cols = columns.float()
    cx, cy = cols.mean(), centres.mean()
    slope = float(((cols - cx) * (centres - cy)).sum() / ((cols - cx) ** 2).sum().clamp_min(1e-6))
    if abs(math.degrees(math.atan(slope) - angle)) < TILT_STEP:
        return on
    near = (ys.float() - (cy + slope * (xs.float() - cx))).abs() <= median / 2 + 1
    start, end = _longest_run(xs[near], w, max_gap, bridged)
    if end - start <= int(line_xs.max() - line_xs.min()):
        return on
    return on | (near & (xs >= start) & (xs <= end))


def _longest_run(xs: torch.Tensor, length: int, max_gap: int, bridged: torch.Tensor) -> tuple[int, int]:
    """The longest stretch of ``xs`` (columns in ``[0, length)``) with no gap over ``max_gap``.

    A line's pixels are continuous (a JPEG or a faint print may break it for a few
    pixels); a digit's stroke that shares a line's bins with a box's two edges is not.
    Columns of crossing lines do not count in a gap (``bridged``: their cumulative count).
    """
    occupied = torch.zeros(length, dtype=torch.bool)
    occupied[xs] = True
    columns = torch.nonzero(occupied).view(-1)
    if columns.numel() == 0:
        return 0, -1
    before, after = columns[:-1], columns[1:]
    gaps = after - before - 1 - (bridged[after] - bridged[before + 1])
    breaks = torch.nonzero(gaps > max_gap).view(-1)
    firsts = torch.cat([breaks.new_zeros(1), breaks + 1])
    lasts = torch.cat([breaks, breaks.new_full((1,), len(columns) - 1)])
    longest = int((columns[lasts] - columns[firsts]).argmax())  # the first of equally long runs
    return int(columns[firsts[longest]]), int(columns[lasts[longest]])


def _span(mask: torch.Tensor, dim: int) -> tuple[float, float] | None:
    """The 1st and 99th percentile of the ink's coordinates along ``dim`` (robust to specks)."""
    coords = torch.nonzero(mask, as_tuple=True)[dim].float()
    if coords.numel() == 0:
        return None
    low, high = coords.quantile(_SPAN_QUANTILES).tolist()
    return low, high


def _is_apart(line: Line, rest_spans: tuple[tuple[float, float] | None, ...], side: int) -> bool:
    """Whether ``line`` runs past the rest of the ink at both ends or lies clear of it.

    ``rest_spans``: the rest's :func:`_span` along rows (dim 0) and columns (dim 1)."""
    vertical, pixels = line
    along_dim, across_dim = (0, 1) if vertical else (1, 0)
    along, rest_along = _span(pixels, along_dim), rest_spans[along_dim]
    across, rest_across = _span(pixels, across_dim), rest_spans[across_dim]
    if along is None or across is None or rest_along is None or rest_across is None:
        return False
    overhang, gap = OVERHANG * side, CLEARANCE * side + 3  # + what _beyond took off near the line
    runs_past = along[0] < rest_along[0] - overhang and along[1] > rest_along[1] + overhang
    clear = across[1] < rest_across[0] - gap or across[0] > rest_across[1] + gap
    return runs_past or clear


def _untouched(line: Line, mask: torch.Tensor, every: torch.Tensor) -> bool:
    """Whether no ink of ``mask`` but lines (``every``: their pixels) touches ``line``: a rule the
    digit comes near but never meets (just above a "3"'s top) lies clear of it, however close."""
    near = max3(line[1].float()[None, None])[0, 0] > 0
    return not bool((near & mask & ~every).any())


def _ends(line: Line) -> Ends:
    """A line's first and last coordinate along it, and its mean coordinate across it."""
    vertical, pixels = line
    along = _span(pixels, 0 if vertical else 1) or (0.0, 0.0)
    across = torch.nonzero(pixels, as_tuple=True)[1 if vertical else 0].float().mean()
    return along[0], along[1], float(across)


def _at_edges(line: Line, ends: Ends | None = None) -> tuple[bool, bool]:
    """Whether each end of ``line`` reaches (nearly, ``BORDER_REACH``) the image's edge
    (``ends``: its :func:`_ends`, when known)."""
    first, last, _ = ends or _ends(line)
    length = line[1].shape[0 if line[0] else 1]
    return first <= BORDER_REACH * length, last >= length - 1 - BORDER_REACH * length


def _met(
    index: int, lines: list[Line], ends: list[Ends], tolerance: float, among: list[bool] | None = None
) -> tuple[bool, bool]:
    """Whether a perpendicular line of ``lines`` (only those flagged in ``among``, when given)
    meets each end of ``lines[index]`` (a box's corner). ``ends``: the :func:`_ends` of each line."""
    line = lines[index]
    first, last, across = ends[index]
    met = [False, False]
    for position, (other, (o_first, o_last, o_across)) in enumerate(zip(lines, ends, strict=True)):
        if other[0] == line[0] or (among is not None and not among[position]):
            continue
        if not o_first - tolerance <= across <= o_last + tolerance:
            continue
        met[0] |= abs(o_across - first) <= tolerance
        met[1] |= abs(o_across - last) <= tolerance
    return met[0], met[1]


def _ends_held(index: int, lines: list[Line], ends: list[Ends], tolerance: float) -> bool:
    """Whether each end of ``lines[index]`` reaches the image's edge (:func:`_at_edges`) or meets
    a perpendicular line (:func:`_met`), or one end reaches the edge and the other runs into a
    line of its own orientation (:func:`_joined`): a printed line, not a stroke ending in the
    paper. ``ends``: the :func:`_ends` of each line."""
    at_edges = _at_edges(lines[index], ends[index])
    met = _met(index, lines, ends, tolerance)
    if (at_edges[0] or met[0]) and (at_edges[1] or met[1]):
        return True
    # A rule from the image's edge into another one at a small angle (crossing it) is print too.
    joined = _joined(index, lines, ends)
    return (at_edges[0] and joined[1]) or (joined[0] and at_edges[1])


def _joined(index: int, lines: list[Line], ends: list[Ends]) -> tuple[bool, bool]:
    """Whether each end of ``lines[index]`` runs into another line of its orientation: two
    rules crossing at a small angle (a strike-through over a table border), the second found
    only up to where it merges into the first."""
    vertical, pixels = lines[index]
    others = [other for position, (other_vertical, other) in enumerate(lines)
              if position != index and other_vertical == vertical]  # fmt: skip
    if not others:
        return False, False
    near = _within_two(torch.stack(others).any(0))
    h, w = pixels.shape
    along = torch.arange(h).view(-1, 1) if vertical else torch.arange(w).view(1, -1)  # each pixel's coordinate
    first, last, _ = ends[index]
    # The line's last few pixels at each end, within two pixels of another line.
    at_first, at_last = (bool((pixels & ((along - end).abs() <= 2) & near).any()) for end in (first, last))
    return at_first, at_last


def _within_two(mask: torch.Tensor) -> torch.Tensor:
    """(H, W) bool → the pixels within two of ``mask``'s (a 5×5 dilation)."""
    return max3(max3(mask.float()[None, None]))[0, 0] > 0


def _off_center(line: Line) -> float:
    """Distance of a line's ink from the image's center, in pixels."""
    pixels = line[1]
    h, w = pixels.shape
    ys, xs = torch.nonzero(pixels, as_tuple=True)
    return math.hypot(float(ys.float().mean()) - (h - 1) / 2, float(xs.float().mean()) - (w - 1) / 2)


def _beyond(mask: torch.Tensor, lines: list[Line]) -> torch.Tensor:
    """The ink more than two pixels from every line, its main components: the rest of the ink,
    without the leftovers along a line (blur, JPEG, a line's bent end, a rule broken by a
    faint print) that would stretch its extent to the line's."""
    rest = mask & ~_within_two(torch.stack([pixels for _, pixels in lines]).any(0))
    return main_components(rest, REST_FRACTION) if bool(rest.any()) else rest


def _digit_line(lines: list[Line]) -> Line | None:
    """When only lines are left, the one that is the digit: one that ends inside the image (a
    printed line runs to both edges), the one nearest the center first. When all run to both
    edges, the one nearest the center, unless some are parallel: a ruled or squared page (its
    margin line included) is all print, and the digit is the little ink left between."""
    inside = [line for line in lines if not all(_at_edges(line))]
    if inside:
        return min(inside, key=_off_center)
    page = len({vertical for vertical, _ in lines}) < len(lines)
    return None if page else min(lines, key=_off_center)


def _accepted(mask: torch.Tensor, lines: list[Line], side: int, along: torch.Tensor) -> list[Line]:
    """The ``lines`` that are not part of the digit (see the module's step 2). ``along``: the
    strokes running along them (:func:`_strokes_along_lines`): when hardly any ink is left
    beside the lines, they are the digit (a "1" drawn along a rule)."""
    rest = _beyond(mask, lines)
    if int(rest.sum()) < HARDLY_ANY * side:
        rest = rest | along
    if int(rest.sum()) < HARDLY_ANY * side:
        # Only lines ("1" in a box, a "1" on a rule, or a tiny digit between a page's rules).
        digit = _digit_line(lines)
        if digit is None:  # a page's lines: all print, whatever little ink is left
            return lines
        rest = rest | digit[1]
        lines = [line for line in lines if line is not digit]
    tolerance = MAX_LINE_WIDTH * side / 2 + 2
    rest_spans = (_span(rest, 0), _span(rest, 1))
    ends = [_ends(line) for line in lines]
    every = torch.stack([pixels for _, pixels in lines]).any(0) if lines else torch.zeros_like(mask)
    apart = [_is_apart(line, rest_spans, side) or _untouched(line, mask, every) for line in lines]
    held = [_ends_held(index, lines, ends, tolerance) for index in range(len(lines))]
    # Squared or ruled paper: evenly spaced rules from edge to edge, wherever the digit is.
    ruling = _page_ruling(lines, ends)
    # A line from the image's edge to a stroke of the digit (a "7"'s bar cut by the crop,
    # ending on its stem: a line not apart) is a stroke too: print ends on print.
    printed = [
        ruling[index] or (held[index] and apart[index] and not _edge_to_stroke(index, lines, ends, apart, tolerance))
        for index in range(len(lines))
    ]
    # A page's margin line runs edge to edge across its rules, however near the digit sits.
    margins = [
        not printed[index]
        and all(_at_edges(lines[index], ends[index]))
        and _rules_crossed(index, lines, ends, printed) >= 2
        for index in range(len(lines))
    ]
    # A box's side the digit touches: held by printed sides at both ends (or at one, the other
    # at the image's edge), with all the rest of the ink between it and a printed side parallel to it.
    sides = [
        not printed[index] and _box_side(index, lines, ends, printed, rest_spans, tolerance)
        for index in range(len(lines))
    ]
    return [line for index, line in enumerate(lines) if printed[index] or margins[index] or sides[index]]


def _page_ruling(lines: list[Line], ends: list[Ends]) -> list[bool]:
    """Which of ``lines`` rule a page: ``PAGE_LINES`` or more of one orientation, each from
    edge to edge, evenly spaced (``PAGE_SPACING``). A digit draws no such set; squared and
    ruled paper does, and its rules go even where the digit's ink spans them (the strokes
    crossing or running along a rule are given back, steps 3 and 4)."""
    ruling = [False] * len(lines)
    for vertical in (False, True):
        chosen = [i for i, line in enumerate(lines) if line[0] == vertical and all(_at_edges(line, ends[i]))]
        if len(chosen) < PAGE_LINES:
            continue
        across = sorted(ends[i][2] for i in chosen)
        gaps = [b - a for a, b in pairwise(across)]
        unit = min(gaps)
        if unit <= 0:
            continue
        if all(abs(gap / unit - round(gap / unit)) <= PAGE_SPACING for gap in gaps):
            for i in chosen:
                ruling[i] = True
    return ruling


def _box_side(
    index: int,
    lines: list[Line],
    ends: list[Ends],
    printed: list[bool],
    rest_spans: tuple[tuple[float, float] | None, ...],
    tolerance: float,
) -> bool:
    """Whether ``lines[index]`` is a box's side: each end meets a printed perpendicular line
    (``printed``: which of ``lines`` are print) or, for one of them, the image's edge, and
    the rest of the ink (``rest_spans``, as for :func:`_is_apart`) lies wholly on one side
    of it, up to a printed parallel line."""
    vertical = lines[index][0]
    rest_across = rest_spans[1 if vertical else 0]
    if rest_across is None:
        return False
    met = _met(index, lines, ends, tolerance, among=printed)
    at_edges = _at_edges(lines[index], ends[index])
    # A comb field's sides run on past the crop: an end at the image's edge holds too, but
    # at least one end meets a printed line (a digit's stroke from edge to edge is no side).
    if not any(met) or not all(m or e for m, e in zip(met, at_edges, strict=True)):
        return False
    across = ends[index][2]
    partners = [ends[i][2] for i in range(len(lines)) if printed[i] and lines[i][0] == vertical]
    if rest_across[0] >= across - tolerance:  # the rest beyond it: a partner beyond the rest
        return any(other >= rest_across[1] - tolerance for other in partners)
    if rest_across[1] <= across + tolerance:
        return any(other <= rest_across[0] + tolerance for other in partners)
    return False


def _rules_crossed(index: int, lines: list[Line], ends: list[Ends], printed: list[bool]) -> int:
    """How many printed perpendicular lines (``printed``: which of ``lines`` are) cross
    ``lines[index]`` inside its length, each within the other's span."""
    first, last, across = ends[index]
    return sum(
        1
        for other, (o_first, o_last, o_across), is_print in zip(lines, ends, printed, strict=True)
        if is_print and other[0] != lines[index][0] and first < o_across < last and o_first <= across <= o_last
    )


def _edge_to_stroke(index: int, lines: list[Line], ends: list[Ends], apart: list[bool], tolerance: float) -> bool:
    """Whether ``lines[index]`` runs from the image's edge (no line meets it there) to a line
    that is the digit's (not ``apart``, see :func:`_is_apart`) and to no other line: a stroke."""
    at_edges = _at_edges(lines[index], ends[index])
    if at_edges[0] == at_edges[1]:
        return False
    inner = 0 if at_edges[1] else 1
    met = _met(index, lines, ends, tolerance)
    met_by_print = _met(index, lines, ends, tolerance, among=apart)
    return not met[1 - inner] and met[inner] and not met_by_print[inner]


def _restore_crossings(rest: torch.Tensor, removed: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels of near-horizontal ``removed`` lines with ``rest`` ink within ``width`` above and below."""
    h = rest.shape[0]
    reach = width + 2
    # Ink among the `reach` rows above (below) a pixel: differences of running sums by row.
    running = F.pad(rest.int().cumsum(0), (0, 0, 1, 0))  # running[k]: ink in rows [0, k)
    rows = torch.arange(h)
    above = running[rows] - running[(rows - reach).clamp_min(0)]
    below = running[(rows + 1 + reach).clamp_max(h)] - running[rows + 1]
    return removed & (above > 0) & (below > 0)


def _strokes_along(
    line: torch.Tensor, others: torch.Tensor, strength: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """Pixels of a near-horizontal ``line`` where it is thicker than its thin parts, or its ink
    stronger than along the rest of it (``strength``, when known: the ink's contrast and the
    ink off every line): a digit's stroke running along it (the stem of a 9 on a margin line,
    a loop resting on a rule). ``others``: the perpendicular lines' pixels; where they cross or
    meet it (a box's corner), the line is thicker (and darker) for them, not for a stroke."""
    thickness = line.sum(0)
    thin = thickness[thickness > 0].float().quantile(ALONG_QUANTILE)
    # Two pixels either side of a crossing line's columns: its pixels were searched without this line's.
    crossed = F.max_pool1d(others.any(0).float()[None, None], 5, stride=1, padding=2)[0, 0] > 0
    wide = (thickness >= thin + ALONG_EXTRA) & ~crossed
    # A stroke along the line is longer than it is wide; a shorter bump is a faint line crossing it.
    min_run = int(thin) + ALONG_EXTRA + 1
    along = line & long_runs(wide, min_run)[None]
    if strength is None:
        return along
    return along | _stronger(line, thickness, crossed, strength, min_run)


def _stronger(
    line: torch.Tensor,
    thickness: torch.Tensor,
    crossed: torch.Tensor,
    strength: tuple[torch.Tensor, torch.Tensor],
    min_run: int,
) -> torch.Tensor:
    """(H, W) bool: the pixels of a near-horizontal ``line`` whose ink is ``ALONG_CONTRAST`` times
    as strong as the line's median column (each column's strongest pixel of the contrast), in
    runs holding ``min_run`` such columns or more and covering at most ``ALONG_MAX_SHARE`` of
    the line: a pen's stroke over it, not the line beside the stroke. ``thickness``: the line's
    pixels per column. ``crossed``: where other lines cross it; they neither count nor break a
    run (a stroke along a margin line runs on across a rule). ``strength``: the contrast, and
    the ink off every line; where the digit's strokes cross the line (that ink goes on at both
    its sides), a run breaks."""
    contrast, rest = strength
    column_strength = torch.where(line, contrast, 0.0).amax(0)
    present = thickness > 0
    counted = present & ~crossed
    usual = float(column_strength[counted].median()) if bool(counted.any()) else 0.0
    if usual <= 0:
        return torch.zeros_like(line)
    stronger = counted & (column_strength >= ALONG_CONTRAST * usual)
    # A crossing line's blurred rim beside its columns is no stroke: pieces under 3 columns go.
    if int(long_runs(stronger, 3).sum()) < min_run:
        return torch.zeros_like(line)  # most lines: nothing along them, crossings not looked for
    crossing = _crossing_columns(rest, line, thickness)
    stronger = long_runs(stronger & ~crossing, 3)
    kept = runs_holding(stronger, crossed & ~crossing, min_run)
    if int((kept & stronger).sum()) > ALONG_MAX_SHARE * int(present.sum()):
        return torch.zeros_like(line)  # most of the line: printed unevenly, or lit so
    # In the crossed columns, the stroke is what goes on from its columns on either side.
    return line & (contrast >= ALONG_CONTRAST * usual) & kept[None]


def _crossing_columns(rest: torch.Tensor, line: torch.Tensor, thickness: torch.Tensor) -> torch.Tensor:
    """(W,) bool: the columns of a near-horizontal ``line`` (``thickness``: its pixels per column)
    where ``rest`` ink goes on at both its sides (a stroke crossing it), and two columns either
    side (the stroke's blurred rim)."""
    width = int(thickness[thickness > 0].float().median())
    crossing = _restore_crossings(rest, line, width).any(0).float()[None, None]
    return F.max_pool1d(crossing, 5, stride=1, padding=2)[0, 0] > 0


def _strokes_along_lines(lines: list[Line], mask: torch.Tensor, contrast: torch.Tensor | None = None) -> torch.Tensor:
    """(H, W) bool: the strokes running along any of ``lines`` in the ink ``mask``
    (:func:`_strokes_along`; ``contrast``: the ink's strength, when known)."""
    empty = torch.zeros_like(lines[0][1])
    unions = {
        orientation: torch.stack([pixels for vertical, pixels in lines if vertical == orientation] or [empty]).any(0)
        for orientation in (False, True)
    }
    # The contrast, and the ink off every line (what crosses a line goes on beside it).
    strength = None if contrast is None else (contrast, mask & ~(unions[False] | unions[True]))
    along = empty.clone()
    for vertical, pixels in lines:
        others = unions[not vertical]
        if vertical:
            along |= _strokes_along(pixels.T, others.T, None if strength is None else (strength[0].T, strength[1].T)).T
        else:
            along |= _strokes_along(pixels, others, strength)
    return along


def _by_the_digit(along: torch.Tensor, mask: torch.Tensor, lines: list[Line], side: int) -> torch.Tensor:
    """The strokes ``along`` lines that reach the box around the ink off the lines (its main
    components, ``REST_FRACTION``), widened by half a line's largest width and two pixels: a
    digit's stroke along a rule is where the digit is, a rule printed darker or thicker for a
    stretch away from the digit is print. When hardly any ink is left beside the lines
    (``HARDLY_ANY``: a "1" drawn along a rule), all of them stay."""
    if not bool(along.any()):
        return along
    every = torch.stack([pixels for _, pixels in lines]).any(0)
    off = mask & ~every
    if int(off.sum()) < HARDLY_ANY * side:
        return along
    digit = main_components(off, REST_FRACTION)
    rows, columns = _span(digit, 0), _span(digit, 1)
    if rows is None or columns is None:
        return along
    margin = MAX_LINE_WIDTH * side / 2 + 2
    box = torch.zeros_like(along)
    box[max(0, math.ceil(rows[0] - margin)) : math.floor(rows[1] + margin) + 1,
        max(0, math.ceil(columns[0] - margin)) : math.floor(columns[1] + margin) + 1] = True  # fmt: skip
    if not bool((along & ~box).any()):
        return along  # the usual case: nothing to tell apart
    # A stroke along a line goes on across the lines crossing it (a stem along a margin line
    # across the rules): its pieces are one where line pixels join them.
    joined = along | (every & _within_two(along))
    labels = component_labels(joined[None, None])[0].view_as(along)
    return along & torch.isin(labels, labels[joined & box].unique())


def _searched(mask: torch.Tensor, crossing: torch.Tensor | None = None) -> list[torch.Tensor]:
    """:func:`_candidates`, searched again without the lines found (up to ``MAX_SEARCHES``
    times): each search takes one angle, and a photographed box's sides differ in angle."""
    found: list[torch.Tensor] = []
    left = mask
    for _ in range(MAX_SEARCHES):
        lines = _candidates(left, crossing)
        if not lines:
            break
        found += lines
        left = left & ~torch.stack(lines).any(0)
    return found


def _find_lines(mask: torch.Tensor) -> list[Line]:
    """(H, W) bool → its straight lines of both orientations, in the image's coordinates.

    Vertical lines are looked for without the horizontal ones and then horizontal ones
    without the vertical ones: a digit's stroke that runs into a box's two edges would
    otherwise be one line from edge to edge.
    """

    def union(lines: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(lines).any(0) if lines else torch.zeros_like(mask)

    first = _searched(mask)
    vertical = [line.T for line in _searched((mask & ~union(first)).T, union(first).T)]
    if not vertical:  # nothing to look for the horizontal lines without
        return [(False, line) for line in first]
    horizontal = _searched(mask & ~union(vertical), union(vertical))
    if not horizontal and not first:  # the vertical search saw the same mask
        return [(True, line) for line in vertical]
    columns = _searched((mask & ~union(horizontal)).T, union(horizontal).T)
    return [(False, line) for line in horizontal] + [(True, line.T) for line in columns]


def _remove_one(mask: torch.Tensor, contrast: torch.Tensor | None = None) -> torch.Tensor:
    """(H, W) bool → the mask without the straight lines that are not the digit (``contrast``:
    the ink's (H, W) strength, to tell a stroke along a line by)."""
    lines = _find_lines(mask)
    if not lines:
        return mask
    side = min(mask.shape)
    along = _by_the_digit(_strokes_along_lines(lines, mask, contrast), mask, lines, side)
    accepted = _accepted(mask, lines, side, along)
    # The rest of the ink, and the strokes along lines: what crosses a line continues on both
    # its sides (not another line; a stem along a margin line goes on across a rule).
    rest = mask & ~torch.stack([pixels for _, pixels in accepted]).any(0) if accepted else mask
    keep = rest | along
    for vertical, pixels in accepted:
        across = _span(pixels, 1 if vertical else 0) or (0.0, 0.0)
        thickness = math.ceil(across[1] - across[0]) + 1
        if vertical:
            keep |= _restore_crossings((rest | along).T, pixels.T, thickness).T
        else:
            keep |= _restore_crossings(rest | along, pixels, thickness)
    return keep


def remove_lines(mask: torch.Tensor, contrast: torch.Tensor | None = None) -> torch.Tensor:
    """Take printed straight lines (form boxes, grid and ruled lines, borders) out of ink masks.

    Args:
        mask: (N, 1, H, W) bool ink masks of one size.
        contrast: (N, 1, H, W) float, the ink's strength over the paper (higher: stronger
            ink), when known: a pen's stroke along a lighter printed line is kept by it
            (the module's step 4).

    Returns:
        The masks without the lines that are not part of the digit, (N, 1, H, W) bool.
        Images under ``MIN_SIDE_FOR_LINES`` a side are returned unchanged.

    Raises:
        ValueError: For a ``contrast`` of another shape than ``mask``.
    """
    if contrast is not None and contrast.shape != mask.shape:
        raise ValueError(
            f"contrast must have the mask's shape {tuple(mask.shape)}, got {tuple(contrast.shape)}; "
            "pass the contrast image the mask was thresholded from."
        )
    h, w = mask.shape[-2:]
    if min(h, w) < MIN_SIDE_FOR_LINES:
        return mask
    out = mask.clone()
    for i in torch.nonzero(_may_hold_lines(mask)).view(-1).tolist():
        out[i, 0] = _remove_one(mask[i, 0], None if contrast is None else contrast[i, 0].float())
    return out


def _may_hold_lines(mask: torch.Tensor) -> torch.Tensor:
    """(N,) bool: whether an image could hold a line, checked for the whole batch at once.

    A line tilted up to ``MAX_TILT`` fits in a band of rows (or columns) as tall as its
    rise plus its width; without a band whose ink covers ``LINE_SPAN`` of the columns,
    there is none, and the per-image search is skipped.
    """
    found = torch.zeros(mask.shape[0], dtype=torch.bool)
    for x in (mask[:, 0], mask[:, 0].transpose(1, 2)):  # (N, across, along): rows, then columns
        across, length = x.shape[1:]
        band = min(across, math.ceil(length * math.tan(math.radians(MAX_TILT))) + round(MAX_LINE_WIDTH * across) + 3)
        # Ink in a band of `band` rows, per column: differences of running sums (O(1) a pixel).
        running = F.pad(x.int().cumsum(1), (0, 0, 1, 0))
        covered = ((running[:, band:] - running[:, :-band]) > 0).sum(2)  # (N, bands): columns with ink
        found |= covered.amax(1) >= LINE_SPAN * length
    return found

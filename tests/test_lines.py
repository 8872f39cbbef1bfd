"""Printed lines out of digit images (data/lines.py) and faint ink (data/ink.py), on small generated cases."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilenet_mnist.data import ink as ink_module
from mobilenet_mnist.data import lines as lines_module
from mobilenet_mnist.data.digits import normalize_digits
from mobilenet_mnist.data.lines import MIN_SIDE_FOR_LINES, remove_lines
from mobilenet_mnist.data.morphology import cell_counts, cell_pixels, long_runs, main_components, runs_holding


def _canvas(h: int = 80, w: int = 80) -> torch.Tensor:
    return torch.zeros(h, w, dtype=torch.bool)


def _ring(mask: torch.Tensor, cy: float, cx: float, ry: float, rx: float, width: float = 3.0) -> torch.Tensor:
    """An elliptic stroke: a handwritten "0"."""
    h, w = mask.shape
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    radius = (((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2).sqrt()
    return mask | ((radius - 1).abs() * min(ry, rx) < width / 2)


def _box(mask: torch.Tensor, top: int, left: int, bottom: int, right: int, width: int = 2) -> torch.Tensor:
    out = mask.clone()
    out[top : top + width, left:right] = True
    out[bottom - width : bottom, left:right] = True
    out[top:bottom, left : left + width] = True
    out[top:bottom, right - width : right] = True
    return out


def _polyline(mask: torch.Tensor, points: list[tuple[float, float]], width: float = 3.0) -> torch.Tensor:
    """Straight strokes through ``points`` ((row, column) each), ``width`` pixels thick: a handwritten digit."""
    h, w = mask.shape
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    out = mask.clone()
    for (y0, x0), (y1, x1) in itertools.pairwise(points):
        dy, dx = y1 - y0, x1 - x0
        t = (((ys - y0) * dy + (xs - x0) * dx) / (dy * dy + dx * dx)).clamp(0, 1)
        out |= ((ys - y0 - t * dy) ** 2 + (xs - x0 - t * dx) ** 2).sqrt() <= width / 2
    return out


def _remove(mask: torch.Tensor) -> torch.Tensor:
    return remove_lines(mask[None, None])[0, 0]


def test_form_box_is_removed_and_the_digit_kept() -> None:
    digit = _ring(_canvas(), 40, 40, 22, 14)
    boxed = _box(digit, 4, 4, 76, 76)
    out = _remove(boxed)
    assert torch.equal(out & ~digit, torch.zeros_like(out)), "some of the box is left"
    assert int((out & digit).sum()) == int(digit.sum()), "some of the digit went with the box"


def test_neighbouring_boxes_edges_running_past_the_crop_are_removed() -> None:
    digit = _ring(_canvas(), 40, 40, 20, 12)
    mask = digit.clone()
    mask[6:8, :] = True  # the row of boxes' top and bottom edges, past both sides of the crop
    mask[72:74, :] = True
    mask[:, 3:5] = True  # the neighbours' shared edges
    mask[:, 75:77] = True
    out = _remove(mask)
    assert not bool((out & ~digit).any())
    assert int(out.sum()) == int(digit.sum())


def test_a_rule_through_a_stroke_is_removed_and_the_crossing_restored() -> None:
    stroke = _canvas()
    stroke[10:70, 38:42] = True  # a "1"
    crossed = stroke.clone()
    crossed[50:52, :] = True  # a ruled line through it, border to border
    out = _remove(crossed)
    assert torch.equal(out, stroke), "the rule is gone and the stroke is whole again"


def test_a_tightly_cropped_one_is_not_a_line() -> None:
    one = _canvas()
    one[0:80, 37:42] = True  # the digit spans the crop: it is the only thing there
    assert torch.equal(_remove(one), one)


def test_a_tightly_cropped_seven_keeps_its_bar() -> None:
    seven = _canvas()
    seven[2:6, 0:80] = True  # the bar reaches both sides of the crop
    for row in range(6, 78):  # the stem, from the bar's right end down to the left
        col = int(76 - (row - 6) * 0.6)
        seven[row, col : col + 4] = True
    assert torch.equal(_remove(seven), seven)


def test_a_sevens_bar_from_the_crops_edge_to_its_upright_stem_is_kept() -> None:
    # A number's crop cut through a "7"'s bar: the bar runs from the left edge to the stem,
    # which is near-vertical (a line candidate too) and ends in a hook. No box's side meets
    # the bar at the edge, and the stem is the digit's: the bar is a stroke, not print.
    seven = _polyline(_canvas(120, 80), [(22.0, 0.0), (20.0, 62.0), (105.0, 60.0), (114.0, 70.0)], width=5.0)
    out = _remove(seven)
    assert int((out & seven).sum()) >= 0.95 * int(seven.sum()), "the bar went as a printed line"


def test_a_margin_line_across_the_rules_goes_beside_a_digit_near_the_pages_edge() -> None:
    # A small "7" at the top of a ruled crop, beside the margin line: the line does not run
    # past the digit at the top, but it runs edge to edge across the page's rules.
    page = _canvas(120, 120)
    for row in (30, 60, 90):
        page[row : row + 2, :] = True
    page[:, 40:43] = True
    seven = _polyline(_canvas(120, 120), [(4.0, 47.0), (4.0, 62.0), (20.0, 52.0)])
    out = _remove(page | seven)
    assert not bool(out[40:, 38:45].any()), "the margin line is left"
    assert int((out & seven).sum()) >= 0.95 * int(seven.sum()), "some of the digit went"


def test_a_digit_in_a_box_that_is_one_stroke_is_kept() -> None:
    one = _canvas()
    one[12:68, 38:42] = True  # a "1" as long as the line threshold, in a box
    boxed = _box(one, 2, 2, 78, 78)
    out = _remove(boxed)
    assert torch.equal(out, one)


def test_grid_lines_are_removed() -> None:
    digit = _canvas(96, 96)
    digit[20:24, 30:62] = True  # a "7": its bar ...
    digit[20:80, 58:62] = True  # ... and its stem, crossing the grid's lines at right angles
    grid = digit.clone()
    for position in range(12, 96, 20):
        grid[position, :] = True
    for position in range(8, 96, 20):
        grid[:, position] = True
    out = _remove(grid)
    assert int((out & ~digit).sum()) == 0, "some of the grid is left"
    assert torch.equal(out, digit), "the digit is whole again where the grid crossed it"


def test_small_images_are_left_alone() -> None:
    side = MIN_SIDE_FOR_LINES - 1
    mask = torch.zeros(side, side, dtype=torch.bool)
    mask[side // 2, :] = True
    mask[:, 3] = True
    assert torch.equal(_remove(mask), mask)


def test_batches_are_handled_image_by_image() -> None:
    digit = _ring(_canvas(), 40, 40, 22, 14)
    batch = torch.stack([_box(digit, 4, 4, 76, 76), digit])[:, None]
    out = remove_lines(batch)
    assert torch.equal(out[0, 0], digit) and torch.equal(out[1, 0], digit)


@pytest.mark.parametrize("transposed", [False, True], ids=["right-side-cut", "bottom-side-cut"])
def test_a_box_cut_by_the_crop_is_removed_and_the_digit_kept(transposed: bool) -> None:
    """A box whose right (or bottom) side lies outside the crop: two edges run from a corner to the image's edge."""
    digit = _polyline(_canvas(), [(24, 30), (22, 44), (30, 52), (58, 30), (58, 54)])  # a "2"
    box = _canvas()
    box[14:16, 14:] = True  # the top edge, from the left side's corner out past the crop
    box[64:66, 14:] = True  # the bottom edge likewise
    box[14:66, 14:16] = True  # the left side, clear of the image's edges (its ends are corners)
    if transposed:  # the same box with its bottom side cut off instead
        digit, box = digit.T.contiguous(), box.T.contiguous()
    out = _remove(digit | box)
    left = int((out & box & ~digit).sum())
    assert left == 0, f"{left} of the cut box's {int((box & ~digit).sum())} pixels are left"
    kept = int((out & digit).sum())
    assert kept >= 0.95 * int(digit.sum()), f"only {kept} of the digit's {int(digit.sum())} pixels kept"


def _side(mask: torch.Tensor, top: int, bottom: int, column: float, degrees: float) -> torch.Tensor:
    """A box's side from ``(top, column)`` down to ``bottom``, ``degrees`` off vertical (+: leaning right)."""
    slope = math.tan(math.radians(degrees))
    return _polyline(mask, [(top, column), (bottom, column + (bottom - top) * slope)], width=2.0)


def test_a_photographed_box_with_sides_at_different_tilts_is_removed() -> None:
    """A box's left side at +3° and its right side at -3° from vertical: both sides are found and removed."""
    digit = _polyline(_canvas(), [(22, 34), (22, 48), (58, 38)])  # a "7"
    box = _side(_side(_canvas(), 6, 74, 10, 3.0), 6, 74, 70, -3.0)
    box[6:8, 10:71] = True  # the top and bottom edges join the sides' ends
    box[72:74, 13:68] = True
    out = _remove(digit | box)
    for name, columns in (("left", slice(0, 20)), ("right", slice(60, 80))):
        left = int((out & box & ~digit)[:, columns].sum())
        assert left == 0, f"{left} pixels of the box's {name} side are left"
    assert not bool((out & ~digit).any()), "some of the box is left"
    assert torch.equal(out & digit, digit), "some of the digit went with the box"


@pytest.mark.parametrize("columns", [slice(0, 12), slice(68, 80)], ids=["left-edge", "right-edge"])
def test_a_rule_under_a_digit_is_removed_beside_a_broken_rule(columns: slice) -> None:
    """A full-width rule touching a digit's bottom, with a short broken piece of another rule at the image's edge.

    The piece is no digit: the rest of the ink still ends well inside the rule, which is removed.
    """
    digit = _polyline(_canvas(), [(22, 30), (18, 44), (26, 52), (40, 40), (50, 52), (58, 44), (56, 30)])  # a "3"
    bottom = int(torch.nonzero(digit)[:, 0].max())
    rule = _canvas()
    rule[bottom + 1 : bottom + 3, :] = True  # the rule the digit sits on, border to border
    piece = _canvas()
    piece[30:32, columns] = True  # what a faint print left of a second rule: 12 columns ...
    piece[:, columns.start + 5 : columns.start + 7] = False  # ... broken in two
    out = _remove(digit | rule | piece)
    left = int((out & rule & ~digit).sum())
    assert left == 0, f"{left} of the rule's {int(rule.sum())} pixels are left"
    kept = int((out & digit).sum())
    assert kept >= 0.95 * int(digit.sum()), f"only {kept} of the digit's {int(digit.sum())} pixels kept"
    assert torch.equal(out & piece, piece), "the broken piece is no line and stays"


def test_a_rule_at_another_tilt_than_the_first_found_is_removed_to_both_edges() -> None:
    """A "5" crossed by a thick rule tilted one way, resting on a thin rule tilted the other
    (a real ink mask, tests/data/README.md): the thin rule is found at the thick one's angle,
    refitted along its own, and goes from edge to edge; the "5" stays."""
    packed = np.load(Path(__file__).parent / "data" / "rule_under_a_five.npy")
    mask = torch.from_numpy(np.unpackbits(packed)[: 97 * 127].reshape(97, 127).astype(bool))
    out = _remove(mask)
    beside = int(out[80:90, :20].sum()) + int(out[80:90, 70:].sum())  # the thin rule, left and right of the 5
    assert beside == 0, f"{beside} pixels of the rule under the digit are left beside it"
    assert int(out[14:80, 20:65].sum()) >= 0.9 * int(mask[14:80, 20:65].sum() - mask[44:56, 20:65].sum())
    assert int(out[44:56, 70:].sum()) <= 4  # the thick rule goes too


def _page(ink: np.ndarray, level: float) -> np.ndarray:
    """Dark ink of strength ``level`` (0–1) on light paper, uint8."""
    return np.clip(235 - 215 * level * ink, 0, 255).astype(np.uint8)


def test_faint_writing_beside_the_digit_is_dropped() -> None:
    digit = _ring(_canvas(), 40, 30, 24, 12, width=5).float().numpy()
    ghost = _ring(_canvas(), 40, 64, 14, 8, width=4).float().numpy()
    clean = _page(digit, 1.0)
    ghosted = np.minimum(clean, _page(ghost, 0.2))
    expected, _ = normalize_digits(clean)
    got, _ = normalize_digits(ghosted)
    assert float((got - expected).abs().max()) < 0.05


def test_a_lighter_stretch_of_a_stroke_is_kept() -> None:
    """A pencil's varying pressure: half the stroke at half the other half's contrast."""
    digit = _ring(_canvas(), 40, 40, 26, 16, width=5).float().numpy()
    light = digit.copy()
    light[40:, :] *= 0.5  # the lower half written lightly, continuing the upper half
    found_light = ink_module.find_ink(torch.from_numpy(1 - _page(light, 1.0) / 255.0).float()[None, None])[1]
    found_full = ink_module.find_ink(torch.from_numpy(1 - _page(digit, 1.0) / 255.0).float()[None, None])[1]
    assert int(found_light.sum()) >= 0.9 * int(found_full.sum())


@pytest.mark.parametrize(("level", "kept"), [(0.3, False), (0.5, True)])
def test_drop_faint_keeps_ink_near_or_as_strong_as_the_main_ink(level: float, kept: bool) -> None:
    ink = torch.zeros(1, 1, 40, 40, dtype=torch.bool)  # faint ink is judged from 32 px a side
    ink[0, 0, 5, 2:18] = True
    smooth = torch.where(ink, 0.9, 0.0).float()
    smooth[0, 0, 5, 10:] = level  # the right part fainter (FAINT_FRACTION of 0.9 is 0.36)
    out = ink_module._drop_faint(ink, smooth, torch.zeros(1), torch.ones_like(smooth))[0, 0, 5]
    assert bool(out[2 : 10 + ink_module.FAINT_REACH].all()), "strong ink and the faint ink beside it stay"
    assert bool(out[10 + ink_module.FAINT_REACH : 18].all()) == kept


def test_drop_faint_keeps_faint_ink_where_a_glare_took_contrast() -> None:
    ink = torch.zeros(1, 1, 40, 40, dtype=torch.bool)
    ink[0, 0, 5, 2:18] = True
    smooth = torch.where(ink, 0.9, 0.0).float()
    smooth[0, 0, 5, 10:] = 0.3  # dropped on even paper (see above) ...
    gain = torch.ones_like(smooth)
    gain[..., 10:] = 0.5  # ... kept where the light's gain says a glare took half the contrast
    out = ink_module._drop_faint(ink, smooth, torch.zeros(1), ink_module._lowering(gain))[0, 0, 5]
    assert bool(out[2:18].all())


def _ink_of(mask: torch.Tensor) -> torch.Tensor:
    """find_ink's mask for bright ink ``mask`` on a dark page (a (1, 1, H, W) float image)."""
    return ink_module.find_ink(mask.float()[None, None])[1][0, 0]


def test_neighbours_strokes_cut_at_the_edge_are_dropped_beside_a_clear_digit() -> None:
    digit = _ring(_canvas(), 40, 40, 20, 12)  # a "0" clear of every edge
    left = _polyline(_canvas(), [(15.0, 0.0), (60.0, 6.0)])  # a neighbour's stroke cut at the left edge
    right = _polyline(_canvas(), [(20.0, 79.0), (30.0, 72.0), (50.0, 79.0)])  # and one at the right
    found = _ink_of(digit | left | right)
    assert not bool(found[:, :10].any()) and not bool(found[:, 70:].any()), "a neighbour's piece is left"
    assert int((found & digit).sum()) >= 0.95 * int(digit.sum()), "some of the digit went"


def test_a_neighbours_stroke_a_few_pixels_from_the_digit_is_dropped() -> None:
    # A "<" cut by the left edge whose tip comes within two pixels of a "0": one piece with
    # the digit on the coarse grid of the specks, apart on the finer neighbour grid.
    digit = _ring(_canvas(96, 96), 48, 44, 28, 16)
    neighbour = _polyline(_canvas(96, 96), [(18.0, 0.0), (48.0, 23.0), (78.0, 0.0)])
    assert not bool((_dilated(digit) & neighbour).any()), "the case is meant to leave a gap"
    found = _ink_of(digit | neighbour)
    assert not bool((found & neighbour).any()), "the neighbour's stroke is left"
    assert torch.equal(found & digit, digit), "some of the digit went"


def test_a_digit_cut_by_the_edge_and_broken_in_pieces_keeps_them_all() -> None:
    # The finer neighbour grid must not split a cropped digit's own broken strokes into "neighbours":
    # a "4" whose stem is cut by the right edge, broken into three pieces by small gaps.
    four = _polyline(_canvas(96, 96), [(10.0, 40.0), (60.0, 20.0), (60.0, 95.0)], width=4.0)
    four |= _polyline(_canvas(96, 96), [(20.0, 70.0), (90.0, 70.0)], width=4.0)
    four[:, 55:58] = False
    four[40:43, :] = False
    found = _ink_of(four)
    assert int((found & four).sum()) >= 0.95 * int(four.sum()), "a piece of the digit went"


def test_a_tightly_cropped_digit_touching_the_edges_keeps_all_its_pieces() -> None:
    # A "7" whose bar touches the top and the left edge, with a detached dot of ink clear of
    # the edges: the digit is the largest piece and cut by the edges; nothing is dropped.
    seven = _polyline(_canvas(), [(1.0, 0.0), (1.0, 79.0), (79.0, 30.0)], width=4.0)
    dot = _ring(_canvas(), 40, 15, 4, 4)
    found = _ink_of(seven | dot)
    assert int((found & seven).sum()) >= 0.95 * int(seven.sum()), "the cropped digit lost its strokes"


def test_a_big_neighbour_cut_at_the_edge_beside_a_thin_digit_is_dropped() -> None:
    # A "1" in the middle, a neighbour's "0" cut by the left edge holding more ink than it:
    # the digit is the tall piece nearest the middle column, whatever its size.
    one = _polyline(_canvas(), [(10.0, 44.0), (70.0, 40.0)])
    neighbour = _ring(_canvas(), 40, 8, 30, 16, width=6.0)
    assert int((neighbour & ~one).sum()) > 2 * int(one.sum())
    found = _ink_of(one | neighbour)
    assert not bool(found[:, :26].any()), "the neighbour's piece is left"
    assert int((found & one).sum()) >= 0.95 * int(one.sum()), "some of the digit went"


def test_a_whole_neighbour_inside_the_crop_beside_the_digit_is_dropped() -> None:
    # A crop with margins around a "1" and its neighbour "4": neither touches an edge; the
    # neighbour shares no column with the digit nearest the middle and is as tall.
    one = _polyline(_canvas(), [(12.0, 44.0), (68.0, 42.0)])
    four = _polyline(_canvas(), [(12.0, 14.0), (48.0, 6.0), (48.0, 26.0)]) | _polyline(
        _canvas(), [(20.0, 22.0), (68.0, 22.0)]
    )
    found = _ink_of(one | four)
    assert not bool((found & four).any()), "the neighbour is left"
    assert int((found & one).sum()) >= 0.95 * int(one.sum()), "some of the digit went"


def test_the_pieces_of_a_broken_digit_are_all_kept() -> None:
    # A "0" broken by a rule's removal into pieces side by side, none a whole digit's height:
    # no piece is a neighbour.
    zero = _ring(_canvas(), 40, 40, 24, 18)
    zero[:, 38:43] = False  # split into a left and a right half ...
    zero[38:43, :] = False  # ... and each into a top and a bottom
    found = _ink_of(zero)
    assert int((found & zero).sum()) >= 0.95 * int(zero.sum()), "a piece of the digit went"


def test_an_edge_piece_larger_than_twice_the_clear_piece_is_kept() -> None:
    small = _polyline(_canvas(), [(35.0, 40.0), (45.0, 40.0)])  # a short clear stroke
    big = _ring(_canvas(), 40, 0, 30, 20)  # a big neighbour cut at the left edge
    found = _ink_of(small | big)
    assert int((found & big).sum()) >= 0.95 * int(big.sum()), "the only substantial ink was dropped"


def _dilated(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` dilated by 2 pixels."""
    return torch.nn.functional.max_pool2d(mask.float()[None, None], 5, stride=1, padding=2)[0, 0] > 0


def _glare_board() -> tuple[torch.Tensor, torch.Tensor]:
    """A light-gray board (0.8) with a dark "1" (0.1) under a broad white glare (a screen
    blend, 0.9 at its peak) that washes the whole stroke out: the (1, 1, 96, 96) image and
    the stroke's mask."""
    ys, xs = torch.meshgrid(torch.arange(96).float(), torch.arange(96).float(), indexing="ij")
    stroke = _polyline(_canvas(96, 96), [(30.0, 50.0), (66.0, 46.0)], width=3.0)
    board = torch.where(stroke, 0.1, 0.8)
    glare = 0.9 * torch.exp(-((ys - 48) ** 2 + (xs - 48) ** 2) / (2 * 30.0**2))
    return (1 - (1 - board) * (1 - glare))[None, None], stroke


def test_dark_ink_washed_out_by_a_glare_is_recognized_as_dark() -> None:
    image, stroke = _glare_board()
    border = float(ink_module._border_median(image)[0])
    # The glare's peak lies farther above the border's level than the stroke below it.
    assert float(image.max()) - border > border - float(image.min())
    bright = ink_module.ink_bright(image)
    assert torch.equal(bright, 1 - image), "the image must be inverted: the stroke is dark ink"
    mask = ink_module.find_ink(bright)[1][0, 0]
    assert int((mask & ~_dilated(stroke)).sum()) == 0, "the glare is not ink"
    assert int((mask & stroke).sum()) >= 0.8 * int(stroke.sum()), "the stroke is found"


def test_a_loop_washed_out_by_a_small_glare_is_kept_whole() -> None:
    # A "9" of gray marker (0.35 on a 0.75 board, a little noise) under a small, strong,
    # flat-topped glare on its loop: the light's gain, measured on the paper around the
    # strokes, gives back less than the glare took at its peak; the lowered threshold there
    # takes the loop's washed-out ink, joined to the stroke, and none of the noise.
    ys, xs = torch.meshgrid(torch.arange(96).float(), torch.arange(96).float(), indexing="ij")
    loop = _ring(_canvas(96, 96), 34, 46, 12, 12)
    stem = _polyline(_canvas(96, 96), [(34.0, 58.0), (80.0, 52.0)])
    board = torch.where(loop | stem, 0.35, 0.75)
    glare = 0.8 * torch.exp(-0.5 * (((ys - 30) ** 2 + (xs - 40) ** 2) / 10.0**2) ** 1.5)
    noise = 0.02 * torch.randn(96, 96, generator=torch.Generator().manual_seed(0))
    image = (1 - (1 - board) * (1 - glare) + noise).clamp(0, 1)[None, None]
    mask = ink_module.find_ink(ink_module.ink_bright(image))[1][0, 0]
    assert int((mask & loop).sum()) >= 0.97 * int(loop.sum()), "part of the loop under the glare is lost"
    assert int((mask & ~_dilated(loop | stem)).sum()) == 0, "the glare's noise was taken for ink"


def _half_lit_page() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A phone photo's "4": dark ink (reflectance 0.1) on paper (0.7); the left 60 % of the
    page gets 60 % of the light of the right. Returns the image and the two strokes."""
    left = _polyline(_canvas(96, 96), [(16.0, 20.0), (56.0, 20.0), (56.0, 50.0)], width=4.0)
    right = _polyline(_canvas(96, 96), [(16.0, 70.0), (84.0, 70.0)], width=4.0)
    xs = torch.arange(96).float().expand(96, 96)
    light = 0.6 + 0.4 * torch.sigmoid((xs - 58) / 2)
    reflectance = torch.where(left | right, 0.1, 0.7)
    return (reflectance * light)[None, None], left, right


def test_a_phone_photos_lit_side_is_not_taken_for_a_glare() -> None:
    # The lit side's paper is lighter than the page's usual (shadowed) level, as under a
    # glare; but its strokes stand out more, not less, so its gain stays 1 and the
    # stroke on the shadowed side is not dropped as faint beside the lit one (a "4" read as "1").
    image, left, right = _half_lit_page()
    bright = ink_module.ink_bright(image)
    _, gain = ink_module._contrast(bright)
    lit = torch.zeros(96, 96, dtype=torch.bool)
    lit[:, 70:] = True
    assert float(gain[0, 0][lit].min()) == 1.0, "the lit side's contrast was raised as if under a glare"
    mask = ink_module.find_ink(bright)[1][0, 0]
    for stroke, name in ((left, "shadowed"), (right, "lit")):
        assert int((mask & stroke).sum()) >= 0.9 * int(stroke.sum()), f"the {name} stroke is lost"


def test_confirmed_gain_keeps_a_zone_whose_ink_lost_contrast_and_resets_one_whose_ink_did_not() -> None:
    from mobilenet_mnist.data.lighting import STEADY_GAIN, confirmed_gain

    # One row of 40 pixels per image: 20 at steady light, 20 in a zone of gain 0.5; every
    # other pixel ink. The zone's ink has half the steady ink's contrast (a glare), the same
    # (more light), or the zone holds too little ink to tell.
    gain = torch.cat([torch.ones(20), torch.full((20,), 0.5)]).expand(3, 40).clone()
    ink = (torch.arange(40) % 2 == 0).expand(3, 40).clone()
    ink[2, 20:38] = False  # one zone pixel of 20 ink pixels in the third image
    raw = torch.full((3, 40), 0.4)
    raw[0, 20:] = 0.2
    lighter = torch.ones(3, 40, dtype=torch.bool)
    out = confirmed_gain(*(t.view(3, 1, 1, 40) for t in (raw, gain, ink, lighter))).view(3, 40)
    assert torch.equal(out[0], gain[0]), "a glare's gain, confirmed by the ink, must stay"
    assert torch.equal(out[1], torch.ones(40)), "more light is no glare: the gain must be reset to 1"
    assert torch.equal(out[2], gain[2]), "one ink pixel cannot contradict the light"
    assert STEADY_GAIN == ink_module.WASHED_FROM


@pytest.mark.parametrize(("gain", "lowered"), [(1.0, 1.0), (0.9, 1.0), (0.72, 0.8), (0.45, 0.5), (0.2, 0.5)])
def test_thresholds_are_lowered_by_the_lights_gain_beyond_the_papers_unevenness(gain: float, lowered: float) -> None:
    factor = float(ink_module._lowering(torch.tensor([gain])))
    assert factor == pytest.approx(min(1.0, max(ink_module.WASHED_MIN, gain / ink_module.WASHED_FROM)))
    assert factor == pytest.approx(lowered)


def test_dark_ink_in_a_form_box_whose_thick_gray_frame_fills_the_border_is_dark() -> None:
    # A dark "5" on white paper inside a box whose thick gray frame fills the border band:
    # the border's median is the frame's gray, nearer the ink than the paper, and the paper
    # inside was taken for bright ink (the digit for the background; a 5 read as a 3).
    image = torch.full((64, 64), 0.45)  # the frame
    image[7:57, 7:57] = 0.95  # the paper inside it
    stroke = _polyline(_canvas(64, 64), [(16.0, 44.0), (16.0, 22.0), (30.0, 22.0), (34.0, 40.0), (48.0, 22.0)])
    image = torch.where(stroke, 0.05, image)[None, None]
    border = float(ink_module._border_median(image)[0])
    assert float(image.max()) - border > border - float(image.min()), "the case no longer needs the image's median"
    assert torch.equal(ink_module.ink_bright(image), 1 - image), "the stroke is dark ink"
    # Under MIN_SIDE_FOR_LOCAL_LIGHTING an image may be mostly ink (an 8×8 digit): the border decides.
    small = torch.full((8, 8), 0.9)
    small[0, :] = small[-1, :] = small[:, 0] = small[:, -1] = 0.0
    assert torch.equal(ink_module.ink_bright(small[None, None]), small[None, None])


def test_light_chalk_on_a_dark_board_stays_bright_ink() -> None:
    board = torch.full((96, 96), 0.15)
    stroke = _polyline(_canvas(96, 96), [(20.0, 50.0), (76.0, 46.0)], width=4.0)
    image = torch.where(stroke, 0.85, board)[None, None]
    assert torch.equal(ink_module.ink_bright(image), image)


def test_a_one_crossed_by_a_rule_is_the_digit_not_the_rule() -> None:
    # Only straight strokes: the "1" (off the center) and a rule through the center. The
    # rule runs from edge to edge, the "1" ends inside the image: the "1" is the digit.
    one = _polyline(_canvas(), [(15.0, 50.0), (65.0, 50.0)])
    rule = _canvas()
    rule[40:42, :] = True
    out = _remove(one | rule)
    assert int((out & one).sum()) == int(one.sum()), "the 1 was taken for a printed line"
    assert int((out & ~one).sum()) == 0, "the rule is left"


def test_a_tiny_digit_between_a_pages_rules_is_kept_and_every_rule_removed() -> None:
    # A small "1" between the rules of a ruled page with a margin line: so little ink is left
    # clear of the lines that only lines seem left, but the rules come in a parallel set and
    # run from edge to edge, so none of them is the digit (one was kept and read as a "7").
    page = _canvas()
    for row in (12, 24, 36, 48, 60, 72):
        page[row : row + 2, :] = True
    page[:, 8:10] = True
    one = _canvas()
    one[41:45, 44:46] = True
    out = _remove(page | one)
    assert int((out & ~one).sum()) == 0, "a rule is left"
    assert int((out & one).sum()) >= int(one.sum()), "the digit went with the rules"


def test_a_comb_fields_side_the_digit_touches_goes_though_it_runs_on_past_the_crop() -> None:
    # A "7" whose bar starts on the left side of a comb field: the sides run on past the
    # crop's top (the next field's), so that end meets no printed line but the image's edge.
    # It is still a box's side (one end on a printed rule, the other at the edge, all the rest
    # of the ink between it and the printed side facing it); it stayed and the "7" read as "6".
    page = _canvas(100, 100)
    page[12:14, :] = True
    page[88:90, :] = True
    page[0:90, 8:10] = True
    page[0:90, 90:92] = True
    seven = _polyline(_canvas(100, 100), [(26.0, 10.0), (24.0, 60.0), (80.0, 36.0)], width=3.0)
    out = _remove(page | seven)
    assert int((out & ~seven).sum()) == 0, "some of the field's lines are left"
    assert int((out & seven).sum()) >= 0.95 * int(seven.sum()), "some of the digit went with the side"


def test_evenly_spaced_lines_are_a_page_with_a_rule_missing_but_uneven_ones_are_not() -> None:
    def rule(row: int) -> tuple[bool, torch.Tensor]:
        pixels = _canvas(100, 100)
        pixels[row : row + 2, :] = True
        return False, pixels

    def ruling(rows: list[int]) -> list[bool]:
        lines = [rule(row) for row in rows]
        return lines_module._page_ruling(lines, [lines_module._ends(line) for line in lines])

    assert ruling([10, 30, 50]) == [True] * 3
    assert ruling([10, 30, 70, 90]) == [True] * 4  # the rule at 50 was not found: a double gap
    assert ruling([10, 30]) == [False] * 2  # two lines are no page
    assert ruling([10, 30, 62]) == [False] * 3  # 20 and 32: not a whole number of rule gaps


def test_a_stem_drawn_along_a_margin_line_is_kept_and_the_rest_of_the_line_removed() -> None:
    # A "9" whose stem runs down a printed vertical line, wider than the line: the stem was
    # taken out with the line and the "9" read as a "0".
    line = _canvas()
    line[:, 47:49] = True
    loop = _ring(_canvas(), 25, 38, 10, 10)
    stem = _canvas()
    stem[25:65, 45:50] = True
    out = _remove(line | loop | stem)
    assert int((out & stem).sum()) >= 0.95 * int(stem.sum()), "the stem went with the line"
    assert int((out & ~(loop | stem)).sum()) == 0, "the line above and below the 9 is left"


def _four_on_a_margin_line() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A "4" whose stem is drawn right on a light margin line, no wider than it, on ruled paper.

    Returns the mask, its contrast (line 0.25, rules 0.2, pen 0.6, the pen over the line 0.7),
    the stem and the rest of the "4" (its arm and bar)."""
    margin, rules, stem, rest = _canvas(), _canvas(), _canvas(), _canvas()
    margin[:, 50:53] = True
    for row in (10, 30, 50, 70):
        rules[row : row + 2, :] = True
    stem[24:62, 50:53] = True  # on the margin line, across the rule at row 50
    rest = _polyline(rest, [(24, 38), (46, 32), (46, 50)])  # the arm and the bar up to the stem
    contrast = torch.zeros(80, 80)
    contrast[rules] = 0.2
    contrast[margin] = 0.25
    contrast[rest] = 0.6
    contrast[stem] = 0.7
    return margin | rules | stem | rest, contrast, stem, rest


def test_a_stem_on_a_lighter_margin_line_no_wider_than_it_is_kept_by_its_stronger_ink() -> None:
    # The stem is no wider than the line: by the mask alone it goes with the line (and the "4"
    # read as a "1" or "7"); the pen's ink over the printed line is stronger than the line's.
    mask, contrast, stem, rest = _four_on_a_margin_line()
    without = _remove(mask)
    assert int((without & stem).sum()) < 0.3 * int(stem.sum()), "the case no longer needs the contrast"
    out = remove_lines(mask[None, None], contrast[None, None])[0, 0]
    assert int((out & stem).sum()) == int(stem.sum()), "the stem went with the line (or broke at the rules)"
    assert int((out & rest).sum()) >= 0.95 * int(rest.sum())  # a rule's rim off the arm crossing it
    assert int((out & ~(stem | rest)).sum()) == 0, "the line above and below the 4, or a rule, is left"


def test_a_line_printed_stronger_on_most_of_its_length_or_crossed_by_a_stroke_keeps_nothing() -> None:
    # Uneven print (most of the line stronger) and a stroke crossing it are no stroke along it.
    digit = _ring(_canvas(), 40, 30, 22, 14)
    line, crossing = _canvas(), _canvas()
    line[:, 60:63] = True
    crossing[38:41, 40:70] = True  # a stroke from the "0" across the line
    contrast = torch.zeros(80, 80)
    contrast[line] = 0.25
    contrast[:50, 60:63] = 0.5  # printed darker along most of it
    contrast[digit | crossing] = 0.6
    mask = digit | line | crossing
    out = remove_lines(mask[None, None], contrast[None, None])[0, 0]
    assert int((out & line & ~crossing).sum()) == 0, "part of the line is left as a stroke"
    assert int((out & (digit | crossing)).sum()) == int((digit | crossing).sum())


def test_remove_lines_names_a_contrast_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="contrast must have the mask's shape"):
        remove_lines(torch.zeros(1, 1, 40, 40, dtype=torch.bool), torch.zeros(1, 1, 40, 41))


def test_a_one_drawn_along_a_rule_is_the_digit_and_a_crossing_rule_is_removed() -> None:
    # Only lines seem left: a thin printed vertical line with a wide "1" drawn along its lower
    # part, and a rule across. The "1" was removed with the vertical line and the rule kept.
    vertical = _canvas()
    vertical[:, 54:56] = True
    rule = _canvas()
    rule[40:42, :] = True  # nearer the center than the vertical line: it was taken for the digit
    one = _canvas()
    one[44:76, 52:58] = True
    out = _remove(vertical | rule | one)
    assert int((out & one).sum()) >= 0.95 * int(one.sum()), "the 1 went with the line"
    assert int((out & rule & ~vertical).sum()) == 0, "the rule is left"


def test_a_box_corner_and_a_lines_uneven_print_are_no_stroke_along_it() -> None:
    # A box whose sides are a pixel thicker on one stretch (uneven print): nothing of it is kept.
    digit = _ring(_canvas(), 40, 40, 22, 14)
    boxed = _box(digit, 4, 4, 76, 76)
    boxed[4:7, 20:40] = True
    out = _remove(boxed)
    assert int((out & ~digit).sum()) == 0, "some of the box is left"
    assert int((out & digit).sum()) == int(digit.sum())


def test_a_margin_line_across_a_pages_ruling_goes_even_when_no_rule_runs_clear_of_the_digit() -> None:
    # A big "0" spans the whole page, so no rule runs past it or clear of it: the rules are
    # print only as a page's ruling (four evenly spaced, edge to edge). The margin line
    # through the "0" crosses them, so it is the page's margin line and goes too; before,
    # only rules printed by their own ends counted, and it stayed as a stroke.
    digit = _ring(_canvas(), 40, 40, 37, 37)
    margin = _canvas()
    margin[:, 20:22] = True
    page = digit | margin
    for row in (12, 32, 52, 72):
        page[row : row + 2, :] = True
    out = _remove(page)
    assert int((out & ~digit).sum()) == 0, "the margin line or a rule is left"
    assert int((out & digit).sum()) >= 0.8 * int(digit.sum()), "the digit went with the lines"


def test_local_background_follows_a_glares_dip_in_the_paper() -> None:
    """The paper's level under a glare (a smooth dip once the ink is made bright) is measured
    to within 0.02, so that strokes under the glare stay above it (0.048 off with a blur as
    wide as the opening)."""
    from mobilenet_mnist.data.lighting import local_background

    ys, xs = torch.meshgrid(torch.arange(128).float(), torch.arange(128).float(), indexing="ij")
    paper = 0.3 - 0.25 * torch.exp(-((ys - 64) ** 2 + (xs - 64) ** 2) / (2 * 16.0**2))
    error = (local_background(paper[None, None])[0, 0] - paper).abs()
    assert float(error.max()) < 0.02, f"the background is off by {float(error.max()):.3f}"


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5])
def test_long_runs_keeps_exactly_the_runs_at_least_that_long(length: int) -> None:
    runs = [(0, 1), (3, 5), (8, 11), (14, 18), (21, 30)]  # lengths 1, 2, 3, 4, 9; one at each end
    mask = torch.zeros(30, dtype=torch.bool)
    expected = torch.zeros(30, dtype=torch.bool)
    for start, stop in runs:
        mask[start:stop] = True
        expected[start:stop] = stop - start >= length
    assert torch.equal(long_runs(mask, length), expected)


def test_runs_holding_bridges_but_does_not_count_and_trims_bridges_at_the_ends() -> None:
    def runs(marked: str, bridges: str, count: int) -> str:
        out = runs_holding(torch.tensor([c == "x" for c in marked]), torch.tensor([c == "b" for c in bridges]), count)
        return "".join("x" if v else "." for v in out.tolist())

    # Two marked pieces joined across a bridge hold 4; the bridges at the ends are not kept.
    assert runs("..xx..xx..", "bb..bb..b.", 4) == "..xxxxxx.."
    assert runs("..xx..xx..", "bb..bb..b.", 5) == ".........."  # bridges do not count
    assert runs("..xx...x..", "....bb....", 2) == "..xx......"  # an unbridged gap breaks the run
    assert runs("..........", "bbbbbbbbbb", 1) == ".........."  # bridges alone are no run


def test_cell_counts_sum_each_cells_pixels_and_cell_pixels_spread_them_back() -> None:
    mask = torch.rand(1, 1, 70, 45, generator=torch.Generator().manual_seed(0)) > 0.7
    counts, factor = cell_counts(mask, 32)
    assert factor == 3 and counts.shape == (1, 1, 24, 15)  # 70 and 45 padded to 72 and 45
    assert float(counts.sum()) == int(mask.sum())
    assert float(counts[0, 0, 1, 2]) == int(mask[0, 0, 3:6, 6:9].sum())
    spread = cell_pixels(counts, factor, (70, 45))
    assert spread.shape == mask.shape and torch.equal(spread[0, 0, 3:6, 6:9], counts[0, 0, 1, 2].expand(3, 3))
    assert cell_counts(mask[..., :20, :20], 32)[1] == 1, "a mask within the grid is its own grid"


def test_main_components_drop_the_small_ones_and_keep_pixels_exact() -> None:
    mask = _canvas(200, 200)
    mask[20:180, 50:56] = True  # the largest: 960 pixels
    mask[20:60, 120:126] = True  # 240, a quarter of it: kept at fraction 0.2
    mask[150:160, 150:155] = True  # 50: dropped
    expected = mask.clone()
    expected[150:160, 150:155] = False
    assert torch.equal(main_components(mask, 0.2), expected)  # on a grid of cells, but pixel-exact


def test_a_rule_just_above_a_wide_digit_that_never_touches_it_is_removed() -> None:
    # A "0" nearly as wide as the crop, its top two pixels under a rule from edge to edge:
    # the rule neither runs past the digit nor lies clear of it, but no stroke meets it.
    zero = _ring(_canvas(), 46, 40, 26, 38)
    ruled = zero.clone()
    ruled[15:17, :] = True
    out = _remove(ruled)
    assert not bool(out[15:17].any()), "the rule is left"
    assert torch.equal(out, zero), "the digit lost or gained ink"


def test_a_rule_crossing_another_at_a_small_angle_goes_with_it() -> None:
    # A strike-through across a table border, 5° apart: the second rule is found only from
    # the image's edge to where it runs into the first (beyond, their ink is one band).
    digit = _polyline(_canvas(), [(18, 22), (18, 56), (58, 36)])
    border = _polyline(_canvas(), [(66, -2), (66, 81)], width=2.0)
    strike = _polyline(_canvas(), [(73, -2), (65, 81)], width=2.0)
    out = _remove(digit | border | strike)
    assert not bool(out[61:].any())
    assert bool((out == digit).all())


def test_a_rule_printed_darker_for_a_stretch_far_from_the_digit_is_no_stroke_along_it() -> None:
    # A ruled page whose top rule is printed darker over a stretch (a photo's uneven print) far
    # above the "0": by its ink that stretch looks like a pen's stroke along the rule, but it
    # meets none of the digit's ink, so it goes with the rule (kept, it read as a bar).
    digit = _ring(_canvas(), 55, 40, 12, 9)
    page = digit.clone()
    for row in (8, 24, 40, 56, 72):
        page[row : row + 2, :] = True
    contrast = torch.zeros(80, 80)
    contrast[page] = 0.25
    contrast[8:10, 20:40] = 0.5  # the darker stretch of the top rule
    contrast[digit] = 0.6
    out = remove_lines(page[None, None], contrast[None, None])[0, 0]
    assert int((out & ~digit)[:40].sum()) == 0, "the darker stretch of the top rule (or another rule) is left"
    assert int((out & ~digit).sum()) <= 4  # at most the rule's rim where it crosses the "0"
    assert int((out & digit).sum()) >= 0.95 * int(digit.sum()), "the digit went with the rules"

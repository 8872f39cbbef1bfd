"""The input-quality score (data/quality.py): its signs of doubt, normalize_digits_with_quality and the Predictor."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from mobilenet_mnist.data import ink
from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.data.digits import doubt_signs, normalize_digits, normalize_digits_with_quality
from mobilenet_mnist.data.quality import QUALITY_WEIGHTS, SIGNS, ink_quality, one_sided_edges
from mobilenet_mnist.deploy.predictor import Predictor
from mobilenet_mnist.training.calibration import not_a_digit_score

PAPER, INK = 230, 20
LINES, FAINT, SCATTERED, EDGES = (SIGNS.index(name) for name in ("lines", "faint", "scattered", "edges"))


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """The shipped, calibrated default checkpoint on the PyTorch backend (starts fastest)."""
    return Predictor(backend="torch")


@pytest.fixture(scope="module")
def mnist_digits(mnist_dir: Path) -> torch.Tensor:
    return load_dataset("mnist", "test", mnist_dir).images[:4]


# ------------------------------------------------------------------------- drawn pages
def _page(h: int = 64, w: int = 64) -> torch.Tensor:
    return torch.full((h, w), PAPER, dtype=torch.uint8)


def _one() -> torch.Tensor:
    """A dark "1" in the middle of a plain 64×64 page: nothing to clean up."""
    page = _page()
    page[14:50, 30:34] = INK
    return page


def _boxed_one() -> torch.Tensor:
    """The same "1" inside a printed form box of 2-px lines, 8 px or more clear of the digit."""
    page = _one()
    page[4:6, 4:60] = INK
    page[58:60, 4:60] = INK
    page[4:60, 4:6] = INK
    page[4:60, 58:60] = INK
    return page


def _seven_cut_at_the_right() -> torch.Tensor:
    """A "7" whose bar runs off the image's right edge (cropped too tightly on one side only)."""
    page = _page()
    page[14:18, 40:64] = INK
    for row in range(18, 50):
        col = int(60 - (row - 18) * 0.5)
        page[row, col : col + 4] = INK
    return page


def _one_beside_a_cut_neighbour() -> torch.Tensor:
    """A "1" with a neighbour's stroke cut by the image's right edge: scattered ink at one side."""
    page = _page()
    page[14:50, 40:44] = INK
    page[10:40, 60:64] = INK
    return page


def _signs(page: torch.Tensor) -> torch.Tensor:
    """The signs of doubt of one uint8 page, found as normalize_digits finds them."""
    x = page.float()[None, None] / 255
    return ink.find_ink(ink.ink_bright(x))[3][0]


def _mask(h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.zeros(1, 1, h, w, dtype=torch.bool)


# ------------------------------------------------------------------------- one_sided_edges
def _edges(mask: torch.Tensor) -> float:
    return float(one_sided_edges(mask)[0])


def test_ink_clear_of_every_side_has_no_one_sided_edge() -> None:
    mask = _mask()
    mask[0, 0, 2:6, 3:5] = True
    assert _edges(mask) == 0.0


def test_ink_touching_only_the_right_side_counts_one() -> None:
    mask = _mask()
    mask[0, 0, 2:6, 5:8] = True
    assert _edges(mask) == 1.0


def test_ink_touching_top_and_left_only_counts_two() -> None:
    mask = _mask()
    mask[0, 0, 0:4, 0:3] = True  # a neighbour's corner in the top-left of the crop
    assert _edges(mask) == 2.0


def test_a_tight_crop_touching_all_four_sides_counts_zero() -> None:
    mask = _mask()
    mask[0, 0, :, 3:5] = True  # a "1" from top to bottom ...
    mask[0, 0, 0, :] = True  # ... with a serif across the whole top
    assert _edges(mask) == 0.0


def test_ink_touching_left_and_right_only_counts_zero() -> None:
    mask = _mask()
    mask[0, 0, 4, :] = True  # a bar from the left side to the right one
    assert _edges(mask) == 0.0


def test_one_sided_edges_is_per_image_and_float() -> None:
    masks = torch.cat([_mask(), _mask(), _mask()])
    masks[1, 0, 3:5, 6:8] = True  # right only
    masks[2, 0, 6:8, 0:2] = True  # bottom and left
    out = one_sided_edges(masks)
    assert out.dtype == torch.float32 and out.tolist() == [0.0, 1.0, 2.0]


# ------------------------------------------------------------------------- ink_quality
def test_no_signs_give_quality_exactly_one() -> None:
    quality = ink_quality(torch.zeros(3, len(SIGNS)))
    assert quality.shape == (3,) and quality.tolist() == [1.0, 1.0, 1.0]


def test_each_unit_sign_costs_its_own_weight() -> None:
    assert len(SIGNS) == len(QUALITY_WEIGHTS) == 4
    quality = ink_quality(torch.eye(len(SIGNS)))
    assert quality.shape == (len(SIGNS),)
    expected = torch.tensor([math.exp(-weight) for weight in QUALITY_WEIGHTS])
    torch.testing.assert_close(quality, expected)
    assert all(weight > 0 for weight in QUALITY_WEIGHTS), "every sign must lower the quality"


def test_quality_falls_as_the_signs_add_up() -> None:
    steps = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.0, 0.0],
            [1.0, 1.0, 0.2, 0.0],
            [1.0, 1.0, 0.6, 0.0],
            [1.0, 1.0, 0.6, 1.0],
            [1.0, 1.0, 0.6, 2.0],
        ]
    )
    quality = ink_quality(steps)
    assert quality.shape == (len(steps),)
    assert bool((quality[1:] < quality[:-1]).all()), quality.tolist()
    assert bool((quality > 0).all()) and float(quality[0]) == 1.0
    last = sum(weight * sign for weight, sign in zip(QUALITY_WEIGHTS, steps[-1].tolist(), strict=True))
    assert float(quality[-1]) == pytest.approx(math.exp(-last), rel=1e-6)


def test_integer_signs_are_accepted() -> None:
    signs = torch.tensor([[0, 0, 0, 2]])
    torch.testing.assert_close(ink_quality(signs), torch.tensor([math.exp(-2 * QUALITY_WEIGHTS[EDGES])]))


# ------------------------------------------------------------------------- normalize_digits_with_quality
def test_a_clean_digit_has_quality_one_and_the_digits_of_normalize_digits() -> None:
    page = _one()
    assert _signs(page).tolist() == [0.0, 0.0, 0.0, 0.0]
    digits, has_ink, quality = normalize_digits_with_quality(page)
    assert quality.dtype == torch.float32 and quality.tolist() == [1.0]
    assert has_ink.tolist() == [True]
    expected_digits, expected_has_ink = normalize_digits(page)
    assert torch.equal(digits, expected_digits) and torch.equal(has_ink, expected_has_ink)


def test_a_digit_in_a_form_box_costs_the_lines_weight_only() -> None:
    page = _boxed_one()
    assert _signs(page).tolist() == [1.0, 0.0, 0.0, 0.0], "the box's lines are taken out, nothing else"
    digits, has_ink, quality = normalize_digits_with_quality(page)
    assert has_ink.tolist() == [True]
    assert float(quality[0]) == pytest.approx(math.exp(-QUALITY_WEIGHTS[LINES]), rel=1e-6)
    assert float(quality[0]) < 1.0
    assert torch.equal(digits, normalize_digits(page)[0])
    clean_digits, _, _ = normalize_digits_with_quality(_one())
    assert float((digits - clean_digits).abs().max()) < 1e-5, "the box went: the digit is the clean one"


def test_a_digit_cut_by_the_right_edge_costs_the_edges_weight() -> None:
    page = _seven_cut_at_the_right()
    signs = _signs(page)
    assert signs.tolist() == [0.0, 0.0, 0.0, 1.0]
    _, has_ink, quality = normalize_digits_with_quality(page)
    assert has_ink.tolist() == [True]
    assert float(quality[0]) == pytest.approx(math.exp(-QUALITY_WEIGHTS[EDGES]), rel=1e-6)


def test_a_neighbours_stroke_cut_at_the_edge_is_dropped_but_counted_as_scattered_ink() -> None:
    page = _one_beside_a_cut_neighbour()
    signs = _signs(page)
    assert signs[LINES] == 0 and signs[FAINT] == 0
    assert signs[EDGES] == 0.0, "the neighbour's stroke is dropped: the ink left touches no side"
    assert 0.2 < float(signs[SCATTERED]) < 0.7, "the neighbour's stroke was a good share of the ink"
    _, has_ink, quality = normalize_digits_with_quality(page)
    assert has_ink.tolist() == [True]
    torch.testing.assert_close(quality, ink_quality(signs[None]))
    assert float(quality[0]) < math.exp(-0.2 * QUALITY_WEIGHTS[SCATTERED])


def test_doubt_signs_are_the_makings_of_the_quality_in_input_order() -> None:
    # A list of four pages: the signs come back in input order, as find_ink gives them.
    pages = [_boxed_one(), _one(), _seven_cut_at_the_right(), _one_beside_a_cut_neighbour()]
    signs = doubt_signs(pages)
    assert signs.dtype == torch.float32 and signs.shape == (4, len(SIGNS))
    torch.testing.assert_close(signs, torch.stack([_signs(page) for page in pages]).float())
    assert signs[0].tolist() == [1.0, 0.0, 0.0, 0.0] and signs[1].tolist() == [0.0, 0.0, 0.0, 0.0]
    torch.testing.assert_close(ink_quality(signs), normalize_digits_with_quality(pages)[2])


def test_mnist_digits_under_32_pixels_get_no_signs_and_quality_one(mnist_digits: torch.Tensor) -> None:
    assert mnist_digits.shape[-2:] == (28, 28) and ink.MIN_SIDE_FOR_QUALITY > 28
    x = mnist_digits.float()[:, None] / 255
    signs = ink.find_ink(ink.ink_bright(x))[3]
    assert signs.shape == (len(mnist_digits), len(SIGNS))
    assert torch.equal(signs, torch.zeros_like(signs))
    _, has_ink, quality = normalize_digits_with_quality(mnist_digits)
    assert has_ink.all() and quality.tolist() == [1.0] * len(mnist_digits)


def test_a_small_page_with_lines_and_a_cut_stroke_still_gets_quality_one() -> None:
    """Under MIN_SIDE_FOR_QUALITY a side no signs are given, whatever the ink looks like."""
    page = _page(30, 30)
    page[6:24, 13:16] = INK  # a "1"
    page[2:20, 27:30] = INK  # a neighbour's stroke cut at the right
    assert _signs(page).tolist() == [0.0, 0.0, 0.0, 0.0]
    assert normalize_digits_with_quality(page)[2].tolist() == [1.0]


def test_quality_follows_the_input_order_across_sizes(mnist_digits: torch.Tensor) -> None:
    """Images of one size are normalized together: the qualities must come back in input order."""
    images = [_boxed_one(), mnist_digits[0], _one(), _seven_cut_at_the_right(), mnist_digits[1]]
    _, has_ink, quality = normalize_digits_with_quality(images)
    assert has_ink.tolist() == [True] * 5
    expected = [math.exp(-QUALITY_WEIGHTS[LINES]), 1.0, 1.0, math.exp(-QUALITY_WEIGHTS[EDGES]), 1.0]
    assert quality.tolist() == pytest.approx(expected, rel=1e-6)


def test_blank_images_kept_get_a_quality_in_range() -> None:
    noise = torch.randint(0, 256, (64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    blanks = [_page(), torch.zeros(64, 64), torch.zeros(28, 28), torch.full((40, 50), 0.5), noise]
    digits, has_ink, quality = normalize_digits_with_quality(blanks, blank="keep")
    assert has_ink.tolist() == [False] * len(blanks)
    assert float(digits.abs().sum()) == 0.0
    assert quality.shape == (len(blanks),) and bool(torch.isfinite(quality).all())
    assert bool(((quality > 0) & (quality <= 1)).all()), quality.tolist()
    assert float(quality[2]) == 1.0  # under 32 px a side: no signs at all


def test_blank_images_still_raise_by_default() -> None:
    with pytest.raises(ValueError, match="hold no ink"):
        normalize_digits_with_quality([_one(), _page()])


# ------------------------------------------------------------------------- Predictor
def test_predictions_carry_the_quality_and_soften_by_it(predictor: Predictor) -> None:
    images = [_one(), _boxed_one()]
    _, _, quality = normalize_digits_with_quality(images)
    outputs = predictor.logits(images)
    torch.testing.assert_close(outputs.quality, quality)
    results = predictor(images, top_k=3)
    assert [r.quality for r in results] == pytest.approx(quality.tolist(), rel=1e-6)
    assert results[0].quality == 1.0 and results[1].quality < 1.0

    q = outputs.quality * predictor.stability(outputs)
    scaled = outputs.logits * q[:, None]
    probs = (scaled / predictor.temperature).softmax(1)
    scores = not_a_digit_score(scaled, predictor.temperature, predictor.ood_score)
    for row, result in enumerate(results):
        assert result.probability == pytest.approx(float(probs[row].max()), abs=1e-6)
        assert [p for _, p in result.top_k] == pytest.approx(probs[row].topk(3).values.tolist(), abs=1e-6)
        assert result.score == pytest.approx(float(scores[row]), abs=1e-6)

    # The box is taken out whole: both pages show the model the same "1", so the boxed page's
    # probability and score differ from the clean page's only by its quality (the turned
    # copies are the same too, and so is the stability).
    assert [r.label for r in results] == ["1", "1"]
    torch.testing.assert_close(outputs.logits[1], outputs.logits[0])
    torch.testing.assert_close(outputs.view_logits[:, 1], outputs.view_logits[:, 0])
    unscaled = (outputs.logits[1] * results[1].stability / predictor.temperature).softmax(0).max()
    assert results[1].probability < float(unscaled) - 1e-3, "a doubtful cleanup softens the probability"
    assert results[1].probability < results[0].probability
    assert results[1].score > results[0].score, "and makes the image look less like a digit"


def test_without_preparing_the_quality_is_one(mnist_digits: torch.Tensor) -> None:
    raw = Predictor(backend="torch", prepare=False)
    outputs = raw.logits(mnist_digits[:1])
    assert outputs.quality.tolist() == [1.0]
    (result,) = raw(mnist_digits[:1])
    assert result.quality == 1.0
    probability = float((outputs.logits / raw.temperature).softmax(1).max())
    assert result.probability == pytest.approx(probability, abs=1e-6)

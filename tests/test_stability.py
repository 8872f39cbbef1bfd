"""The stability under turned copies (deploy/stability.py) and how the Predictor uses it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilenet_mnist.data.datasets import load_dataset
from mobilenet_mnist.data.digits import shorter_sides
from mobilenet_mnist.data.transforms import preprocess
from mobilenet_mnist.deploy import stability as stability_module
from mobilenet_mnist.deploy.predictor import Predictor
from mobilenet_mnist.deploy.stability import STABILITY_WEIGHT, VIEW_ANGLES, stability, turned_views, unsteadiness
from mobilenet_mnist.training.calibration import not_a_digit_score


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(backend="torch")


@pytest.fixture(scope="module")
def mnist_digits(mnist_dir: Path) -> torch.Tensor:
    return load_dataset("mnist", "test", mnist_dir).images[:8]


def _bar(side: int = 28) -> torch.Tensor:
    """A vertical bar through the center: a "1"."""
    image = torch.zeros(1, 1, side, side)
    image[..., 4:24, 13:15] = 1.0
    return image


def _tilt(image: torch.Tensor) -> float:
    """The ink's row-column covariance: 0 for an upright bar, its sign tells the lean."""
    ys, xs = torch.meshgrid(torch.arange(image.shape[-2]).float(), torch.arange(image.shape[-1]).float(), indexing="ij")
    w = image[0, 0] / image[0, 0].sum()
    my, mx = float((w * ys).sum()), float((w * xs).sum())
    return float((w * (ys - my) * (xs - mx)).sum())


# ------------------------------------------------------------------------- turned_views
def test_turned_views_are_one_copy_per_angle_in_order() -> None:
    images = torch.cat([_bar(), torch.zeros(1, 1, 28, 28)])
    views = turned_views(images)
    assert views.shape == (len(VIEW_ANGLES) * 2, 1, 28, 28) and views.dtype == torch.float32
    assert float(views[1::2].abs().max()) == 0.0, "a blank image stays blank"
    tilts = [_tilt(views[2 * i : 2 * i + 1]) for i in range(len(VIEW_ANGLES))]
    assert abs(_tilt(_bar())) < 1e-4
    # Opposite angles lean the bar opposite ways, by the same amount (about the center).
    assert tilts[0] * tilts[1] < 0 and tilts[0] == pytest.approx(-tilts[1], rel=1e-3)
    # Positive angles turn counter-clockwise on screen: the bar's top leans left ("\"), a
    # positive row-column covariance (rows run down); negative ones lean it right ("/").
    for angle, tilt in zip(VIEW_ANGLES, tilts, strict=True):
        assert math.copysign(1, tilt) == math.copysign(1, angle)


def test_a_turn_by_zero_degrees_is_the_image(monkeypatch: pytest.MonkeyPatch, mnist_digits: torch.Tensor) -> None:
    monkeypatch.setattr(stability_module, "VIEW_ANGLES", (0.0,))
    images = mnist_digits[:, None].float() / 255
    torch.testing.assert_close(turned_views(images), images, atol=1e-5, rtol=0)


def test_a_turn_keeps_the_ink_in_the_frame() -> None:
    views = turned_views(_bar())
    # A 20-pixel bar turned by 20° about the center stays inside a 28-pixel frame.
    assert views.sum(dim=(1, 2, 3)).tolist() == pytest.approx([float(_bar().sum())] * len(VIEW_ANGLES), rel=0.02)


# ------------------------------------------------------------------------- unsteadiness and stability
def test_views_that_agree_surely_are_steady_and_views_that_disagree_are_not() -> None:
    logits = torch.tensor([[9.0, 0.0, 0.0], [9.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    views = torch.stack([
        torch.tensor([[9.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]),
        torch.tensor([[9.0, 0.0, 0.0], [0.0, 0.0, 9.0], [0.0, 0.0, 0.0]]),
    ])  # fmt: skip
    u = unsteadiness(logits, views)
    p_top = math.exp(9) / (math.exp(9) + 2)
    assert u.tolist() == pytest.approx([1 - p_top, 1 - 1 / (math.exp(9) + 2), 2 / 3], abs=1e-6)
    assert u[0] < 1e-3 < u[2] < u[1] <= 1


def test_unsteadiness_is_taken_at_the_temperature() -> None:
    logits = torch.tensor([[2.0, 0.0]])
    views = torch.tensor([[[2.0, 0.0]]])
    hot = unsteadiness(logits, views, temperature=4.0)
    cold = unsteadiness(logits, views, temperature=0.5)
    assert float(hot) == pytest.approx(1 - 1 / (1 + math.exp(-0.5)), abs=1e-6)
    assert float(cold) == pytest.approx(1 - 1 / (1 + math.exp(-4.0)), abs=1e-6)


def test_no_views_are_steady() -> None:
    assert unsteadiness(torch.randn(3, 10), torch.zeros(0, 3, 10)).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("shape", [(3, 10), (2, 4, 10), (2, 3, 9)])
def test_view_logits_of_the_wrong_shape_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"view_logits must be \(V, N, C\) with \(N, C\) = logits' shape \(3, 10\)"):
        unsteadiness(torch.randn(3, 10), torch.randn(*shape))


def test_stability_is_one_when_steady_and_falls_with_the_unsteadiness() -> None:
    s = stability(torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert s[0] == 1.0 and bool((s[1:] < s[:-1]).all())
    assert float(s[-1]) == pytest.approx(math.exp(-STABILITY_WEIGHT), rel=1e-6)
    assert STABILITY_WEIGHT > 0


# ------------------------------------------------------------------------- Predictor
def test_predictor_runs_the_turned_copies_and_softens_by_their_doubt(predictor: Predictor) -> None:
    page = torch.full((60, 44), 230, dtype=torch.uint8)
    page[10:50, 20:24] = 20  # a "1"
    squiggle = torch.full((60, 60), 230, dtype=torch.uint8)
    squiggle[15:45, 15:19] = 20
    squiggle[15:19, 15:45] = 20
    squiggle[41:45, 15:45] = 20  # a "[": no digit, read differently when turned
    images = [page, squiggle]
    outputs = predictor.logits(images)
    assert outputs.view_logits.shape == (len(VIEW_ANGLES), 2, 10)
    x = preprocess(turned_views(outputs.images), predictor.input_size, predictor.mean, predictor.std, 1)
    with torch.inference_mode():
        direct = predictor._fast(x).float().view(len(VIEW_ANGLES), 2, 10)
    torch.testing.assert_close(outputs.view_logits, direct, atol=1e-4, rtol=1e-4)

    steady = predictor.stability(outputs)
    expected = stability(unsteadiness(outputs.logits, outputs.view_logits, predictor.temperature))
    torch.testing.assert_close(steady, expected)
    results = predictor(images, top_k=2)
    assert [r.stability for r in results] == pytest.approx(steady.tolist(), rel=1e-6)
    assert results[0].stability > 0.95, "a clean 1 reads the same turned"
    assert results[1].stability < results[0].stability

    scaled = outputs.logits * (outputs.quality * steady)[:, None]
    probs = (scaled / predictor.temperature).softmax(1)
    scores = not_a_digit_score(scaled, predictor.temperature, predictor.ood_score)
    for row, result in enumerate(results):
        assert result.probability == pytest.approx(float(probs[row].max()), abs=1e-6)
        assert result.score == pytest.approx(float(scores[row]), abs=1e-6)


def test_mnist_sized_images_are_not_turned_and_keep_their_calibration(
    predictor: Predictor, mnist_digits: torch.Tensor
) -> None:
    page = torch.full((60, 44), 230, dtype=torch.uint8)
    page[10:50, 20:24] = 20
    images = [*mnist_digits[:3], page, torch.full((31, 200), 230, dtype=torch.uint8)]
    outputs = predictor.logits(images)
    assert outputs.turned.tolist() == [False, False, False, True, False]
    assert outputs.view_logits.shape == (len(VIEW_ANGLES), 5, 10)
    for view in outputs.view_logits:  # not turned: the upright logits stand in
        torch.testing.assert_close(view[~outputs.turned], outputs.logits[~outputs.turned])
    assert not torch.equal(outputs.view_logits[0, 3], outputs.logits[3])
    results = predictor(mnist_digits)
    assert [r.stability for r in results] == [1.0] * len(mnist_digits)
    probability = (predictor.logits(mnist_digits).logits / predictor.temperature).softmax(1).amax(1)
    assert [r.probability for r in results] == pytest.approx(probability.tolist(), abs=1e-6)


def test_shorter_sides_follow_the_input_order(mnist_digits: torch.Tensor) -> None:
    images = [mnist_digits[:2], torch.zeros(40, 90), np.zeros((3, 70, 33), np.uint8)]
    assert shorter_sides(images).tolist() == [28, 28, 40, 33, 33, 33]
    with pytest.raises(ValueError, match="empty list"):
        shorter_sides([])


def test_without_preparing_there_are_no_turned_copies(mnist_digits: torch.Tensor) -> None:
    raw = Predictor(backend="torch", prepare=False)
    outputs = raw.logits(mnist_digits[:2])
    assert outputs.view_logits.shape == (0, 2, 10) and outputs.turned.tolist() == [False, False]
    assert [r.stability for r in raw(mnist_digits[:2])] == [1.0, 1.0]

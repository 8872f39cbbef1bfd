"""Temperature scaling, calibration error, not-a-digit scores, thresholds and AUROC (training/calibration.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mobilenet_mnist.training.calibration import (
    SCORE_METHODS,
    auroc,
    calibrated_probs,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    not_a_digit_score,
)


def _calibrated_data(n: int, classes: int = 10, scale: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels drawn from softmax(logits): calibrated by construction."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=generator) * scale
    labels = torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]
    return logits, labels


# ------------------------------------------------------------------------- temperature
@pytest.mark.parametrize("factor", [0.4, 1.0, 2.5, 6.0])
def test_fit_temperature_recovers_how_much_the_logits_were_scaled(factor: float) -> None:
    logits, labels = _calibrated_data(20_000)
    assert fit_temperature(logits * factor, labels) == pytest.approx(factor, rel=0.05)


def test_fit_temperature_is_deterministic_and_never_changes_the_prediction() -> None:
    logits, labels = _calibrated_data(2000, seed=1)
    first, second = fit_temperature(logits * 3, labels), fit_temperature(logits * 3, labels)
    assert first == second
    assert torch.equal(calibrated_probs(logits, first).argmax(1), logits.argmax(1))


def test_fit_temperature_lowers_the_nll_of_overconfident_logits() -> None:
    logits, labels = _calibrated_data(5000, seed=2)
    sharp = logits * 4
    t = fit_temperature(sharp, labels)
    nll = torch.nn.functional.cross_entropy
    assert float(nll(sharp / t, labels)) < float(nll(sharp, labels))


def test_calibrated_probs_divide_the_logits_by_the_temperature() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    expected = (logits / 2).softmax(dim=1)
    torch.testing.assert_close(calibrated_probs(logits, 2.0), expected)
    assert torch.allclose(calibrated_probs(logits, 2.0).sum(1), torch.ones(2))


# ------------------------------------------------------------------------- ECE
def test_ece_of_a_hand_computed_example() -> None:
    # bin (13/15, 14/15]: confidences 0.9, 0.9, accuracy 1/2 → gap 0.4, weight 2/5
    # bin (9/15, 10/15]: 0.6, 0.6, 0.65, accuracy 3/3 → gap |1 - 0.6167|, weight 3/5
    probs = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6], [0.65, 0.35]])
    labels = torch.tensor([0, 0, 0, 1, 0])
    expected = 2 / 5 * 0.4 + 3 / 5 * abs(1 - (0.6 + 0.6 + 0.65) / 3)
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)


def test_ece_of_calibrated_data_is_near_zero_and_of_overconfident_data_large() -> None:
    logits, labels = _calibrated_data(100_000, seed=3)
    assert expected_calibration_error(logits, labels) < 0.01
    assert expected_calibration_error(logits * 4, labels) > 0.1
    assert expected_calibration_error(logits / 4, labels) > 0.1  # underconfident is miscalibrated too


def test_ece_reads_logits_and_probabilities_alike() -> None:
    logits, labels = _calibrated_data(500, seed=4)
    from_logits = expected_calibration_error(logits, labels)
    assert expected_calibration_error(logits.softmax(1), labels) == pytest.approx(from_logits)
    assert expected_calibration_error(logits, labels, kind="logits") == pytest.approx(from_logits)
    assert 0.0 <= from_logits <= 1.0


def test_ece_puts_a_confidence_on_a_bin_edge_into_the_lower_bin() -> None:
    # confidence exactly 0.6 = 9/15 ends bin (8/15, 9/15]; wrong: gap 0.6
    probs = torch.tensor([[0.6, 0.4]])
    assert expected_calibration_error(probs, torch.tensor([1])) == pytest.approx(0.6)
    assert expected_calibration_error(torch.tensor([[1.0, 0.0]]), torch.tensor([0])) == pytest.approx(0.0)


# ------------------------------------------------------------------------- AUROC
def test_auroc_of_hand_cases() -> None:
    assert auroc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auroc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert auroc([1.0, 1.0, 1.0], [1.0, 1.0]) == 0.5
    assert auroc([0.9, 0.8], [0.1, 0.8]) == pytest.approx(0.875)  # one tie of four pairs counts half


def test_auroc_equals_the_share_of_pairs_ranked_right() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 6, 40).astype(float), rng.integers(0, 5, 30).astype(float)  # many ties
    pairs = [(p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)]
    assert auroc(torch.from_numpy(pos), neg) == pytest.approx(sum(pairs) / len(pairs))


# ------------------------------------------------------------------------- scores, thresholds
def test_not_a_digit_scores_by_hand() -> None:
    logits = torch.tensor([[4.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    torch.testing.assert_close(not_a_digit_score(logits, 2.0, "margin"), torch.tensor([-1.5, 0.0], dtype=torch.float64))
    energy = -2.0 * torch.logsumexp(logits.double() / 2, dim=1)
    torch.testing.assert_close(not_a_digit_score(logits, 2.0, "energy"), energy)
    top = (logits.double() / 2).softmax(1).max(1).values
    torch.testing.assert_close(not_a_digit_score(logits, 2.0, "max_prob"), 1 - top)
    assert SCORE_METHODS[0] == "margin" and not_a_digit_score(logits).tolist() == [-3.0, 0.0]


def test_a_confident_answer_scores_lower_than_an_undecided_one() -> None:
    confident, undecided = torch.tensor([[9.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.9, 0.8]])
    for method in SCORE_METHODS:
        assert float(not_a_digit_score(confident, 1.0, method)) < float(not_a_digit_score(undecided, 1.0, method))


def test_choose_threshold_keeps_the_asked_share_of_digits() -> None:
    digits = torch.arange(100, dtype=torch.float64)
    threshold = choose_threshold(digits, keep=0.99)
    assert float((digits <= threshold).double().mean()) >= 0.99 and threshold == 98.0
    assert choose_threshold(digits, keep=1.0) == 99.0


def test_choose_threshold_with_non_digits_takes_the_best_balanced_accuracy() -> None:
    digits = [0.0, 1.0, 2.0, 3.0, 10.0]  # one outlier digit
    others = [4.0, 5.0, 6.0, 11.0]
    # keep >= 0.8 allows 3.0 (flags 1 digit, catches 4 of 4 others) or higher; 3.0 is best
    assert choose_threshold(digits, others, keep=0.8) == 3.0
    # keep = 1.0 forces a threshold at the outlier
    assert choose_threshold(digits, others, keep=1.0) == 10.0


# ------------------------------------------------------------------------- bad input


# Bad input: rows in tests/test_audit.py ("Real digits and calibrated predictions").

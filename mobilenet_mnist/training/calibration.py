"""Calibrated confidence and "not a digit?" scores for a trained classifier.

The recipes train with label smoothing, which caps the softmax: a model that is right
99.6 % of the time says about 91 % for every image, so its probabilities say nothing.
Temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural Networks") fixes
that with one number fitted after training: ``softmax(logits / T)``, with ``T`` chosen
to minimise the negative log-likelihood of held-out images. ``T`` never changes the
predicted class, only how sure the model says it is.

This module holds the measurements around it:

* :func:`fit_temperature`: ``T`` from validation logits and labels;
* :func:`calibrated_probs`: ``softmax(logits / T)``;
* :func:`expected_calibration_error`: the gap between confidence and accuracy (ECE,
  equal-width confidence bins, as in Guo et al.);
* :func:`not_a_digit_score`: how unlike the training images an input is, from its logits
  (``"margin"``: minus the calibrated log-odds of the top class over the runner-up;
  ``"energy"``: the free energy ``-T·logsumexp(logits / T)`` of Liu et al., 2020;
  ``"max_prob"``: ``1 - max softmax(logits / T)``); higher means less like a digit;
* :func:`choose_threshold`: the score above which an image is flagged, chosen on held-out
  digits (and non-digits) to keep a given share of real digits;
* :func:`auroc`: how well a score separates two sets (rank-based, ties counted half).

Everything takes torch tensors and returns Python floats (or a tensor of scores), runs in
float64 and is deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..utils.checks import check_number

__all__ = [
    "SCORE_METHODS",
    "auroc",
    "calibrated_probs",
    "choose_threshold",
    "expected_calibration_error",
    "fit_temperature",
    "not_a_digit_score",
]

#: Values of ``not_a_digit_score(method=...)``.
SCORE_METHODS = ("margin", "energy", "max_prob")
#: ``T`` is searched in ``[exp(-_LOG_T_LIMIT), exp(_LOG_T_LIMIT)]``.
_LOG_T_LIMIT = 5.0


# ------------------------------------------------------------------------- checks
def _check_logits(logits: Any, name: str = "logits") -> torch.Tensor:
    """``logits`` as a float64 (N, C) tensor; errors say what was wrong and what is valid."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, num_classes), got {type(logits).__name__}.")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must be a float tensor (the model's outputs), got dtype {logits.dtype}.")
    if logits.dim() != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(
            f"{name} must have shape (N, num_classes) with N >= 1 and at least 2 classes, got "
            f"{tuple(logits.shape)}; stack the model's outputs for a whole set, e.g. torch.cat(batches)."
        )
    if not bool(torch.isfinite(logits).all()):
        raise ValueError(f"{name} contain NaN or infinite values; check the model's outputs.")
    return logits.detach().to("cpu", torch.float64)


def _check_labels(labels: Any, count: int, num_classes: int) -> torch.Tensor:
    """``labels`` as an int64 (N,) tensor of class indices in ``[0, num_classes)``."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor of class indices (N,), got {type(labels).__name__}.")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class indices, got dtype {labels.dtype}.")
    if labels.shape != (count,):
        raise ValueError(f"labels must have shape ({count},), one per row of the logits, got {tuple(labels.shape)}.")
    labels = labels.detach().to("cpu", torch.int64)
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(
            f"labels must be class indices in [0, {num_classes}), got range [{int(labels.min())}, {int(labels.max())}]."
        )
    return labels


def _check_scores(scores: Any, name: str) -> torch.Tensor:
    """A non-empty 1-D float64 tensor of finite scores (lists and arrays are accepted)."""
    if isinstance(scores, (str, bytes)) or not hasattr(scores, "__len__"):
        raise TypeError(f"{name} must be a 1-D tensor, array or list of numbers, got {type(scores).__name__}.")
    try:
        values = torch.as_tensor(scores)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be a 1-D tensor, array or list of numbers: {error}") from error
    if values.dtype == torch.bool or values.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}.")
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D set of scores, got shape {tuple(values.shape)}.")
    if isinstance(scores, torch.Tensor):
        values = values.detach().to("cpu", torch.float64)
    else:  # Python floats are float64: keep their exact values
        values = torch.as_tensor(scores, dtype=torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} contain NaN or infinite values.")
    return values


def _check_temperature(temperature: Any) -> float:
    return float(check_number("temperature", temperature, 0.0, low_inclusive=False))


# ------------------------------------------------------------------------- temperature
def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, *, max_iter: int = 100) -> float:
    """The temperature ``T > 0`` that minimises the NLL of ``softmax(logits / T)`` (Guo et al., 2017).

    Fit it on held-out images the model never trained on (the recipe's validation split),
    then divide the model's logits by it. ``T > 1`` softens an overconfident model, ``T < 1``
    sharpens an underconfident one (label smoothing makes models underconfident). The
    search runs L-BFGS on ``log T`` in float64 from ``T = 1``: deterministic, and ``T`` stays
    positive.

    Example:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> true = torch.randn(5000, 10) * 3
        >>> labels = torch.distributions.Categorical(logits=true).sample()
        >>> abs(fit_temperature(true * 2.5, labels) - 2.5) < 0.1  # logits 2.5x too sharp
        True

    Args:
        logits: Model outputs (N, C), float.
        labels: True classes (N,), integer indices.
        max_iter: Most L-BFGS iterations.

    Returns:
        ``T``, a float in ``[e^-5, e^5]`` (about 0.0067 to 148).

    Raises:
        TypeError: If ``logits`` is not a float tensor or ``labels`` not an integer tensor.
        ValueError: For shapes that do not match, NaN/inf logits, labels out of range or
            ``max_iter`` < 1.
    """
    x = _check_logits(logits)
    y = _check_labels(labels, x.shape[0], x.shape[1])
    check_number("max_iter", max_iter, 1, integer=True)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return float(log_t.detach().clamp(-_LOG_T_LIMIT, _LOG_T_LIMIT).exp())


def calibrated_probs(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``softmax(logits / temperature)`` along the classes, in the logits' dtype.

    Raises:
        TypeError: If ``logits`` is not a float tensor or ``temperature`` not a number.
        ValueError: If ``logits`` is not (N, C) or ``temperature`` is not > 0.
    """
    _check_logits(logits)
    temperature = _check_temperature(temperature)
    return (logits.detach() / temperature).softmax(dim=1)


# ------------------------------------------------------------------------- calibration error
def _as_probs(values: torch.Tensor, kind: str) -> torch.Tensor:
    """Rows of probabilities: softmax of logits, or the probabilities as given."""
    if kind not in ("auto", "probs", "logits"):
        raise ValueError(f"kind must be 'auto', 'probs' or 'logits', got {kind!r}.")
    looks_like_probs = bool((values >= 0).all() and (values <= 1).all()) and bool(
        torch.allclose(values.sum(dim=1), torch.ones(len(values), dtype=values.dtype), atol=1e-4)
    )
    if kind == "probs" and not looks_like_probs:
        raise ValueError(
            "kind='probs' needs rows of probabilities in [0, 1] that sum to 1; pass kind='logits' "
            "for raw model outputs."
        )
    return values if (kind == "probs" or (kind == "auto" and looks_like_probs)) else values.softmax(dim=1)


def expected_calibration_error(
    probs_or_logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, *, kind: str = "auto"
) -> float:
    """Expected calibration error: the average gap between confidence and accuracy.

    The top-1 confidences are sorted into ``n_bins`` equal-width bins over ``(0, 1]``; ECE
    is the sum over bins of ``(images in bin / N) · |accuracy in bin - mean confidence in
    bin|`` (Guo et al., 2017; Naeini et al., 2015). 0 is perfectly calibrated; 0.05 means
    the stated confidence is 5 percentage points off on average.

    Example:
        >>> import torch
        >>> probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
        >>> round(expected_calibration_error(probs, torch.tensor([0, 1, 0, 0])), 4)  # 0.5·|0.5-0.9| + 0.5·|1-0.6|
        0.4

    Args:
        probs_or_logits: (N, C) probabilities or logits (apply the temperature first:
            ``logits / T``).
        labels: True classes (N,), integer indices.
        n_bins: Number of confidence bins (15 is the usual choice).
        kind: ``"probs"``, ``"logits"``, or ``"auto"`` (probabilities when every row lies
            in [0, 1] and sums to 1, else logits).

    Returns:
        The ECE, a float in [0, 1].

    Raises:
        TypeError: For inputs of the wrong type or dtype.
        ValueError: For shapes that do not match, NaN/inf, labels out of range, ``n_bins``
            < 1, an unknown ``kind`` or ``kind="probs"`` with rows that are no probabilities.
    """
    values = _check_logits(probs_or_logits, "probs_or_logits")
    y = _check_labels(labels, values.shape[0], values.shape[1])
    check_number("n_bins", n_bins, 1, integer=True)
    confidence, predicted = _as_probs(values, kind).max(dim=1)
    correct = (predicted == y).to(torch.float64)
    # Bin b holds confidences in (b/n, (b+1)/n]; a confidence of exactly 0 joins bin 0.
    bins = (torch.ceil(confidence * n_bins).long() - 1).clamp(0, n_bins - 1)
    count = torch.bincount(bins, minlength=n_bins).to(torch.float64)
    gap = torch.bincount(bins, weights=correct - confidence, minlength=n_bins)
    return float(gap.abs().sum() / count.sum())


# ------------------------------------------------------------------------- not a digit
def not_a_digit_score(logits: torch.Tensor, temperature: float = 1.0, method: str = "margin") -> torch.Tensor:
    """How unlike the training images each input is, from its logits: higher = less like a digit.

    On the published checkpoints ``"margin"`` separates digits from non-digits best (see
    the docs' calibration page and ``benchmarks/calibrate.py``): a model trained with label
    smoothing gives every confident answer about the same top logit, so scores built on
    its size (energy, top probability) tell little, while the gap to the runner-up class
    still does.

    Args:
        logits: Model outputs (N, C).
        temperature: The model's fitted temperature (1.0 without one).
        method: ``"margin"``: ``-(z₁ - z₂) / T``, minus the calibrated log-odds
            ``log(p₁ / p₂)`` of the top class over the runner-up (at most 0);
            ``"energy"``: the free energy ``-T · logsumexp(logits / T)`` (Liu et al., 2020,
            "Energy-based Out-of-distribution Detection"); ``"max_prob"``:
            ``1 - max softmax(logits / T)`` (Hendrycks & Gimpel, 2017), in [0, 1).

    Returns:
        A float64 tensor (N,) of scores.

    Raises:
        TypeError: If ``logits`` is not a float tensor or ``temperature`` not a number.
        ValueError: If ``logits`` is not (N, C), ``temperature`` is not > 0 or ``method``
            is unknown (the valid ones are listed).
    """
    x = _check_logits(logits)
    temperature = _check_temperature(temperature)
    if method == "margin":
        top2 = x.topk(2, dim=1).values
        return -(top2[:, 0] - top2[:, 1]) / temperature
    if method == "energy":
        return -temperature * torch.logsumexp(x / temperature, dim=1)
    if method == "max_prob":
        return 1.0 - (x / temperature).softmax(dim=1).max(dim=1).values
    raise ValueError(f"method must be one of {', '.join(map(repr, SCORE_METHODS))}, got {method!r}.")


def choose_threshold(digit_scores: Any, other_scores: Any = None, *, keep: float = 0.99) -> float:
    """The not-a-digit threshold: images scoring above it are flagged "not a digit?".

    Choose it on held-out images (validation digits and non-digits, never the test set).
    The threshold keeps at least a share ``keep`` of the real digits (their score <= it);
    with ``other_scores``, among those thresholds the one with the best balanced accuracy
    (mean of the share of digits kept and the share of non-digits flagged) is taken, the
    lowest on ties. ``keep=0.99`` flags at most 1 % of digits like the held-out ones by
    mistake; how many non-digits it catches is measured on other images (see :func:`auroc`).

    Example:
        >>> choose_threshold([0.1, 0.2, 0.3, 0.4], keep=0.75)
        0.3
        >>> choose_threshold([0.1, 0.2, 0.3, 0.4], [0.35, 0.9], keep=0.5)
        0.3

    Args:
        digit_scores: :func:`not_a_digit_score` of real digits (1-D).
        other_scores: Scores of non-digits (1-D), or None.
        keep: Least share of the digits to accept, in (0, 1].

    Returns:
        The threshold, one of the given scores.

    Raises:
        TypeError: If the scores are not numbers or ``keep`` is not a number.
        ValueError: If the scores are empty, not 1-D or not finite, or ``keep`` is not in (0, 1].
    """
    digits = _check_scores(digit_scores, "digit_scores").sort().values
    keep = float(check_number("keep", keep, 0.0, 1.0, low_inclusive=False))
    lowest = digits[max(0, math.ceil(keep * len(digits) - 1e-9) - 1)]  # the smallest that keeps enough
    if other_scores is None:
        return float(lowest)
    others = _check_scores(other_scores, "other_scores").sort().values
    candidates = torch.cat([digits, others]).unique()
    candidates = candidates[candidates >= lowest]
    kept = torch.searchsorted(digits, candidates, right=True) / len(digits)
    caught = 1 - torch.searchsorted(others, candidates, right=True) / len(others)
    balanced = (kept + caught) / 2
    return float(candidates[int(torch.argmax(balanced))])  # argmax: the first (lowest) of equal ones


def auroc(positive_scores: Any, negative_scores: Any) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative.

    Rank-based (the Mann-Whitney U statistic divided by the number of pairs): tied scores
    get their average rank, so a tie counts half. 1.0 separates perfectly, 0.5 is chance,
    0.0 is perfectly reversed.

    Example:
        >>> auroc([0.9, 0.8], [0.1, 0.8])
        0.875

    Args:
        positive_scores: Scores of the positives (e.g. non-digits' :func:`not_a_digit_score`).
        negative_scores: Scores of the negatives (e.g. real digits').

    Returns:
        The AUROC, a float in [0, 1].

    Raises:
        TypeError: If either is not a 1-D set of numbers.
        ValueError: If either is empty, not 1-D or holds NaN/inf.
    """
    pos = _check_scores(positive_scores, "positive_scores")
    neg = _check_scores(negative_scores, "negative_scores")
    ranks = _average_ranks(torch.cat([pos, neg]))
    n_pos, n_neg = len(pos), len(neg)
    u = float(ranks[:n_pos].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks of ``values``; tied values share the mean of their ranks."""
    _, inverse, counts = torch.unique(values, sorted=True, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)  # rank of each group's last member
    mean_rank = ends - (counts.to(torch.float64) - 1) / 2
    return mean_rank[inverse]

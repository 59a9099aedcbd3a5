"""Decision thresholds chosen on validation rows (Youden's J, a target sensitivity), confusion metrics at a
threshold, and the average precision (AUPRC) from the same descending thresholds."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ecglab.bench.metrics.checks import observed_rows, observed_two_classes


def observed_any(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    _, positive, score = observed_rows(y_true, y_score)
    return positive, score


def descending_thresholds(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct scores, descending, with true and false positives at score >= each of them."""
    order = np.argsort(-score)  # the order within ties does not matter
    score, pos = score[order], positive[order]
    last_of_block = np.r_[score[1:] != score[:-1], True]
    tp = np.cumsum(pos)[last_of_block]
    fp = np.cumsum(~pos)[last_of_block]
    return score[last_of_block], tp, fp


def threshold_youden(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """The score threshold (score >= threshold is positive) maximising Youden's J = sensitivity +
    specificity - 1, among the observed scores; on ties of J the highest threshold. Choose it on validation
    data and apply it to the test set. Needs both classes."""
    positive, score = observed_two_classes(y_true, y_score)
    thresholds, tp, fp = descending_thresholds(positive, score)
    j = tp / positive.sum() - fp / (~positive).sum()
    return float(thresholds[int(np.argmax(j))])


def threshold_at_sensitivity(y_true: ArrayLike, y_score: ArrayLike, sensitivity: float = 0.9) -> float:
    """The highest threshold (score >= threshold is positive) whose sensitivity on these rows is at least
    ``sensitivity``: the k-th highest positive score, k the fewest positives that reach it."""
    if not 0 < sensitivity <= 1:
        raise ValueError(f"sensitivity must lie in (0, 1]; got {sensitivity}")
    positive, score = observed_any(y_true, y_score)
    pos_scores = np.sort(score[positive])[::-1]
    if pos_scores.size == 0:
        raise ValueError("threshold_at_sensitivity needs at least one positive among the observed rows")
    reached = np.arange(1, pos_scores.size + 1) / pos_scores.size
    k = int(np.searchsorted(reached, sensitivity, side="left"))
    return float(pos_scores[k])


def ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def confusion_metrics(y_true: ArrayLike, y_score: ArrayLike, threshold: float) -> dict[str, float | int]:
    """Confusion counts and ratios at ``threshold`` (score >= threshold is positive), observed rows only.
    Undefined ratios (a zero denominator) are NaN, never 0."""
    positive, score = observed_any(y_true, y_score)
    predicted = score >= threshold
    tp = int(np.sum(predicted & positive))
    fp = int(np.sum(predicted & ~positive))
    fn = int(np.sum(~predicted & positive))
    tn = int(np.sum(~predicted & ~positive))
    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def auprc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Average precision of the observed rows, sum over thresholds of (recall step) x precision: equals
    ``sklearn.metrics.average_precision_score``. Needs at least one positive."""
    positive, score = observed_any(y_true, y_score)
    n_pos = int(positive.sum())
    if n_pos == 0:
        raise ValueError("average precision needs at least one positive among the observed rows")
    _, tp, fp = descending_thresholds(positive, score)
    precision = tp / (tp + fp)
    recall_step = np.diff(np.r_[0, tp]) / n_pos
    return float(np.sum(recall_step * precision))

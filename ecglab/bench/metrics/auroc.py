"""The point AUROC of one target: the Mann-Whitney statistic by mid-ranks (ties one half), -1 labels
masked."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ecglab.bench.metrics.checks import observed_two_classes


def midranks(sorted_values: np.ndarray) -> np.ndarray:
    """1-based ranks of an ascending array, tied values sharing the mean rank of their block."""
    n = sorted_values.size
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    ends = np.append(starts[1:], n)  # np.r_ would do, at several times the cost on small inputs
    return np.repeat((starts + 1 + ends) / 2.0, ends - starts)


def rank_auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUROC with mid-ranks (exact for integer-valued rank sums below 2**53)."""
    order = np.argsort(score)  # the order within ties does not matter
    ranks = midranks(score[order])
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    u = ranks[positive[order]].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auroc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve of the observed rows (label -1 masked); ties count one half.

    Equals ``sklearn.metrics.roc_auc_score`` on the observed rows. Raises ValueError when the observed rows
    hold a single class."""
    positive, score = observed_two_classes(y_true, y_score)
    return rank_auroc(positive, score)

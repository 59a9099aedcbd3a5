"""DeLong (1988) AUROC variances, intervals and the paired test of two models, by Sun & Xu's fast
algorithm (structural components from mid-ranks)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri
from scipy.stats import norm

from ecglab.bench.metrics.auroc import midranks
from ecglab.bench.metrics.checks import check_alpha, check_matrices, observed_rows, observed_two_classes


def delong_components(positive: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and DeLong's structural components by mid-ranks (Sun & Xu 2014): V10 per positive (share of
    negatives below it, ties one half), V01 per negative (share of positives above it), both in row order
    so that two models' components pair up. One sort."""
    order = np.argsort(score)  # the order within ties does not matter
    pos, sorted_score = positive[order], score[order]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    rank_all = np.empty(score.size)  # mid-ranks among all rows, and within each class, in row order
    rank_all[order] = midranks(sorted_score)
    rank_own = np.empty(score.size)
    rank_own[order[pos]] = midranks(sorted_score[pos])
    rank_own[order[~pos]] = midranks(sorted_score[~pos])
    point = (rank_all[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    v10 = (rank_all[positive] - rank_own[positive]) / n_neg
    v01 = 1.0 - (rank_all[~positive] - rank_own[~positive]) / n_pos
    return float(point), v10, v01


def delong_one(positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    point, v10, v01 = delong_components(positive, score)
    variance = component_var(v10) / v10.size + component_var(v01) / v01.size
    return point, variance


def component_var(v: np.ndarray) -> float:
    """Sample variance (ddof=1); NaN for a single component (undefined)."""
    return float(np.var(v, ddof=1)) if v.size > 1 else float("nan")


def normal_interval(point: float, variance: float, alpha: float) -> tuple[float, float]:
    """point -/+ z * sqrt(variance), clipped to [0, 1]: the normal approximation can spill beyond the range
    an AUROC can take (near 0 or 1, or with few rows); the clipped bound is then 0 or 1."""
    half = ndtri(1 - alpha / 2) * np.sqrt(variance)  # norm.ppf's own function, without its overhead
    return float(np.clip(point - half, 0.0, 1.0)), float(np.clip(point + half, 0.0, 1.0))


def delong_variance(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """DeLong (1988) variance of the AUROC of one target (label -1 masked), by Sun & Xu's fast algorithm."""
    return delong_one(*observed_two_classes(y_true, y_score))[1]


def delong_matrix(labels: ArrayLike, scores: ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """Per-target AUROC, DeLong variance and normal (1 - alpha) interval clipped to [0, 1].

    Columns: target, n, n_pos, auroc, variance, se, low, high. A target with a single class among its
    observed rows gets NaN (undefined); the variance needs at least two rows of each class, else NaN."""
    check_alpha(alpha)
    y, s = check_matrices(labels, scores)
    records = []
    for target in range(y.shape[1]):
        _, positive, score = observed_rows(y[:, target], s[:, target])
        n_pos = int(positive.sum())
        point = variance = low = high = float("nan")
        if 0 < n_pos < positive.size:
            point, variance = delong_one(positive, score)
            low, high = normal_interval(point, variance, alpha)
        records.append((target, positive.size, n_pos, point, variance, np.sqrt(variance), low, high))
    columns = ["target", "n", "n_pos", "auroc", "variance", "se", "low", "high"]
    return pd.DataFrame.from_records(records, columns=columns)


class DelongTest(NamedTuple):
    """AUROC(a) - AUROC(b), its DeLong standard error, two-sided p-value and normal interval (low, high)."""

    diff: float
    se: float
    p_value: float
    ci: tuple[float, float]


def delong_test(
    labels: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, alpha: float = 0.05
) -> DelongTest:
    """DeLong's paired test of two models' AUROC on the same rows of one target (1-D labels, -1 masked).

    The variance of the difference uses the covariance of the two models' structural components. When that
    standard error is 0 (e.g. identical rankings) the p-value is 1 if the difference is 0, else 0."""
    check_alpha(alpha)
    positive, score_a = observed_two_classes(labels, scores_a)
    _, score_b = observed_two_classes(labels, scores_b)
    auroc_a, v10a, v01a = delong_components(positive, score_a)
    auroc_b, v10b, v01b = delong_components(positive, score_b)
    diff = auroc_a - auroc_b
    cov10 = np.cov(np.vstack((v10a, v10b))) / v10a.size
    cov01 = np.cov(np.vstack((v01a, v01b))) / v01a.size
    cov = cov10 + cov01
    variance = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]
    se = float(np.sqrt(max(variance, 0.0)))  # rounding can leave a tiny negative for near-identical models
    p_value = float(2.0 * norm.sf(abs(diff) / se)) if se > 0.0 else float(diff == 0.0)
    half = float(norm.ppf(1 - alpha / 2)) * se
    return DelongTest(diff, se, p_value, (diff - half, diff + half))

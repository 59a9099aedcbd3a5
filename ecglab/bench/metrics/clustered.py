"""Clustered AUROC statistics: Obuchowski's (1997) extension of DeLong's structural components to clustered
rows (anchors that repeat patients), for the variance of an AUROC, its interval, the paired test of two models
on the same rows and any linear combination of AUROCs on the same rows (e.g. a mean over seeds).

Obuchowski NA (1997), "Nonparametric analysis of clustered ROC curve data", Biometrics 53:567-578. For
clusters i = 1..I with m_i positive and n_i negative observed rows (M = sum m_i, N = sum n_i), DeLong's
components V10 of each positive (share of negatives below it, ties one half) and V01 of each negative (share
of positives above it) are summed per cluster, X_i and Y_i, and centred, x_i = X_i - m_i A and y_i = Y_i -
n_i A (A the AUROC). With I10 clusters holding a positive and I01 holding a negative:

    S10 = I10 / ((I10 - 1) M) sum x_i^2,  S01 = I01 / ((I01 - 1) N) sum y_i^2,  S11 = I / (I - 1) sum x_i y_i
    var(A) = S10 / M + S01 / N + 2 S11 / (M N)

(the covariance of two models' AUROCs: the same sums over products of the two models' x and y, S11 taken
both ways). These are the factors of Obuchowski's own program (``funcs_clusteredROC.R``, Cleveland Clinic):
with one row per cluster, I10 = M, I01 = N, each S11 product is 0 (a cluster holds a positive or a
negative) and S10 = sum (V10 - A)^2 / (M - 1): the variance, covariance and test are then exactly DeLong's
(1988; Sun & Xu's algorithm, :mod:`~ecglab.bench.metrics.delong`), not merely up to a factor. (Writing the
total cluster count I in S10 and S01, as some restatements do, would differ from DeLong by I (M - 1) /
((I - 1) M) on such data.) The variance needs two clusters holding a positive and two holding a negative,
else it is NaN (undefined), as DeLong's needs two rows of each class. It is a quadratic form that cannot be
negative (I10 / (I10 - 1) and I01 / (I01 - 1) are at least I / (I - 1)). One sort per model and group sums
(``np.bincount``): O(n log n).

Labels are 1, 0 or -1 (not measured, masked as everywhere in the metrics); ``groups`` holds one cluster
(patient) id per row, -1 rows included (they are dropped with their rows), never missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from ecglab.bench.metrics.checks import check_alpha, check_matrices, observed_rows, require_both_classes
from ecglab.bench.metrics.delong import delong_components, normal_interval
from ecglab.bench.metrics.resamples import group_codes

CLUSTERED_CI = "clustered DeLong by patient (Obuchowski 1997)"
CLUSTERED_TEST = "clustered paired DeLong test by patient (Obuchowski 1997)"
DELONG_CI = "DeLong (1988), independent anchors (one per patient)"
DELONG_TEST = "DeLong (1988) paired test, independent anchors (one per patient)"


@dataclass(frozen=True)
class Clusters:
    """The clusters of one target's observed rows: cluster index of each observed row (0..I-1), and per
    cluster its positive (m) and negative (n) row counts."""

    codes: np.ndarray
    m: np.ndarray
    n: np.ndarray

    @property
    def size(self) -> int:
        return int(self.m.size)

    @property
    def n_with_positive(self) -> int:
        return int(np.count_nonzero(self.m))

    @property
    def one_row_each(self) -> bool:
        """Every cluster holds one observed row (DeLong's independent rows)."""
        return int(self.m.sum() + self.n.sum()) == self.size


def clusters_of(codes: np.ndarray, positive: np.ndarray) -> Clusters:
    """The clusters of observed rows from their (not necessarily compact) integer group codes."""
    _, compact = np.unique(codes, return_inverse=True)
    compact = compact.reshape(-1)
    size = int(compact.max()) + 1 if compact.size else 0
    m = np.bincount(compact[positive], minlength=size)
    n = np.bincount(compact[~positive], minlength=size)
    return Clusters(compact, m, n)


def centred_sums(
    positive: np.ndarray, score: np.ndarray, clusters: Clusters
) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC A and the centred cluster sums x_i = X_i - m_i A and y_i = Y_i - n_i A of one model."""
    point, v10, v01 = delong_components(positive, score)
    x = np.bincount(clusters.codes[positive], weights=v10, minlength=clusters.size) - clusters.m * point
    y = np.bincount(clusters.codes[~positive], weights=v01, minlength=clusters.size) - clusters.n * point
    return point, x, y


def obuchowski_covariance(
    xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray, clusters: Clusters
) -> float:
    """Obuchowski's covariance of two AUROCs on the same clustered rows (the variance when a is b); NaN with
    fewer than two clusters holding a positive or two holding a negative."""
    i10, i01, i = clusters.n_with_positive, int(np.count_nonzero(clusters.n)), clusters.size
    if i10 < 2 or i01 < 2:
        return float("nan")
    big_m, big_n = float(clusters.m.sum()), float(clusters.n.sum())
    s10 = i10 / ((i10 - 1) * big_m) * float(xa @ xb)
    s01 = i01 / ((i01 - 1) * big_n) * float(ya @ yb)
    s11_both = i / (i - 1) * (float(xa @ yb) + float(xb @ ya))  # S11_ab + S11_ba
    return s10 / big_m + s01 / big_n + s11_both / (big_m * big_n)


def observed_clusters(
    y_true: ArrayLike, y_score: ArrayLike, groups: ArrayLike
) -> tuple[np.ndarray, np.ndarray, Clusters]:
    """(positive flags, scores, clusters) of one target's observed rows; both classes required."""
    rows, positive, score = observed_rows(y_true, y_score)
    require_both_classes(positive)
    codes = group_codes(groups, np.asarray(y_score).shape[0])
    return positive, score, clusters_of(codes[rows], positive)


def clustered_one(positive: np.ndarray, score: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """(AUROC, Obuchowski variance) of one model."""
    point, x, y = centred_sums(positive, score, clusters)
    variance = obuchowski_covariance(x, y, x, y, clusters)
    return point, max(variance, 0.0) if np.isfinite(variance) else float("nan")


def clustered_variance(y_true: ArrayLike, y_score: ArrayLike, groups: ArrayLike) -> float:
    """Obuchowski's (1997) clustered variance of the AUROC of one target (label -1 masked; ``groups``: one
    cluster id per row). Equals :func:`~ecglab.bench.metrics.delong.delong_variance` when every cluster
    holds one observed row; NaN with fewer than two clusters holding a positive or a negative."""
    return clustered_one(*observed_clusters(y_true, y_score, groups))[1]


class ClusteredTest(NamedTuple):
    """A linear combination of AUROCs on the same rows (for a paired test AUROC(a) - AUROC(b)): its value,
    clustered standard error, two-sided p-value against 0, normal interval (low, high), the clusters of the
    observed rows and of them those holding a positive, and the method that made it."""

    diff: float
    se: float
    p_value: float
    ci: tuple[float, float]
    n_clusters: int
    n_pos_clusters: int
    method: str


def clustered_contrast(
    labels: ArrayLike,
    scores: Sequence[ArrayLike],
    weights: Sequence[float],
    groups: ArrayLike,
    alpha: float = 0.05,
) -> ClusteredTest:
    """Clustered (Obuchowski 1997) test of sum_k weights[k] * AUROC(scores[k]) on the same rows of one
    target (1-D labels, -1 masked; every score vector finite on the observed rows). Weights (1, -1) give the
    paired test of two models; (1/k, ..., -1/l, ...) compares the means over seeds of two entries. The
    combination's centred cluster sums are the weighted sums of each model's, so its variance is the same
    quadratic form. When the standard error is 0 the p-value is 1 if the value is 0, else 0; NaN when the
    variance is undefined."""
    check_alpha(alpha)
    if len(scores) != len(weights) or not scores:
        raise ValueError(
            f"one weight per score vector; got {len(scores)} score vectors, {len(weights)} weights"
        )
    rows, positive, _ = observed_rows(labels, scores[0])
    require_both_classes(positive)
    clusters = clusters_of(group_codes(groups, np.asarray(scores[0]).shape[0])[rows], positive)
    value, x, y = 0.0, np.zeros(clusters.size), np.zeros(clusters.size)
    for weight, score in zip(weights, scores, strict=True):
        _, _, observed = observed_rows(labels, score)
        point, xk, yk = centred_sums(positive, observed, clusters)
        value, x, y = value + weight * point, x + weight * xk, y + weight * yk
    variance = obuchowski_covariance(x, y, x, y, clusters)
    se = float(np.sqrt(max(variance, 0.0))) if np.isfinite(variance) else float("nan")
    if not np.isfinite(se):
        p_value = float("nan")
    elif se > 0.0:
        p_value = float(2.0 * ndtr(-abs(value) / se))  # norm.sf, without its overhead
    else:
        p_value = float(value == 0.0)
    half = float(ndtri(1 - alpha / 2)) * se
    method = CLUSTERED_TEST if abs(float(np.sum(weights))) < 1e-12 else CLUSTERED_CI
    return ClusteredTest(
        value, se, p_value, (value - half, value + half), clusters.size, clusters.n_with_positive, method
    )


def clustered_test(
    labels: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, groups: ArrayLike, alpha: float = 0.05
) -> ClusteredTest:
    """Clustered paired test of two models' AUROC on the same rows of one target (1-D labels, -1 masked;
    ``groups``: one cluster, e.g. patient, id per row): AUROC(a) - AUROC(b), Obuchowski's standard error,
    p-value and normal interval. Equals :func:`~ecglab.bench.metrics.delong.delong_test` when every cluster
    holds one observed row."""
    return clustered_contrast(labels, [scores_a, scores_b], [1.0, -1.0], groups, alpha)


def one_row_per_group(y_true: ArrayLike, groups: ArrayLike) -> bool:
    """Whether every group holds at most one observed row (label != -1) of this target: where DeLong's
    independent-rows variance is valid."""
    y = np.asarray(y_true)
    codes = group_codes(groups, y.shape[0])[y != -1]
    return bool(np.unique(codes).size == codes.size)


MATRIX_COLUMNS = [
    "target",
    "n",
    "n_pos",
    "n_patients",
    "n_pos_patients",
    "auroc",
    "variance",
    "se",
    "low",
    "high",
    "one_per_patient",
]


def clustered_matrix(
    labels: ArrayLike, scores: ArrayLike, groups: ArrayLike, alpha: float = 0.05
) -> pd.DataFrame:
    """Per-target AUROC, Obuchowski variance and normal (1 - alpha) interval clipped to [0, 1], for a (rows x
    targets) label matrix in {1, 0, -1} whose rows are clustered by ``groups`` (one patient id per row).

    Columns: target, n, n_pos, n_patients (clusters with an observed row), n_pos_patients (clusters with a
    positive row), auroc, variance, se, low, high, one_per_patient (every patient holds one observed row:
    there DeLong's interval is valid and equal). A target with a single class among its observed rows gets a
    NaN AUROC; the variance needs two patients with a positive and two with a negative, else NaN."""
    check_alpha(alpha)
    y, s = check_matrices(labels, scores)
    codes = group_codes(groups, y.shape[0])
    records = []
    for target in range(y.shape[1]):
        rows, positive, score = observed_rows(y[:, target], s[:, target])
        clusters = clusters_of(codes[rows], positive)
        n_pos = int(positive.sum())
        point = variance = low = high = float("nan")
        if 0 < n_pos < positive.size:
            point, variance = clustered_one(positive, score, clusters)
            if np.isfinite(variance):
                low, high = normal_interval(point, variance, alpha)
        records.append(
            (
                target,
                positive.size,
                n_pos,
                clusters.size,
                clusters.n_with_positive,
                point,
                variance,
                np.sqrt(variance),
                low,
                high,
                clusters.one_row_each,
            )
        )
    return pd.DataFrame.from_records(records, columns=MATRIX_COLUMNS)

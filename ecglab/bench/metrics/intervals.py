"""AUROC confidence intervals: percentile bootstrap (one target, or all targets of a label matrix on
shared stored resamples), DeLong or clustered DeLong (Obuchowski 1997), and the paired bootstrap difference
of two models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ecglab.bench.metrics.auroc import rank_auroc
from ecglab.bench.metrics.bootstrap import bootstrap_aurocs, by_row_counts, plan_aurocs, pooling_plan
from ecglab.bench.metrics.checks import (
    check_alpha,
    check_matrices,
    observed_rows,
    observed_two_classes,
    require_both_classes,
)
from ecglab.bench.metrics.clustered import clustered_one, observed_clusters
from ecglab.bench.metrics.delong import delong_one, normal_interval
from ecglab.bench.metrics.resamples import bootstrap_resamples, check_counts


@dataclass(frozen=True)
class AurocCI:
    """AUROC with a (1 - alpha) interval and the method that made it ("bootstrap", "delong" or
    "clustered"). n_boot_used / n_boot_skipped: resamples with both classes / with a single class (skipped);
    both 0 for DeLong and clustered."""

    auroc: float
    low: float
    high: float
    method: str
    n_boot_used: int
    n_boot_skipped: int


def percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float, int, int]:
    """(low, high, used, skipped): percentile interval (numpy's linear interpolation) of the non-NaN values;
    NaN bounds when no resample is usable."""
    used = values[~np.isnan(values)]
    if used.size == 0:
        return float("nan"), float("nan"), 0, int(values.size)
    low, high = np.quantile(used, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), int(used.size), int(values.size - used.size)


def auroc_ci(
    y_true: ArrayLike,
    y_score: ArrayLike,
    method: Literal["bootstrap", "delong", "clustered"] = "bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    groups: ArrayLike | None = None,
    alpha: float = 0.05,
    resamples: ArrayLike | None = None,
) -> AurocCI:
    """AUROC of one target (label -1 masked) with a (1 - alpha) confidence interval.

    bootstrap: percentile interval over resamples; ``groups`` (one id per row) makes it a cluster bootstrap.
    ``resamples`` (a stored count matrix from ``bootstrap_resamples``, n_boot x n_rows) replaces drawing:
    then ``n_boot`` and ``seed`` are not used and ``groups`` must be None (the clusters are in the counts).
    Resamples whose observed rows hold a single class are skipped and counted.
    delong: DeLong's variance (Sun & Xu fast algorithm); normal interval, clipped to [0, 1] (the normal
    approximation can spill past 0 or 1); ``n_boot`` and ``seed`` are not used, ``groups`` and
    ``resamples`` are refused (DeLong assumes independent rows).
    clustered: Obuchowski's (1997) clustered DeLong variance (:mod:`~ecglab.bench.metrics.clustered`) with
    ``groups`` (required: one cluster, e.g. patient, id per row); normal interval clipped to [0, 1], NaN
    bounds with fewer than two clusters holding a positive or a negative; equal to DeLong's when every
    cluster holds one observed row. ``resamples`` is refused, ``n_boot`` and ``seed`` are not used."""
    check_alpha(alpha)
    if method == "clustered":
        if groups is None or resamples is not None:
            raise ValueError("method='clustered' needs groups (one cluster id per row) and no resamples")
        point, variance = clustered_one(*observed_clusters(y_true, y_score, groups))
        low, high = normal_interval(point, variance, alpha) if np.isfinite(variance) else (np.nan, np.nan)
        return AurocCI(point, float(low), float(high), "clustered", 0, 0)
    positive, score = observed_two_classes(y_true, y_score)
    if method == "delong":
        if resamples is not None or groups is not None:
            raise ValueError(
                "resamples and groups are for method='bootstrap'; DeLong assumes independent rows"
            )
        point, variance = delong_one(positive, score)
        low, high = normal_interval(point, variance, alpha)
        return AurocCI(point, low, high, "delong", 0, 0)
    if method != "bootstrap":
        raise ValueError(f"method must be 'bootstrap', 'delong' or 'clustered'; got {method!r}")
    n_rows = np.asarray(y_true).shape[0]
    if resamples is None:
        resamples = bootstrap_resamples(n_rows, n_boot, seed, groups)
    elif groups is not None:
        raise ValueError("pass groups to bootstrap_resamples, not together with stored resamples")
    values = bootstrap_aurocs(y_true, y_score, resamples)
    low, high, used, skipped = percentile_interval(values, alpha)
    return AurocCI(rank_auroc(positive, score), low, high, "bootstrap", used, skipped)


MATRIX_COLUMNS = ["target", "n", "n_pos", "auroc", "low", "high", "n_boot_used", "n_boot_skipped"]


def auroc_ci_matrix(
    labels: ArrayLike, scores: ArrayLike, counts: ArrayLike, alpha: float = 0.05
) -> pd.DataFrame:
    """Per-target AUROC and percentile bootstrap interval for a (rows x targets) label matrix in {1, 0, -1}.

    ``counts`` (n_boot x rows) are the stored resamples shared by all targets. Each target counts only its
    observed rows (label != -1). Columns: target (column index), n, n_pos, auroc, low, high, n_boot_used,
    n_boot_skipped. A target whose observed rows hold a single class gets NaN auroc and bounds (it is
    undefined) and all resamples skipped."""
    return auroc_ci_and_resamples(labels, scores, counts, alpha)[0]


def auroc_ci_and_resamples(
    labels: ArrayLike, scores: ArrayLike, counts: ArrayLike, alpha: float = 0.05
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`auroc_ci_matrix`'s table and, from the same pass, every target's AUROC on every resample
    (targets x resamples; NaN rows for targets with a single class among their observed rows)."""
    check_alpha(alpha)
    y, s = check_matrices(labels, scores)
    c = check_counts(counts, y.shape[0])
    by_row = by_row_counts(c)
    records = []
    resampled = np.full((y.shape[1], c.shape[0]), np.nan)
    for target in range(y.shape[1]):
        rows, positive, score = observed_rows(y[:, target], s[:, target])
        n_pos = int(positive.sum())
        point = low = high = float("nan")
        used, skipped = 0, c.shape[0]
        if 0 < n_pos < rows.size:
            plan = pooling_plan(rows, positive, score, y.shape[0], by_row)
            point = plan.auroc
            resampled[target] = plan_aurocs(plan, by_row)
            low, high, used, skipped = percentile_interval(resampled[target], alpha)
        records.append((target, rows.size, n_pos, point, low, high, used, skipped))
    return pd.DataFrame.from_records(records, columns=MATRIX_COLUMNS), resampled


class PairedDiff(NamedTuple):
    """AUROC(a) - AUROC(b) with a percentile interval over shared resamples."""

    diff: float
    low: float
    high: float


def paired_bootstrap_diff(
    labels: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, counts: ArrayLike, alpha: float = 0.05
) -> PairedDiff:
    """Paired bootstrap of AUROC(a) - AUROC(b) for one target (1-D labels, -1 masked) on the same rows:
    both models are scored on every stored resample (``counts``), the interval is the percentile interval
    of the per-resample differences (single-class resamples skipped, the same ones for both models)."""
    check_alpha(alpha)
    rows, positive, score_a = observed_rows(labels, scores_a)
    _, _, score_b = observed_rows(labels, scores_b)
    require_both_classes(positive)
    c = check_counts(counts, len(scores_a))
    by_row = by_row_counts(c)  # once for both models
    plan_a = pooling_plan(rows, positive, score_a, c.shape[1], by_row)
    plan_b = pooling_plan(rows, positive, score_b, c.shape[1], by_row)
    diffs = plan_aurocs(plan_a, by_row) - plan_aurocs(plan_b, by_row)
    low, high, _, _ = percentile_interval(diffs, alpha)
    return PairedDiff(plan_a.auroc - plan_b.auroc, low, high)

"""Evaluation metrics of the leaderboards: AUROC with bootstrap, DeLong and clustered (Obuchowski 1997)
confidence intervals, paired model comparisons, threshold metrics and AnyECG-Lab's AUROC tiers.

Labels are 1 (abnormal), 0 (normal) or -1 (not measured). Every function here masks the -1 rows: they are
never counted as negatives, their scores are never looked at (they may even be NaN), and no other label value
is accepted. Scores of observed rows must be finite.

Bootstrap resamples are stored once per test set as a count matrix (:mod:`~ecglab.bench.metrics.resamples`):
entry ``[b, i]`` is how many times row ``i`` is drawn in resample ``b``; the bootstrap AUROC is then the
Mann-Whitney statistic of each resample's rows weighted by their counts
(:mod:`~ecglab.bench.metrics.bootstrap`). Modules: ``checks`` (input checks), ``auroc`` (point AUROC),
``resamples``, ``bootstrap``, ``intervals`` (bootstrap, DeLong and clustered intervals, paired differences),
``delong``, ``clustered`` (Obuchowski's clustered DeLong by patient: variance, paired test, per target),
``thresholds`` (thresholds, confusion metrics, AUPRC), ``tiers`` and ``calibration`` (Brier score, ECE,
reliability bins, temperature and isotonic recalibration fitted on validation rows).
"""

from __future__ import annotations

from ecglab.bench.metrics.auroc import auroc
from ecglab.bench.metrics.bootstrap import bootstrap_aurocs
from ecglab.bench.metrics.calibration import (
    IsotonicMap,
    apply_isotonic,
    apply_temperature,
    brier_score,
    ece_binning,
    expected_calibration_error,
    fit_isotonic,
    fit_temperature,
    reliability_bins,
)
from ecglab.bench.metrics.clustered import (
    CLUSTERED_CI,
    CLUSTERED_TEST,
    DELONG_CI,
    DELONG_TEST,
    ClusteredTest,
    clustered_contrast,
    clustered_matrix,
    clustered_test,
    clustered_variance,
    one_row_per_group,
)
from ecglab.bench.metrics.delong import DelongTest, delong_matrix, delong_test, delong_variance
from ecglab.bench.metrics.intervals import (
    AurocCI,
    PairedDiff,
    auroc_ci,
    auroc_ci_and_resamples,
    auroc_ci_matrix,
    paired_bootstrap_diff,
)
from ecglab.bench.metrics.resamples import bootstrap_resamples
from ecglab.bench.metrics.thresholds import (
    auprc,
    confusion_metrics,
    threshold_at_sensitivity,
    threshold_youden,
)
from ecglab.bench.metrics.tiers import TIER_HIGH, TIER_LOW, tier_counts

__all__ = [
    "CLUSTERED_CI",
    "CLUSTERED_TEST",
    "DELONG_CI",
    "DELONG_TEST",
    "TIER_HIGH",
    "TIER_LOW",
    "AurocCI",
    "ClusteredTest",
    "DelongTest",
    "IsotonicMap",
    "PairedDiff",
    "apply_isotonic",
    "apply_temperature",
    "auprc",
    "auroc",
    "auroc_ci",
    "auroc_ci_and_resamples",
    "auroc_ci_matrix",
    "bootstrap_aurocs",
    "bootstrap_resamples",
    "brier_score",
    "clustered_contrast",
    "clustered_matrix",
    "clustered_test",
    "clustered_variance",
    "confusion_metrics",
    "delong_matrix",
    "delong_test",
    "delong_variance",
    "ece_binning",
    "expected_calibration_error",
    "fit_isotonic",
    "fit_temperature",
    "one_row_per_group",
    "paired_bootstrap_diff",
    "reliability_bins",
    "threshold_at_sensitivity",
    "threshold_youden",
    "tier_counts",
]

"""Calibration of probabilities: the Brier score, the expected calibration error (ECE) over stated bins, the
reliability diagram's bins, and two recalibrations fitted on validation rows and applied to others:
temperature scaling (one parameter on the logits) and isotonic regression (pool adjacent violators).

As everywhere in :mod:`ecglab.bench.metrics`, labels are 1, 0 or -1 (not measured); -1 rows are masked, and
the scores of observed rows must be finite. Scores must be probabilities in [0, 1] (checked, never clipped
into range): a model trained as a regression gives other values, and has no calibration in this sense.

Binning: ``n_bins`` equal-width bins over [0, 1], bin ``b`` holding scores in ``[b/n_bins, (b+1)/n_bins)``
and the last bin also 1.0; ECE = sum over bins of ``n_bin / n * |mean score - observed rate|``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit

from ecglab.bench.metrics.checks import observed_rows, require_both_classes

ECE_BINS = 10
LOGIT_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] before the logit of temperature scaling
LOG_T_BOUNDS = (-7.0, 7.0)  # temperature searched in [e^-7, e^7]
RELIABILITY_COLUMNS = ["bin", "bin_low", "bin_high", "n", "mean_score", "observed_rate"]


def ece_binning(n_bins: int = ECE_BINS) -> str:
    """The binning of :func:`expected_calibration_error` in words, as result tables state it."""
    return (
        f"{n_bins} equal-width bins over [0, 1] (last bin closed); "
        "ECE = sum over bins of n_bin/n * |mean score - observed rate|"
    )


def observed_probabilities(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(positive flags, scores) of the observed rows, the scores checked to be probabilities in [0, 1]."""
    _, positive, score = observed_rows(y_true, y_score)
    if score.size and (score.min() < 0 or score.max() > 1):
        raise ValueError(
            f"scores must be probabilities in [0, 1]; got values from {score.min():.4g} to {score.max():.4g}"
        )
    return positive, score.astype(float)


def _nonempty(positive: np.ndarray) -> None:
    if positive.size == 0:
        raise ValueError("no observed rows (every label is -1)")


def brier_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Mean squared difference between the probability and the 0/1 label over the observed rows."""
    positive, score = observed_probabilities(y_true, y_score)
    _nonempty(positive)
    return float(np.mean((score - positive) ** 2))


def reliability_bins(y_true: ArrayLike, y_score: ArrayLike, n_bins: int = ECE_BINS) -> pd.DataFrame:
    """One row per bin (every bin, empty ones with n = 0 and NaN means): bin index, its edges, the observed
    rows in it, their mean score and their observed positive rate."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1; got {n_bins}")
    positive, score = observed_probabilities(y_true, y_score)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(which, minlength=n_bins)
    sums = np.bincount(which, weights=score, minlength=n_bins)
    hits = np.bincount(which, weights=positive.astype(float), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.where(n > 0, sums / n, np.nan)
        rate = np.where(n > 0, hits / n, np.nan)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "n": n.astype(np.int64),
            "mean_score": mean_score,
            "observed_rate": rate,
        },
        columns=RELIABILITY_COLUMNS,
    )


def ece_of_bins(bins: pd.DataFrame) -> float:
    """The ECE of reliability bins (:func:`reliability_bins`): NaN when they hold no row."""
    n = bins["n"].to_numpy()
    if n.sum() == 0:
        return float("nan")
    used = n > 0
    gap = np.abs(bins["mean_score"].to_numpy()[used] - bins["observed_rate"].to_numpy()[used])
    return float(np.sum(n[used] / n.sum() * gap))


def expected_calibration_error(y_true: ArrayLike, y_score: ArrayLike, n_bins: int = ECE_BINS) -> float:
    """ECE over ``n_bins`` equal-width bins of [0, 1] (see :func:`ece_binning`) of the observed rows."""
    bins = reliability_bins(y_true, y_score, n_bins)
    if bins["n"].sum() == 0:
        raise ValueError("no observed rows (every label is -1)")
    return ece_of_bins(bins)


# ------------------------------------------------------------------------------------------------ fitting
def _logits(score: np.ndarray) -> np.ndarray:
    return logit(np.clip(score, LOGIT_EPS, 1 - LOGIT_EPS))


def fit_temperature(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """The temperature T minimising the mean negative log-likelihood of ``sigmoid(logit(p) / T)`` on the
    observed rows (fit it on validation rows). Needs both classes; T is searched in ``exp(LOG_T_BOUNDS)``."""
    positive, score = observed_probabilities(y_true, y_score)
    require_both_classes(positive)
    z = _logits(score)
    y = positive.astype(float)

    def nll(log_t: float) -> float:
        u = z / np.exp(log_t)  # mean of log(1 + e^u) - y u, computed stably
        return float(np.mean(np.logaddexp(0.0, u) - y * u))

    found = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-8})
    return float(np.exp(found.x))


def apply_temperature(y_score: ArrayLike, temperature: float) -> np.ndarray:
    """``sigmoid(logit(p) / temperature)`` of probabilities (NaN stays NaN)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be above 0; got {temperature!r}")
    score = np.asarray(y_score, dtype=float)
    return expit(_logits(score) / temperature)


@dataclass(frozen=True)
class IsotonicMap:
    """A fitted isotonic calibration: increasing scores ``x`` and their non-decreasing probabilities ``y``;
    other scores are interpolated linearly, and clipped to the ends outside ``[x[0], x[-1]]``."""

    x: np.ndarray
    y: np.ndarray


def pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit of ``values`` (in their order)."""
    means: list[float] = []
    sizes: list[float] = []
    counts: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        sizes.append(weight)
        counts.append(1)
        while len(means) > 1 and means[-2] >= means[-1]:
            total = sizes[-2] + sizes[-1]
            means[-2] = (means[-2] * sizes[-2] + means[-1] * sizes[-1]) / total
            sizes[-2] = total
            counts[-2] += counts[-1]
            del means[-1], sizes[-1], counts[-1]
    return np.repeat(np.asarray(means), counts)


def fit_isotonic(y_true: ArrayLike, y_score: ArrayLike) -> IsotonicMap:
    """Isotonic regression of the 0/1 labels on the scores of the observed rows (fit it on validation rows):
    tied scores are pooled first, then adjacent violators. Needs both classes."""
    positive, score = observed_probabilities(y_true, y_score)
    require_both_classes(positive)
    x, inverse = np.unique(score, return_inverse=True)
    weights = np.bincount(inverse).astype(float)
    rates = np.bincount(inverse, weights=positive.astype(float)) / weights
    return IsotonicMap(x=x, y=pool_adjacent_violators(rates, weights))


def apply_isotonic(y_score: ArrayLike, fitted: IsotonicMap) -> np.ndarray:
    """The fitted probabilities of ``y_score`` (NaN stays NaN)."""
    return np.interp(np.asarray(y_score, dtype=float), fitted.x, fitted.y)

"""Input checks shared by the metrics: labels in {1, 0, -1} (never coerced), real scores, the observed
rows of one target (label != -1, finite scores), both classes present, (rows x targets) matrices, alpha."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

MISSING = -1


def check_labels(y_true: ArrayLike, name: str = "y_true") -> np.ndarray:
    """Labels as int8 in {1, 0, -1}; anything else (NaN included) is an error, never coerced."""
    y = np.asarray(y_true)
    if y.dtype == bool:
        return y.astype(np.int8)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name} must be numeric labels 1, 0 or -1 (not measured); got dtype {y.dtype}")
    bad = ~np.isin(y, (1, 0, MISSING))
    if bad.any():
        raise ValueError(
            f"{name} must hold 1 (abnormal), 0 (normal) or -1 (not measured); got {y[bad][0]!r} "
            f"({int(bad.sum())} such values); encode a missing label as -1"
        )
    return y.astype(np.int8)


def check_scores(y_score: ArrayLike, name: str = "y_score") -> np.ndarray:
    s = np.asarray(y_score)
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers; got dtype {s.dtype}")
    return s


def observed_rows(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row indices, positive flags, scores) of the observed rows (label != -1) of one target."""
    y = check_labels(y_true)
    s = check_scores(y_score)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"y_true and y_score must be 1-D of one length; got {y.shape} and {s.shape}")
    rows = np.flatnonzero(y != MISSING)
    score = s[rows]
    if not np.isfinite(score).all():
        raise ValueError("y_score has non-finite values (NaN or inf) on rows whose label is observed")
    return rows, y[rows] == 1, score


def require_both_classes(positive: np.ndarray) -> None:
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == positive.size:
        raise ValueError(
            f"AUROC needs both classes among the observed rows; got {n_pos} positive(s) and "
            f"{positive.size - n_pos} negative(s)"
        )


def observed_two_classes(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    _, positive, score = observed_rows(y_true, y_score)
    require_both_classes(positive)
    return positive, score


def check_matrices(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = check_labels(labels, "labels")
    s = check_scores(scores, "scores")
    if y.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"labels and scores must be (rows x targets) of one shape; got {y.shape}, {s.shape}")
    return y, s


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")

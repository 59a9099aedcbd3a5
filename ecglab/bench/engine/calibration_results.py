"""Calibration of a run's test probabilities: Brier score, expected calibration error and reliability bins
per target, written to the run folder's ``calibration.parquet`` and ``reliability.parquet``.

Every target gets a row for the raw probabilities (calibration ``none``); a run configured with
``calibration: temperature`` or ``isotonic`` also gets a row for that recalibration, fitted per target on
the validation rows only and applied to the test rows (the model's results, predictions and AUROCs stay the
raw ones). A target whose scores are not probabilities in [0, 1], that has no observed test row, or whose
validation rows lack a class for the fit, gets a row with its ``note`` and no metrics. Nothing is written
when the test split is not evaluated (a hyperparameter search's trials)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.bench.calibration_files import (
    CALIBRATION_FILE,
    RAW,
    RELIABILITY_FILE,
    RUN_CALIBRATION_COLUMNS,
    RUN_RELIABILITY_COLUMNS,
)
from ecglab.bench.config import RunConfig
from ecglab.bench.metrics.calibration import ECE_BINS, LOG_T_BOUNDS, ece_of_bins
from ecglab.bench.run_folder import write_parquet
from ecglab.tasks.build import TaskData


def observed(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels and scores of the rows with an observed label and a finite score."""
    keep = (labels != -1) & np.isfinite(scores)
    return labels[keep], scores[keep]


def not_probabilities(*parts: np.ndarray) -> str:
    """Why these scores are not probabilities in [0, 1] (empty when they are)."""
    values = np.concatenate([p for p in parts if p.size]) if any(p.size for p in parts) else np.zeros(0)
    if values.size == 0 or (values.min() >= 0 and values.max() <= 1):
        return ""
    return (
        f"scores are not probabilities in [0, 1] (from {values.min():.4g} to {values.max():.4g}): "
        "no calibration metrics"
    )


def fitted_scores(
    method: str, y_val: np.ndarray, s_val: np.ndarray, s_test: np.ndarray
) -> tuple[np.ndarray, str]:
    """The test scores recalibrated by ``method`` fitted on the validation rows, and the fit in words."""
    fitted_on = f"fitted on validation (n={len(y_val)}, n_pos={int(y_val.sum())})"
    if method == "temperature":
        temperature = metrics.fit_temperature(y_val, s_val)
        at_bound = np.isclose(np.log(temperature), LOG_T_BOUNDS, atol=1e-4).any()
        bound = " (at the search bound)" if at_bound else ""
        return metrics.apply_temperature(
            s_test, temperature
        ), f"temperature {temperature:.4g}{bound} {fitted_on}"
    if method == "isotonic":
        fitted = metrics.fit_isotonic(y_val, s_val)
        steps = len(np.unique(fitted.y))
        return metrics.apply_isotonic(s_test, fitted), f"isotonic ({steps} levels) {fitted_on}"
    raise ValueError(f"unknown calibration method {method!r}")


def target_rows(
    target: str, method: str, y: np.ndarray, s: np.ndarray | None, note: str
) -> tuple[dict, pd.DataFrame | None]:
    """The calibration row of one target and method, and its reliability bins (None without metrics):
    ``s`` None means no metrics, for the reason in ``note``."""
    row = {
        "target": target,
        "calibration": method,
        "n": len(y),
        "n_pos": int(y.sum()),
        "brier": np.nan,
        "ece": np.nan,
        "ece_bins": ECE_BINS,
        "ece_binning": metrics.ece_binning(ECE_BINS),
        "note": note,
    }
    if s is None:
        return row, None
    bins = metrics.reliability_bins(y, s, ECE_BINS)
    row.update(brier=metrics.brier_score(y, s), ece=ece_of_bins(bins))
    return row, bins.assign(target=target, calibration=method)[RUN_RELIABILITY_COLUMNS]


def calibration_frames(task: TaskData, scores: np.ndarray, method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration rows, reliability bins) of the test rows of ``scores``: raw, and ``method`` (fitted on
    the validation rows) unless it is ``none``."""
    split = task.anchors["split"].to_numpy()
    val, test = np.flatnonzero(split == "val"), np.flatnonzero(split == "test")
    rows, bins = [], []
    methods = [RAW] if method == RAW else [RAW, method]
    for j, target in enumerate(task.kept_targets):
        y_val, s_val = observed(task.labels[val, j], scores[val, j])
        y_test, s_test = observed(task.labels[test, j], scores[test, j])
        reason = not_probabilities(s_val, s_test) or ("" if len(y_test) else "no observed test row")
        for name in methods:
            note, used = reason, None if reason else s_test
            if not reason and name != RAW:
                if 0 < y_val.sum() < len(y_val):
                    used, note = fitted_scores(name, y_val, s_val, s_test)
                else:
                    used = None
                    note = f"not fitted: validation has {int(y_val.sum())} positive(s) of {len(y_val)}"
            row, table = target_rows(target, name, y_test.astype(np.int8), used, note)
            rows.append(row)
            if table is not None:
                bins.append(table)
    calibration = pd.DataFrame(rows, columns=RUN_CALIBRATION_COLUMNS)
    reliability = (
        pd.concat(bins, ignore_index=True) if bins else pd.DataFrame(columns=RUN_RELIABILITY_COLUMNS)
    )
    return calibration, reliability


def write_calibration(task: TaskData, scores: np.ndarray, config: RunConfig, run_dir: Path) -> None:
    """Write ``calibration.parquet`` and ``reliability.parquet`` of the test rows of ``scores`` (anchors x
    kept targets), each written atomically; nothing when the test split is not evaluated."""
    if not config.evaluate_test:
        return
    calibration, reliability = calibration_frames(task, scores, config.calibration)
    write_parquet(Path(run_dir) / CALIBRATION_FILE, calibration)
    write_parquet(Path(run_dir) / RELIABILITY_FILE, reliability)

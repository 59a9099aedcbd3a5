"""The regression results of a run trained on lab values (a regression ``objective``), in its run folder.

``regression.parquet``: per target and evaluated split, the anchors with a value (``n``) and their
patients, the MAE of the predicted value in the lab's unit (the inverse transform of the predicted mean: for
a logged lab, the predicted median) and Spearman's rank correlation between predicted and measured values.
``regression_thresholds.parquet``: the AUROC of the same predictions at other thresholds, the score being
P(abnormal at that threshold) under the predicted distribution: the task's own threshold, AnyECG-Lab's for
the lab and direction, and CardioLab's (the median reference bound over the training patients' rows, rows
whose range is 0/0 left out). The labels at a threshold are the stored values against it (a censored value
has none: see :mod:`ecglab.tasks.values`). ``value_predictions.parquet`` (row-level, like
``predictions.parquet``: never logged to MLflow) keeps each anchor's measured value and predicted
distribution, so that :func:`auroc_at_threshold` gives the run's AUROC at any threshold later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ecglab.bench import metrics
from ecglab.bench.config import RunConfig
from ecglab.bench.engine.prepare import anchor_target_rows, evaluated_splits, split_rows
from ecglab.bench.regression import ValuePredictions, abnormal_probability
from ecglab.bench.run_folder import write_parquet
from ecglab.cohort.store import Cohort
from ecglab.tasks.build import TaskData
from ecglab.tasks.catalogue import anyecg_lab_panel

REGRESSION_FILE = "regression.parquet"
THRESHOLDS_FILE = "regression_thresholds.parquet"
VALUE_PREDICTIONS_FILE = "value_predictions.parquet"
REGRESSION_FILE_COLUMNS = [
    "target",
    "lab",
    "split",
    "objective",
    "transform",
    "n",
    "n_patients",
    "mae",
    "spearman",
    "unit",
    "center",
    "scale",
]
THRESHOLD_FILE_COLUMNS = ["target", "split", "source", "direction", "threshold", "n", "n_pos", "auroc"]
MIN_SPEARMAN_ROWS = 3


def kept_targets(task: TaskData) -> pd.DataFrame:
    """The task's kept targets in label-matrix order."""
    return task.targets[task.targets["kept"]].reset_index(drop=True)


def anyecg_lab_threshold(codes: tuple[str, ...], direction: str) -> float:
    """AnyECG-Lab's threshold for a lab (its MC-MED name or a mapped MIMIC-IV itemid) and direction."""
    wanted = set(map(str, codes))
    for target in anyecg_lab_panel():
        names = {target.mcmed_component, *map(str, target.mimic_itemids)}
        if target.direction == direction and names & wanted:
            return float(target.threshold)
    return float("nan")


def cardiolab_threshold(labs: pd.DataFrame, codes: tuple[str, ...], direction: str) -> float:
    """CardioLab's rule on the training rows of the lab codes: the median lower (low) or upper (high)
    reference bound; rows with a 0/0 range do not count."""
    rows = labs[labs["lab"].astype(str).isin(set(map(str, codes)))]
    rows = rows[~((rows["ref_low"] == 0) & (rows["ref_high"] == 0))]
    bound = rows["ref_low" if direction == "low" else "ref_high"].dropna()
    return float(bound.median()) if len(bound) else float("nan")


def other_thresholds(task: TaskData, cohort: Cohort) -> pd.DataFrame:
    """Per kept target: (target, source, direction, threshold) for the task's, AnyECG-Lab's and CardioLab's
    thresholds where known."""
    labs = cohort.labs
    labs = labs[labs["patient_id"].isin(task.train_patients)]
    rows = []
    for target in kept_targets(task).itertuples(index=False):
        codes, direction = tuple(target.lab_codes), target.direction
        for source, value in (
            ("task", float(target.threshold)),
            ("anyecg_lab", anyecg_lab_threshold(codes, direction)),
            ("cardiolab", cardiolab_threshold(labs, codes, direction)),
        ):
            if np.isfinite(value):
                rows.append(
                    {"target": target.target, "source": source, "direction": direction, "threshold": value}
                )
    return pd.DataFrame(rows, columns=["target", "source", "direction", "threshold"])


def _spearman(predicted: np.ndarray, measured: np.ndarray) -> float:
    if len(measured) < MIN_SPEARMAN_ROWS or np.ptp(measured) == 0 or np.ptp(predicted) == 0:
        return float("nan")
    return float(spearmanr(predicted, measured).statistic)


def regression_rows(task: TaskData, values: ValuePredictions, splits: tuple[str, ...]) -> pd.DataFrame:
    """One row per (target, split): n, patients, MAE (lab units) and Spearman over anchors with a value."""
    kept = kept_targets(task)
    predicted = values.scaling.invert(values.mean)
    patients = task.anchors["patient_id"].to_numpy(dtype=object)
    rows = []
    for j, target in enumerate(kept.itertuples(index=False)):
        for split in splits:
            at = split_rows(task, split)
            measured, guess = task.values[at, j], predicted[at, j]
            has = np.isfinite(measured) & np.isfinite(guess)
            rows.append(
                {
                    "target": target.target,
                    "lab": target.lab,
                    "split": split,
                    "objective": values.objective,
                    "transform": "log" if values.scaling.log[j] else "none",
                    "n": int(has.sum()),
                    "n_patients": int(pd.unique(patients[at][has]).size),
                    "mae": float(np.abs(guess[has] - measured[has]).mean()) if has.any() else float("nan"),
                    "spearman": _spearman(guess[has], measured[has]),
                    "unit": str(target.unit or ""),
                    "center": float(values.scaling.center[j]),
                    "scale": float(values.scaling.scale[j]),
                }
            )
    return pd.DataFrame(rows, columns=REGRESSION_FILE_COLUMNS)


def threshold_rows(
    task: TaskData, values: ValuePredictions, thresholds: pd.DataFrame, splits: tuple[str, ...]
) -> pd.DataFrame:
    """One row per (target, split, threshold source): the AUROC of P(abnormal at the threshold) against the
    stored values' classes at it (NaN with one class)."""
    position = {t: j for j, t in enumerate(task.kept_targets)}
    scaling, rows = values.scaling, []
    for row in thresholds.itertuples(index=False):
        j = position[row.target]
        one = np.full(len(scaling.center), row.threshold)
        t_z = scaling.threshold_in_z(one)[j]
        for split in splits:
            at = split_rows(task, split)
            measured = task.values[at, j]
            score = abnormal_probability(values.mean[at, j], values.variance[at, j], t_z, scaling.sign[j])
            has = np.isfinite(measured) & np.isfinite(score)
            y = (
                (measured[has] > row.threshold)
                if row.direction == "high"
                else (measured[has] < row.threshold)
            )
            both = 0 < y.sum() < len(y) and np.isfinite(t_z)
            rows.append(
                {
                    "target": row.target,
                    "split": split,
                    "source": row.source,
                    "direction": row.direction,
                    "threshold": float(row.threshold),
                    "n": int(has.sum()),
                    "n_pos": int(y.sum()),
                    "auroc": metrics.auroc(y.astype(np.int8), score[has]) if both else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=THRESHOLD_FILE_COLUMNS)


def value_prediction_table(task: TaskData, values: ValuePredictions, splits: tuple[str, ...]) -> pd.DataFrame:
    """One row per (anchor, kept target) of ``splits``: ids, the measured value (NaN: none), the predicted
    value in the lab's unit, and the predicted mean and variance in standardised transformed units."""
    rows, ids = anchor_target_rows(task, splits)
    return pd.DataFrame(
        {
            **ids,
            "value": task.values[rows].reshape(-1),
            "predicted": values.scaling.invert(values.mean)[rows].reshape(-1),
            "mean_z": values.mean[rows].reshape(-1),
            "variance_z": values.variance[rows].reshape(-1),
        }
    )


def auroc_at_threshold(
    run_dir: str | Path, target: str, threshold: float, split: str = "test"
) -> tuple[float, int, int]:
    """A regression run's AUROC for ``target`` at any ``threshold`` (lab units, the target's direction),
    with the number of anchors with a value and of positives; NaN with one class."""
    run_dir = Path(run_dir)
    scaling = (
        pd.read_parquet(run_dir / REGRESSION_FILE).drop_duplicates("target").set_index("target").loc[target]
    )
    rows = pd.read_parquet(run_dir / VALUE_PREDICTIONS_FILE).query("split == @split and target == @target")
    direction = kept_direction(run_dir, target)
    logged = scaling["transform"] == "log"
    t = threshold if not logged else np.log(threshold) if threshold > 0 else np.nan
    t_z = (t - scaling["center"]) / scaling["scale"] if np.isfinite(t) else np.nan
    sign = 1.0 if direction == "high" else -1.0
    has = rows["value"].notna().to_numpy() & rows["mean_z"].notna().to_numpy()
    measured = rows["value"].to_numpy()[has]
    score = abnormal_probability(
        rows["mean_z"].to_numpy()[has], rows["variance_z"].to_numpy()[has], t_z, sign
    )
    y = (measured > threshold) if direction == "high" else (measured < threshold)
    both = 0 < y.sum() < len(y) and np.isfinite(t_z)
    return (metrics.auroc(y.astype(np.int8), score) if both else float("nan")), int(has.sum()), int(y.sum())


def kept_direction(run_dir: Path, target: str) -> str:
    """A regression run's direction of ``target`` (from its thresholds table)."""
    table = pd.read_parquet(run_dir / THRESHOLDS_FILE)
    return str(table.loc[table["target"] == target, "direction"].iloc[0])


def write_regression(
    task: TaskData, cohort: Cohort, values: ValuePredictions, config: RunConfig, run_dir: Path
) -> None:
    """``regression.parquet``, ``regression_thresholds.parquet`` and ``value_predictions.parquet`` of the
    run folder."""
    splits = evaluated_splits(config)
    write_parquet(run_dir / VALUE_PREDICTIONS_FILE, value_prediction_table(task, values, splits))
    write_parquet(run_dir / REGRESSION_FILE, regression_rows(task, values, splits))
    thresholds = other_thresholds(task, cohort)
    write_parquet(run_dir / THRESHOLDS_FILE, threshold_rows(task, values, thresholds, splits))

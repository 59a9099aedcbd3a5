"""Per-subgroup AUROC of a run's test predictions (sex, age band, columns the task names), written to the
run folder's ``subgroups.parquet``.

One row per kept target x subgroup (the task's ``subgroups``, :mod:`ecglab.tasks.subgroups`) x group present
among the test anchors: anchors (``n``, ``n_pos``) and patients (``n_patients``, ``n_pos_patients`` with a
positive anchor, ``n_neg_patients`` with a negative one) whose label of the target was measured, and the
AUROC with its clustered interval by patient (:data:`CI_METHOD`). A group with fewer than
:data:`MIN_PATIENTS` positive or negative patients is refused: its counts are listed with
``refused_reason`` and no AUROC, as is a subgroup whose every anchor has no value (e.g. ``age_band`` on a
cohort without ages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.bench.config import RunConfig
from ecglab.bench.engine.prepare import split_rows
from ecglab.bench.metrics.clustered import CLUSTERED_CI
from ecglab.bench.run_folder import write_parquet
from ecglab.bench.subgroup_files import SUBGROUP_FILE_COLUMNS, SUBGROUPS_FILE
from ecglab.cohort.store import Cohort
from ecglab.tasks.build import TaskData
from ecglab.tasks.subgroups import MISSING, Subgroup, anchor_groups, group_order, resolve_subgroups

# Within a group, the clustered (Obuchowski) variance is estimated from the patients holding a positive and
# those holding a negative; with fewer than 10 of either the normal interval is not trustworthy and one
# patient can swing the AUROC by 0.05 or more. The panel's target filters use the same count by default.
MIN_PATIENTS = 10
CI_METHOD = CLUSTERED_CI


def refusal(n_pos_patients: int, n_neg_patients: int, minimum: int = MIN_PATIENTS) -> str:
    """Why a group gets no AUROC ('' when it has at least ``minimum`` positive and negative patients)."""
    short = [
        f"{count} {kind} patients"
        for count, kind in ((n_pos_patients, "positive"), (n_neg_patients, "negative"))
        if count < minimum
    ]
    return f"{' and '.join(short)} (fewer than {minimum})" if short else ""


def group_row(y: np.ndarray, s: np.ndarray, patients: np.ndarray, refused: str = "") -> dict:
    """Counts, AUROC and interval of one group's observed rows (labels 1/0, finite scores); no AUROC when
    ``refused`` or when the group falls below the patient minimum."""
    n_pos_patients = len(set(patients[y == 1].tolist()))
    n_neg_patients = len(set(patients[y == 0].tolist()))
    row = {
        "n": len(y),
        "n_pos": int(y.sum()),
        "n_patients": len(set(patients.tolist())),
        "n_pos_patients": n_pos_patients,
        "n_neg_patients": n_neg_patients,
        "auroc": np.nan,
        "auroc_low": np.nan,
        "auroc_high": np.nan,
        "ci_method": "",
        "refused_reason": refused or refusal(n_pos_patients, n_neg_patients),
    }
    if not row["refused_reason"]:
        ci = metrics.auroc_ci(y, s, method="clustered", groups=patients)
        row.update(auroc=ci.auroc, auroc_low=ci.low, auroc_high=ci.high, ci_method=CI_METHOD)
    return row


def subgroup_rows(
    task: TaskData, cohort: Cohort, scores: np.ndarray, subgroups: list[Subgroup] | None = None
) -> pd.DataFrame:
    """The rows of ``subgroups.parquet`` for the test anchors of ``scores`` (anchors x kept targets);
    ``subgroups``: the task's, resolved on ``cohort``, by default."""
    if subgroups is None:
        subgroups = resolve_subgroups(task.spec, cohort)
    test = split_rows(task, "test")
    anchors = task.anchors.iloc[test]
    patients = anchors["patient_id"].to_numpy(dtype=object)
    labels, test_scores = task.labels[test], scores[test]
    rows = []
    for subgroup in subgroups:
        groups = anchor_groups(subgroup, anchors, cohort)
        none = "no anchor has a value" if (groups == MISSING).all() else ""
        if none and not subgroup.table:
            none = "no age in the cohort (visits.age, patients.age or patients.anchor_age)"
        for j, target in enumerate(task.kept_targets):
            observed = (labels[:, j] != -1) & np.isfinite(test_scores[:, j])
            for group in [""] if none else group_order(subgroup, groups):
                chosen = observed if none else observed & (groups == group)
                y, s = labels[chosen, j].astype(np.int64), test_scores[chosen, j]
                row = group_row(y, s, patients[chosen], none)
                rows.append({"target": target, "subgroup": subgroup.name, "group": group, **row})
    return pd.DataFrame(rows, columns=SUBGROUP_FILE_COLUMNS)


def write_subgroups(
    task: TaskData, cohort: Cohort, scores: np.ndarray, config: RunConfig, run_dir: Path
) -> None:
    """Write ``subgroups.parquet`` for the test rows of ``scores`` (anchors x kept targets)."""
    del config  # the clustered interval needs no resamples; the groups depend on the task alone
    write_parquet(Path(run_dir) / SUBGROUPS_FILE, subgroup_rows(task, cohort, scores))

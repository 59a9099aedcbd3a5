"""The rows of an external validation: per target of the run, its internal test AUROC (the run's own test
split, from its ``predictions.parquet``) beside its AUROC on the external cohort, each with the clustered
interval by patient (Obuchowski 1997), and the drop between them.

The two test sets hold different patients of different cohorts, so the two AUROCs are independent and the
variance of the drop (internal - external) is the sum of their variances; its interval is the normal one,
``drop +/- z * sqrt(var_internal + var_external)``, not clipped. A target the harmonisation could not match,
or that the external cohort holds too few patients of, is a row without numbers and with the reason.
Threshold metrics (sensitivity, specificity, PPV, NPV) are taken at the threshold the run chose on its own
validation split (``results.parquet``): the training side's threshold, as a deployed model would use it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ecglab.bench import metrics
from ecglab.bench.engine.predict_records import validation_thresholds
from ecglab.bench.engine.prepare import RunError
from ecglab.tasks.build import TaskData

EXTERNAL_RESULT_COLUMNS = [
    "run_id",
    "target",
    "external_cohort",
    "external_hash",
    "scope",
    "kept",
    "reason",
    "internal_n",
    "internal_n_patients",
    "internal_auroc",
    "internal_low",
    "internal_high",
    "internal_se",
    "n",
    "n_pos",
    "n_patients",
    "n_pos_patients",
    "auroc",
    "clustered_low",
    "clustered_high",
    "se",
    "drop",
    "drop_low",
    "drop_high",
    "threshold",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
]
ALPHA = 0.05


def internal_statistics(run_dir: Path, targets: list[str]) -> pd.DataFrame:
    """Per target of the run: its test AUROC, clustered interval and standard error, and the counts, from
    the run's own test predictions (index: target)."""
    path = run_dir / "predictions.parquet"
    if not path.is_file():
        raise RunError(f"{path} does not exist: the run has no test predictions to compare with")
    table = pd.read_parquet(path, columns=["anchor_id", "patient_id", "split", "target", "label", "score"])
    test = table[table["split"] == "test"]
    if test.empty:
        raise RunError(f"{path}: the run did not evaluate its test split (evaluate_test was off)")
    labels = test.pivot(index="anchor_id", columns="target", values="label")
    scores = test.pivot(index="anchor_id", columns="target", values="score")
    patients = test.drop_duplicates("anchor_id").set_index("anchor_id")["patient_id"].reindex(labels.index)
    present = [t for t in targets if t in labels.columns]
    y = labels[present].fillna(-1).to_numpy(np.int64)
    s = scores[present].to_numpy(np.float64)
    s = np.where(y == -1, 0.0, s)
    stats = metrics.clustered_matrix(y, s, patients.to_numpy(dtype=object), alpha=ALPHA)
    stats.index = present
    return stats


def external_rows(
    run_id: str,
    run_dir: Path,
    source_targets: list[str],
    external: TaskData,
    scores: np.ndarray,
    cohort_name: str,
    cohort_hash: str,
    scope: str,
) -> pd.DataFrame:
    """One row per target of the run (``source_targets``): internal and external AUROC with their
    intervals and the drop; ``scores`` holds the external task's anchors x its kept targets."""
    internal = internal_statistics(run_dir, source_targets)
    thresholds = dict(zip(source_targets, validation_thresholds(run_dir, tuple(source_targets)), strict=True))
    kept = external.kept_targets
    patients = external.anchors["patient_id"].to_numpy(dtype=object)
    outside = metrics.clustered_matrix(
        external.labels, np.where(external.labels == -1, 0.0, scores), patients, alpha=ALPHA
    )
    outside.index = kept
    reasons = external.targets.set_index("target")["drop_reason"].fillna("")
    z = float(ndtri(1 - ALPHA / 2))
    rows = []
    for target in source_targets:
        row: dict = {
            "run_id": run_id,
            "target": target,
            "external_cohort": cohort_name,
            "external_hash": cohort_hash,
            "scope": scope,
            "kept": target in kept,
            "reason": "" if target in kept else str(reasons.get(target, "not in the external task")),
            "threshold": float(thresholds.get(target, np.nan)),
        }
        if target in internal.index:
            i = internal.loc[target]
            row.update(
                internal_n=int(i["n"]),
                internal_n_patients=int(i["n_patients"]),
                internal_auroc=float(i["auroc"]),
                internal_low=float(i["low"]),
                internal_high=float(i["high"]),
                internal_se=float(i["se"]),
            )
        if target in kept:
            e = outside.loc[target]
            j = kept.index(target)
            row.update(
                n=int(e["n"]),
                n_pos=int(e["n_pos"]),
                n_patients=int(e["n_patients"]),
                n_pos_patients=int(e["n_pos_patients"]),
                auroc=float(e["auroc"]),
                clustered_low=float(e["low"]),
                clustered_high=float(e["high"]),
                se=float(e["se"]),
            )
            if "internal_auroc" in row:
                drop = row["internal_auroc"] - row["auroc"]
                half = z * float(np.hypot(row["internal_se"], row["se"]))
                row.update(drop=drop, drop_low=drop - half, drop_high=drop + half)
            observed = external.labels[:, j] != -1
            if observed.any() and np.isfinite(row["threshold"]):
                confusion = metrics.confusion_metrics(
                    external.labels[observed, j], scores[observed, j], row["threshold"]
                )
                row.update({k: confusion[k] for k in ("sensitivity", "specificity", "ppv", "npv")})
        rows.append(row)
    return pd.DataFrame(rows, columns=EXTERNAL_RESULT_COLUMNS)

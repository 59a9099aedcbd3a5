"""The leaderboard's clustered statistics (Obuchowski 1997, clusters = patients): an entry's per-target
clustered interval (stored in results.parquet for a single seed, else computed from the test predictions,
which name each anchor's patient: for the mean over seeds, the clustered variance of that mean), DeLong's
independent-rows interval kept only where every patient holds one anchor, and the clustered paired test of an
entry against a target's best (two single-seed models, or two means over seeds on the same test set).
Where predictions or patient ids are missing, the reason is kept; nothing is invented."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.bench.resample_file import masked
from ecglab.leaderboards.errors import RunRefused
from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.resamples import Predictions, TaskData

SEED_MEAN = " of the mean over seeds"
UNDEFINED_TEST = "fewer than two patients with a positive or with a negative anchor"
UNDEFINED = f"{UNDEFINED_TEST}: no clustered interval"
DELONG_UNKNOWN = "DeLong's interval not shown: whether patients hold several anchors is unknown"


def seed_predictions(runs: list[RunResult], data: TaskData) -> list[Predictions]:
    """The test predictions of ``runs`` (the seeds of one entry), each with its patients, on one test set.
    RunRefused with the reason where one is missing, names no patients, or the test sets differ."""
    unpaired = [r for r in runs if r.run_id not in data.paired]
    if len(runs) > 1 and unpaired:
        raise RunRefused(f"run {unpaired[0].run_id[:16]} of the seeds: {data.why(unpaired[0])}")
    out = []
    for run in runs:
        try:
            prediction = data.prediction(run.run_id)
        except (KeyError, ValueError, OSError) as err:
            raise RunRefused(f"predictions.parquet unreadable: {err!r}") from err
        if prediction.patients is None:
            raise RunRefused(f"run {run.run_id[:16]}: predictions.parquet names no patient_id")
        out.append(prediction)
    return out


def _from_predictions(runs: list[RunResult], data: TaskData, per: pd.DataFrame, alpha: float) -> str:
    """Fills the clustered columns of ``per`` from the runs' predictions; returns why not ('' when done)."""
    try:
        predictions = seed_predictions(runs, data)
    except RunRefused as err:
        return f"no clustered interval: {err}"
    first, weights = predictions[0], [1.0 / len(runs)] * len(runs)
    for j, target in enumerate(runs[0].targets):
        scores = [p.scores[:, r.targets.index(target)] for p, r in zip(predictions, runs, strict=True)]
        labels = masked(first.labels[:, j], *scores)
        observed = labels != -1
        per.at[target, "n_patients"] = np.unique(first.patient_codes[observed]).size
        per.at[target, "n_pos_patients"] = np.unique(first.patient_codes[labels == 1]).size
        if not np.isfinite(per.at[target, "auroc"]) or not 0 < (labels == 1).sum() < observed.sum():
            continue
        test = metrics.clustered_contrast(labels, scores, weights, first.patient_codes, alpha)
        if np.isfinite(test.se):
            half = test.ci[1] - test.diff
            per.at[target, "clustered_low"] = float(np.clip(test.diff - half, 0.0, 1.0))
            per.at[target, "clustered_high"] = float(np.clip(test.diff + half, 0.0, 1.0))
    return ""


def entry_clustered(runs: list[RunResult], data: TaskData, per: pd.DataFrame, alpha: float) -> None:
    """Fills an entry's per-target n_patients, n_pos_patients, clustered_low, clustered_high,
    clustered_method and clustered_note (``per``: indexed by target, with n, auroc, delong_low, delong_high),
    and keeps DeLong's interval (delong_method) only where every patient is known to hold one anchor: for a
    single seed from its results.parquet where it holds them, else from the test predictions."""
    columns = ["n_patients", "n_pos_patients", "clustered_low", "clustered_high"]
    stored = runs[0].results.set_index("target").reindex(columns=columns) if len(runs) == 1 else None
    reason = ""
    if stored is not None and stored["n_patients"].notna().any():
        per[columns] = stored.reindex(per.index)
        source = " (stored)"
    else:
        per[columns] = np.nan
        reason = _from_predictions(runs, data, per, alpha)
        source = " (from the test predictions)"
    method = metrics.CLUSTERED_CI + (SEED_MEAN if len(runs) > 1 else "") + source
    has = per["clustered_low"].notna()
    per["clustered_method"] = np.where(has, method, "")
    undefined = per["auroc"].notna() & ~has
    per["clustered_note"] = np.where(undefined, reason or UNDEFINED, "")
    independent = per["n_patients"].notna() & (per["n_patients"] == per["n"])
    keep = per["delong_low"].notna() & independent  # unknown patients (no predictions): not shown either
    unknown = per["delong_low"].notna() & per["n_patients"].isna()
    notes = per.loc[unknown, "clustered_note"]
    per.loc[unknown, "clustered_note"] = np.where(notes == "", DELONG_UNKNOWN, notes + "; " + DELONG_UNKNOWN)
    per.loc[~keep, ["delong_low", "delong_high"]] = np.nan
    per["delong_method"] = np.where(keep, metrics.DELONG_CI, "")


def _empty(note: str) -> dict[str, Any]:
    return {
        "clustered_se": float("nan"),
        "clustered_p": float("nan"),
        "clustered_low": float("nan"),
        "clustered_high": float("nan"),
        "clustered_method": "",
        "delong_method": "",
        "clustered_note": note,
    }


def paired_clustered(
    runs_a: list[RunResult], runs_b: list[RunResult], target: str, data: TaskData, alpha: float
) -> dict[str, Any]:
    """The clustered paired test of entry a against entry b on ``target`` (their means over seeds where
    they have several): clustered_se, clustered_p, clustered_low, clustered_high, clustered_method, and
    DeLong's independent-rows test (delong_diff, delong_se, delong_p, delong_low, delong_high,
    delong_method) only for two single-seed models where every patient holds one anchor. clustered_note
    says why a value is missing."""
    try:
        pa = seed_predictions(runs_a, data)
        pb = seed_predictions(runs_b, data)
    except RunRefused as err:
        return _empty(f"no clustered paired test: {err}")
    if not np.array_equal(pa[0].anchors, pb[0].anchors):
        return _empty("no clustered paired test: the two entries' test anchors differ")
    scores = [p.scores[:, r.targets.index(target)] for p, r in zip(pa + pb, runs_a + runs_b, strict=True)]
    labels = masked(pa[0].labels[:, runs_a[0].targets.index(target)], *scores)
    if not 0 < (labels == 1).sum() < (labels != -1).sum():
        return _empty("no clustered paired test: a single class among the rows both entries score")
    weights = [1.0 / len(pa)] * len(pa) + [-1.0 / len(pb)] * len(pb)
    test = metrics.clustered_contrast(labels, scores, weights, pa[0].patient_codes, alpha)
    seeds = " of the means over seeds" if len(scores) > 2 else ""
    out = _empty("" if np.isfinite(test.p_value) else f"no clustered paired test: {UNDEFINED_TEST}")
    out.update(
        clustered_se=test.se,
        clustered_p=test.p_value,
        clustered_low=test.ci[0],
        clustered_high=test.ci[1],
        clustered_method=test.method + seeds if np.isfinite(test.p_value) else "",
    )
    if len(scores) == 2 and metrics.one_row_per_group(labels, pa[0].patient_codes):
        delong = metrics.delong_test(labels, *scores, alpha=alpha)
        out.update(
            delong_diff=delong.diff,
            delong_se=delong.se,
            delong_p=delong.p_value,
            delong_low=delong.ci[0],
            delong_high=delong.ci[1],
            delong_method=metrics.DELONG_TEST,
        )
    return out

"""Tabular side inputs for fusion models: age, sex, triage vitals of the visit, and the vitals closest in time
(within +/-30 min; biometrics from MIMIC-IV's omr within +/-30 days), median-imputed with the training
split's medians and with a missingness indicator per feature."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglab.tasks.subgroups import age_at_anchor

VITALS_WINDOW = pd.Timedelta(minutes=30)
BIOMETRICS_WINDOW = pd.Timedelta(days=30)


def _naive(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("UTC").dt.tz_localize(None) if times.dt.tz is not None else times


def _closest(anchors: pd.DataFrame, vitals: pd.DataFrame, measure: str, window: pd.Timedelta) -> np.ndarray:
    rows = vitals[vitals["measure"] == measure][["patient_id", "time", "value"]].dropna()
    left = anchors[["patient_id", "time"]].assign(order=np.arange(len(anchors)), time=_naive(anchors["time"]))
    right = rows.assign(time=_naive(rows["time"]).astype(left["time"].dtype))
    merged = pd.merge_asof(
        left.sort_values("time"),
        right.sort_values("time"),
        on="time",
        by="patient_id",
        direction="nearest",
        tolerance=window,
    )
    return merged.sort_values("order")["value"].to_numpy(np.float64)


def raw_features(
    anchors: pd.DataFrame, patients: pd.DataFrame, visits: pd.DataFrame, vitals: pd.DataFrame
) -> pd.DataFrame:
    """Unimputed features per anchor (anchors: anchor_id, patient_id, visit_id, time)."""
    out = pd.DataFrame(index=anchors.index)
    person = patients.set_index("patient_id")
    ids = anchors["patient_id"]
    out["age"] = age_at_anchor(anchors, patients, visits)  # MC-MED: per visit; MIMIC-IV: per anchor year
    sex = person["sex"].reindex(ids).to_numpy(dtype=object)
    out["sex_male"] = np.select([sex == "M", sex == "F"], [1.0, 0.0], default=np.nan)
    triage = [
        c for c in visits.columns if c.startswith("triage_") and pd.api.types.is_numeric_dtype(visits[c])
    ]
    by_visit = visits.set_index("visit_id")
    for column in triage:
        out[column] = by_visit[column].reindex(anchors["visit_id"]).to_numpy(np.float64)
    for measure in sorted(vitals["measure"].unique()) if len(vitals) else []:
        source = vitals.loc[vitals["measure"] == measure, "source"].iloc[0]
        window = BIOMETRICS_WINDOW if source == "omr" else VITALS_WINDOW
        out[f"vital_{measure}"] = _closest(anchors, vitals, measure, window)
    return out


def impute(features: pd.DataFrame, train: np.ndarray) -> tuple[pd.DataFrame, dict[str, float]]:
    """Median-impute each feature with its training median; add ``<feature>_missing`` indicators. Features
    never observed in training are dropped (they cannot be imputed honestly)."""
    medians = features[train].median(numeric_only=True)
    usable = [c for c in features.columns if np.isfinite(medians.get(c, np.nan))]
    out = pd.DataFrame(index=features.index)
    for column in usable:
        missing = features[column].isna()
        out[column] = features[column].where(~missing, medians[column])
        out[f"{column}_missing"] = missing.astype(np.float64)
    return out, {c: float(medians[c]) for c in usable}

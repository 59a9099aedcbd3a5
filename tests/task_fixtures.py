"""Brute-force task labels and small lab/ECG tables for the task tests.

The brute force is plain Python over rows (``datetime`` arithmetic, loops, lists), written from the rules of
docs/methods.md and the docstrings of ecglab.tasks.labels, and never calls ecglab.tasks.labels or
ecglab.tasks.intervals:

- a plain value v is positive for a ``low`` target when v < threshold, for a ``high`` target when
  v > threshold; a missing value (NaN) is unknown (-1), never normal;
- a censored value is an interval: ``"<b"`` says the true value is <= b, ``">b"`` that it is >= b. It is
  1 (or 0) when every value of the interval is positive (or negative), else -1. So a bound equal to the
  threshold decides only ``"<t"`` for a high target (0) and ``">t"`` for a low target (0);
- values that decide one label together give their common class, or -1 if they differ (or there are none);
- a blood test is the rows of one (patient, visit) at one time; rows without a visit group by patient only;
- window estimation inputs: every segment of the patient with |start - t| <= W (both edges included);
- closest estimation: among the patient's rows of the target's lab codes with |time - t| <= W, the rows at
  the smallest distance decide together;
- forecasting: the rows with t <= time <= t + H; Kleene OR of their classes (1 if any is 1, else -1 if any
  is -1, else 0; -1 without rows); -1 when the window holds a value positive for the low target and one
  positive for the high target of the same lab codes.
Times of different patients are never compared.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

UNKNOWN = -1
BASE = pd.Timestamp("2283-05-01 12:00:00")  # beyond datetime64[ns] (2262-04-11)


# ---------------------------------------------------------------- rows as plain Python
def py_times(times: pd.Series) -> list[datetime]:
    """Naive UTC ``datetime`` per element (microsecond resolution, any year datetime supports)."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return np.asarray(times.to_numpy(), dtype="datetime64[us]").tolist()


def _visit(value: Any) -> str | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else value
    )


@dataclass(frozen=True)
class LabRow:
    patient: str
    visit: str | None
    time: datetime
    lab: str
    value: float
    censored: str


@dataclass(frozen=True)
class Target:
    codes: frozenset[str]
    direction: str
    threshold: float


def lab_rows(labs: pd.DataFrame) -> list[LabRow]:
    return [
        LabRow(str(p), _visit(v), t, str(lab), float(x), str(c))
        for p, v, t, lab, x, c in zip(
            labs["patient_id"].tolist(),
            labs["visit_id"].astype(object).tolist(),
            py_times(labs["time"]),
            labs["lab"].tolist(),
            labs["value"].tolist(),
            labs["censored"].tolist(),
            strict=True,
        )
    ]


def target_list(targets: pd.DataFrame) -> list[Target]:
    return [
        Target(frozenset(codes), direction, float(threshold))
        for codes, direction, threshold in zip(
            targets["lab_codes"], targets["direction"], targets["threshold"], strict=True
        )
    ]


# ---------------------------------------------------------------- rules
def bf_classify(value: float, censored: str, direction: str, threshold: float) -> int:
    if math.isnan(value):
        return UNKNOWN
    if censored == "<":
        low_end, high_end = -math.inf, value
    elif censored == ">":
        low_end, high_end = value, math.inf
    else:
        low_end = high_end = value
    if direction == "low":  # positive: v < threshold
        all_positive, all_negative = high_end < threshold, low_end >= threshold
    else:  # positive: v > threshold
        all_positive, all_negative = low_end > threshold, high_end <= threshold
    return 1 if all_positive else 0 if all_negative else UNKNOWN


def common(classes: list[int]) -> int:
    return classes[0] if classes and all(c == classes[0] for c in classes) else UNKNOWN


def kleene_any(classes: list[int]) -> int:
    if not classes:
        return UNKNOWN
    if 1 in classes:
        return 1
    return UNKNOWN if UNKNOWN in classes else 0


def _cls(row: LabRow, target: Target) -> int:
    return bf_classify(row.value, row.censored, target.direction, target.threshold)


# ---------------------------------------------------------------- window estimation (AnyECG-Lab)
def bf_blood_tests(labs: pd.DataFrame) -> dict[tuple[str, str | None, datetime], list[int]]:
    """(patient, visit or None, time) -> indices of its lab rows."""
    tests: dict[tuple[str, str | None, datetime], list[int]] = defaultdict(list)
    for i, row in enumerate(lab_rows(labs)):
        tests[(row.patient, row.visit, row.time)].append(i)
    return dict(tests)


def bf_blood_test_labels(
    labs: pd.DataFrame, targets: pd.DataFrame
) -> dict[tuple[str, str | None, datetime], tuple[int, ...]]:
    rows = lab_rows(labs)
    wanted = target_list(targets)
    out = {}
    for key, members in bf_blood_tests(labs).items():
        out[key] = tuple(
            common([_cls(rows[i], t) for i in members if rows[i].lab in t.codes]) for t in wanted
        )
    return out


def bf_segments_in_windows(
    segments: pd.DataFrame, anchors: pd.DataFrame, minutes: float
) -> set[tuple[int, int, float]]:
    """{(anchor_id, segment_id, dt_s)} for every segment of the anchor's patient within +/- minutes."""
    width = timedelta(minutes=minutes)
    by_patient = defaultdict(list)
    for sid, patient, start in zip(
        segments["segment_id"].tolist(),
        segments["patient_id"].tolist(),
        py_times(segments["start_time"]),
        strict=True,
    ):
        by_patient[patient].append((sid, start))
    out = set()
    for aid, patient, time in zip(
        anchors["anchor_id"].tolist(), anchors["patient_id"].tolist(), py_times(anchors["time"]), strict=True
    ):
        for sid, start in by_patient[patient]:
            if abs(start - time) <= width:
                out.add((int(aid), int(sid), (start - time).total_seconds()))
    return out


# ---------------------------------------------------------------- per-ECG labels (CardioLab)
def _by_patient(rows: list[LabRow]) -> dict[str, list[LabRow]]:
    out: dict[str, list[LabRow]] = defaultdict(list)
    for row in rows:
        out[row.patient].append(row)
    return out


def _ecgs(ecgs: pd.DataFrame) -> list[tuple[str, datetime]]:
    return list(zip(ecgs["patient_id"].tolist(), py_times(ecgs["start_time"]), strict=True))


def bf_closest_labels(
    labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame, minutes: float
) -> np.ndarray:
    width = timedelta(minutes=minutes)
    by_patient = _by_patient(lab_rows(labs))
    wanted = target_list(targets)
    out = np.full((len(ecgs), len(wanted)), UNKNOWN, dtype=np.int8)
    for i, (patient, time) in enumerate(_ecgs(ecgs)):
        for j, target in enumerate(wanted):
            near = [
                (abs(r.time - time), r)
                for r in by_patient.get(patient, [])
                if r.lab in target.codes and abs(r.time - time) <= width
            ]
            if near:
                best = min(gap for gap, _ in near)
                out[i, j] = common([_cls(r, target) for gap, r in near if gap == best])
    return out


def bf_forecast_labels(
    labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame, minutes: float
) -> np.ndarray:
    horizon = timedelta(minutes=minutes)
    by_patient = _by_patient(lab_rows(labs))
    wanted = target_list(targets)
    out = np.full((len(ecgs), len(wanted)), UNKNOWN, dtype=np.int8)
    for i, (patient, time) in enumerate(_ecgs(ecgs)):
        for j, target in enumerate(wanted):
            inside = [
                r
                for r in by_patient.get(patient, [])
                if r.lab in target.codes and time <= r.time <= time + horizon
            ]
            label = kleene_any([_cls(r, target) for r in inside])
            partners = [o for o in wanted if o.codes == target.codes and o.direction != target.direction]
            for other in partners:
                if any(_cls(r, target) == 1 for r in inside) and any(_cls(r, other) == 1 for r in inside):
                    label = UNKNOWN
            out[i, j] = label
    return out


# ---------------------------------------------------------------- small tables
def at(minutes: float = 0.0, microseconds: int = 0, base: pd.Timestamp = BASE) -> pd.Timestamp:
    return base + pd.Timedelta(minutes=minutes) + pd.Timedelta(microseconds=microseconds)


def times_series(values: list[pd.Timestamp]) -> pd.Series:
    return pd.Series(values, dtype="datetime64[us]")


def labs_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows (patient, visit or None, time, lab, value, censored="") -> a labs table of the store schema."""
    rows = [(*r, "") if len(r) == 5 else r for r in rows]
    patient, visit, time, lab, value, censored = (
        (list(c) for c in zip(*rows, strict=True)) if rows else [[]] * 6
    )
    n = len(patient)
    return pd.DataFrame(
        {
            "patient_id": pd.Series(patient, dtype="str"),
            "visit_id": pd.Series(visit, dtype="str"),
            "time": times_series(time),
            "lab": pd.Series(lab, dtype="str"),
            "value": pd.Series(value, dtype=np.float64),
            "censored": pd.Series(censored, dtype="str"),
            "unit": [""] * n,
            "ref_low": np.full(n, np.nan),
            "ref_high": np.full(n, np.nan),
            "source_flag": [""] * n,
        }
    )


def ecgs_frame(rows: list[tuple[str, pd.Timestamp]], first_id: int = 100) -> pd.DataFrame:
    """Rows (patient, start time) -> a segments-like table (segment_id, patient_id, visit_id, start_time)."""
    return pd.DataFrame(
        {
            "segment_id": np.arange(first_id, first_id + len(rows), dtype=np.int64),
            "patient_id": pd.Series([p for p, _ in rows], dtype="str"),
            "visit_id": pd.Series([None] * len(rows), dtype="str"),
            "start_time": times_series([t for _, t in rows]),
        }
    )


def targets_frame(rows: list[tuple[str, tuple[str, ...], str, float]]) -> pd.DataFrame:
    """Rows (target, lab codes, direction, threshold) -> a targets table as ecglab.tasks.panels resolves
    it."""
    return pd.DataFrame(
        {
            "target": [r[0] for r in rows],
            "lab": [r[1][0] for r in rows],
            "lab_codes": [tuple(r[1]) for r in rows],
            "direction": [r[2] for r in rows],
            "threshold": [float(r[3]) for r in rows],
            "unit": [""] * len(rows),
        }
    )


# Targets of the random cohorts: K measured under two codes; TROP has a high target only; ABSENT never occurs.
RANDOM_TARGETS = targets_frame(
    [
        ("k_low", ("K", "K_WB"), "low", 3.5),
        ("k_high", ("K", "K_WB"), "high", 5.0),
        ("na_low", ("NA",), "low", 135.0),
        ("na_high", ("NA",), "high", 145.0),
        ("trop_high", ("TROP",), "high", 0.04),
        ("absent_high", ("ABSENT",), "high", 1.0),
    ]
)
_VALUES = {
    "K": [3.0, 3.4, 3.5, 4.2, 5.0, 5.1, 6.0],
    "K_WB": [3.2, 4.0, 5.5],
    "NA": [130.0, 135.0, 140.0, 145.0, 150.0],
    "TROP": [0.01, 0.04, 0.05, 0.3],
    "GLU": [90.0, 200.0],
}
_BOUNDS = {
    "K": [3.5, 5.0, 4.0, 3.0, 6.0],
    "K_WB": [3.5, 5.0],
    "NA": [135.0, 145.0, 140.0],
    "TROP": [0.01, 0.04],
}


def random_cohort(
    seed: int, n_patients: int = 5, n_rows: int = 120, n_ecgs: int = 60, base: pd.Timestamp = BASE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labs and ECGs of ``n_patients`` patients who all share one time axis (times on a minute grid, so that
    window edges, equal distances and same-time rows occur), with censored values and repeated rows."""
    rng = np.random.default_rng(seed)
    patients = [f"P{k}" for k in range(n_patients)]
    rows: list[tuple] = []
    for _ in range(n_rows):
        if rows and rng.random() < 0.15:  # a repeated (patient, lab, time), same or another value
            patient, visit, time, lab, value, censored = rows[int(rng.integers(len(rows)))]
            if rng.random() < 0.5:
                value = float(rng.choice(_VALUES[lab]))
            rows.append((patient, visit, time, lab, value, censored))
            continue
        patient = str(rng.choice(patients))
        visit = [f"{patient}-V1", f"{patient}-V2", None][int(rng.integers(3))]
        time = at(int(rng.integers(0, 240)), 30_000_000 * int(rng.random() < 0.1), base)
        lab = str(rng.choice(list(_VALUES)))
        if lab in _BOUNDS and rng.random() < 0.2:
            value, censored = float(rng.choice(_BOUNDS[lab])), str(rng.choice(["<", ">"]))
        else:
            value, censored = float(rng.choice(_VALUES[lab])), ""
        rows.append((patient, visit, time, lab, value, censored))
    ecgs = [(str(rng.choice(patients)), at(int(rng.integers(-90, 330)), 0, base)) for _ in range(n_ecgs)]
    return labs_frame(rows), ecgs_frame(ecgs)

"""Label building: from cohort tables to a label matrix of {1 abnormal, 0 normal, -1 not measured/unknown}.

Rules, shared by every task kind:
- a value is positive for a ``low`` target when below the threshold and for a ``high`` target when above it;
- a censored value (``"<b"`` or ``">b"``) decides only when its bound does: ``"<0.01"`` is negative for a
  high target at 0.04 but unknown (-1) for a low target at 0.005;
- several values that decide one label together (a blood test with two results of the lab, duplicated rows at
  the same time, two measurements equally close to an ECG) give their common class, or -1 if they disagree.
Every join is vectorised (see ecglab.tasks.intervals): no Python loop per anchor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecglab.tasks.intervals import codes, count_before, prefix_sums, range_sums, sort_events, window_ranges

UNKNOWN = -1


def to_us(times: pd.Series) -> np.ndarray:
    """Microseconds since the epoch, for naive or tz-aware datetimes of any year."""
    if times.dt.tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    values = times.dt.as_unit("us").to_numpy()
    if np.isnat(values).any():
        raise ValueError("missing times (NaT) cannot be labelled; the readers drop and count them")
    return values.view(np.int64)


def classify(values: np.ndarray, censored: np.ndarray, direction: str, threshold: float) -> np.ndarray:
    """Class of each value for one target: 1, 0, or -1 when a censored bound cannot decide."""
    below, above = censored == "<", censored == ">"
    plain = ~(below | above | np.isnan(values))  # a missing value is not measured: never 0
    out = np.full(len(values), UNKNOWN, dtype=np.int8)
    if direction == "low":  # positive: value < threshold
        out[plain] = values[plain] < threshold
        out[below & (values < threshold)] = 1  # true value <= bound < threshold
        out[above & (values >= threshold)] = 0  # true value >= bound >= threshold
    elif direction == "high":  # positive: value > threshold
        out[plain] = values[plain] > threshold
        out[above & (values > threshold)] = 1
        out[below & (values <= threshold)] = 0
    else:
        raise ValueError(f"direction must be low or high, got {direction!r}")
    return out


def agree(group: np.ndarray, classes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group: the common class of its members, -1 if they disagree or the group is empty."""
    low = np.full(n_groups, 2, dtype=np.int8)
    high = np.full(n_groups, -2, dtype=np.int8)
    np.minimum.at(low, group, classes)
    np.maximum.at(high, group, classes)
    return np.where(low == high, low, UNKNOWN).astype(np.int8)


def _rows_of(labs: pd.DataFrame, lab_codes: tuple[str, ...]) -> np.ndarray:
    return np.flatnonzero(labs["lab"].isin(lab_codes).to_numpy())


def blood_tests(labs: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Blood tests: the results of one visit (or one patient, where the visit is unknown) drawn at one time.
    Returns the tests (anchor_id, patient_id, visit_id, time) and each lab row's test."""
    visit = labs["visit_id"].astype(object).where(labs["visit_id"].notna(), "").to_numpy()
    key = codes(labs["patient_id"].to_numpy(), visit, to_us(labs["time"]))
    first = pd.Series(np.arange(len(labs))).groupby(key).min().to_numpy()
    tests = labs.iloc[first][["patient_id", "visit_id", "time"]].reset_index(drop=True)
    order = np.lexsort((to_us(tests["time"]), tests["patient_id"].to_numpy()))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    tests = tests.iloc[order].reset_index(drop=True)
    tests.insert(0, "anchor_id", np.arange(len(tests), dtype=np.int64))
    return tests, rank[key]


def blood_test_labels(
    labs: pd.DataFrame, test_of_row: np.ndarray, n_tests: int, targets: pd.DataFrame
) -> np.ndarray:
    """Label matrix (tests x targets) of the results within each blood test."""
    labels = np.full((n_tests, len(targets)), UNKNOWN, dtype=np.int8)
    values = labs["value"].to_numpy(np.float64)
    censored = labs["censored"].to_numpy(dtype=object)
    for j, target in enumerate(targets.itertuples(index=False)):
        rows = _rows_of(labs, target.lab_codes)
        if len(rows):
            classes = classify(values[rows], censored[rows], target.direction, target.threshold)
            labels[:, j] = agree(test_of_row[rows], classes, n_tests)
    return labels


def segments_in_windows(segments: pd.DataFrame, anchors: pd.DataFrame, minutes: float) -> pd.DataFrame:
    """(anchor_id, segment_id, dt_s) for every segment of the anchor's patient starting within +/- minutes."""
    patients = codes(np.concatenate([segments["patient_id"].to_numpy(), anchors["patient_id"].to_numpy()]))
    seg_group, anchor_group = patients[: len(segments)], patients[len(segments) :]
    seg_time = to_us(segments["start_time"])
    order = sort_events(seg_group, seg_time)
    anchor_time = to_us(anchors["time"])
    width = round(minutes * 60e6)
    start, stop = window_ranges(
        seg_group[order], seg_time[order], anchor_group, anchor_time - width, anchor_time + width
    )
    lengths = stop - start
    which = np.repeat(np.arange(len(anchors)), lengths)
    position = np.repeat(start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
        lengths.sum()
    )
    chosen = order[position]
    return pd.DataFrame(
        {
            "anchor_id": anchors["anchor_id"].to_numpy()[which],
            "segment_id": segments["segment_id"].to_numpy()[chosen],
            "dt_s": (seg_time[chosen] - anchor_time[which]) / 1e6,
        }
    )


def _lab_events(
    labs: pd.DataFrame, rows: np.ndarray, group_of_patient: dict[str, int]
) -> tuple[np.ndarray, ...]:
    patients = pd.Index(list(group_of_patient))
    group = patients.get_indexer(labs["patient_id"].iloc[rows]).astype(np.int64)  # -1: patient has no ECG
    time = to_us(labs["time"].iloc[rows])
    return group, time


def _per_lab_events(labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame) -> tuple[Any, ...]:
    """ECG patient codes and times, and per lab (the targets sharing its codes): the member targets and the
    lab rows of patients with ECGs, with their patient codes and times."""
    patient_codes = {p: i for i, p in enumerate(pd.unique(ecgs["patient_id"]))}
    ecg_group = np.fromiter((patient_codes[p] for p in ecgs["patient_id"]), dtype=np.int64, count=len(ecgs))
    per_lab = []
    for lab_codes, members in targets.groupby("lab_codes", sort=False).groups.items():
        rows = _rows_of(labs, lab_codes)
        group, time = _lab_events(labs, rows, patient_codes)
        keep = group >= 0
        per_lab.append((members, rows[keep], group[keep], time[keep]))
    return ecg_group, to_us(ecgs["start_time"]), per_lab


def closest_labels(
    labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame, minutes: float
) -> np.ndarray:
    """Label matrix (ECGs x targets): per lab, the measurement closest in time within +/- minutes decides;
    measurements equally close (before and after, or at the same time) decide together."""
    labels = np.full((len(ecgs), len(targets)), UNKNOWN, dtype=np.int8)
    ecg_group, ecg_time, lab_groups = _per_lab_events(labs, ecgs, targets)
    width = round(minutes * 60e6)
    values = labs["value"].to_numpy(np.float64)
    censored = labs["censored"].to_numpy(dtype=object)
    for members, rows, group, time in lab_groups:
        if not len(rows):
            continue
        moments = codes(group, time)  # one event per (patient, time): duplicates decide together
        n_moments = int(moments.max()) + 1
        first = pd.Series(np.arange(len(rows))).groupby(moments).min().to_numpy()
        m_group, m_time = group[first], time[first]
        order = sort_events(m_group, m_time)
        s_group, s_time = m_group[order], m_time[order]
        before = count_before(s_group, s_time, ecg_group, ecg_time, inclusive=True) - 1
        after = count_before(s_group, s_time, ecg_group, ecg_time, inclusive=False)
        has_before = (before >= 0) & (s_group[np.maximum(before, 0)] == ecg_group)
        has_after = (after < len(order)) & (s_group[np.minimum(after, len(order) - 1)] == ecg_group)
        gap_before = np.where(has_before, ecg_time - s_time[np.maximum(before, 0)], np.iinfo(np.int64).max)
        gap_after = np.where(
            has_after, s_time[np.minimum(after, len(order) - 1)] - ecg_time, np.iinfo(np.int64).max
        )
        use_before = has_before & (gap_before <= width) & (gap_before <= gap_after)
        use_after = has_after & (gap_after <= width) & (gap_after <= gap_before)
        for j in members:
            target, column = targets.loc[j], targets.index.get_loc(j)
            classes = classify(values[rows], censored[rows], target["direction"], target["threshold"])
            per_moment = agree(moments, classes, n_moments)[order]  # in sorted order
            from_before = np.where(use_before, per_moment[np.maximum(before, 0)], 2)
            from_after = np.where(use_after, per_moment[np.minimum(after, len(order) - 1)], 2)
            both = use_before & use_after
            label = np.where(use_before, from_before, np.where(use_after, from_after, UNKNOWN))
            label = np.where(both & (from_before != from_after), UNKNOWN, label)
            labels[:, column] = label.astype(np.int8)
    return labels


def forecast_labels(
    labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame, minutes: float
) -> np.ndarray:
    """Label matrix (ECGs x targets): 1 if any value of the lab in [t, t + minutes] is in the target class;
    -1 when no value falls there, when both a low and a high value occur (for labs with both targets), or
    when only censored values that cannot decide remain; else 0."""
    labels = np.full((len(ecgs), len(targets)), UNKNOWN, dtype=np.int8)
    ecg_group, ecg_time, lab_groups = _per_lab_events(labs, ecgs, targets)
    width = round(minutes * 60e6)
    values = labs["value"].to_numpy(np.float64)
    censored = labs["censored"].to_numpy(dtype=object)
    for members, rows, group, time in lab_groups:
        order = sort_events(group, time)
        start, stop = window_ranges(group[order], time[order], ecg_group, ecg_time, ecg_time + width)
        n_values = stop - start
        positives = {}
        for j in members:
            target = targets.loc[j]
            classes = classify(values[rows], censored[rows], target["direction"], target["threshold"])[order]
            n_pos = range_sums(prefix_sums(classes == 1), start, stop)
            n_unknown = range_sums(prefix_sums(classes == UNKNOWN), start, stop)
            positives[target["direction"]] = n_pos > 0
            label = np.where(n_pos > 0, 1, np.where(n_unknown > 0, UNKNOWN, 0))
            labels[:, targets.index.get_loc(j)] = np.where(n_values > 0, label, UNKNOWN)
        if len(positives) == 2:
            both = positives["low"] & positives["high"]
            for j in members:
                column = targets.index.get_loc(j)
                labels[both, column] = UNKNOWN
    return labels

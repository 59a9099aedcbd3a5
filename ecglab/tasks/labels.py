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
from ecglab.tasks.lab_rows import LabRows
from ecglab.tasks.lab_rows import times_us as to_us

UNKNOWN = -1


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
    lab_rows = LabRows.of(labs)
    for j, target in enumerate(targets.itertuples(index=False)):
        rows = lab_rows.rows(target.lab_codes)
        if len(rows):
            classes = classify(
                lab_rows.values[rows], lab_rows.censored[rows], target.direction, target.threshold
            )
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


def per_lab_events(
    lab_rows: LabRows, ecgs: pd.DataFrame, targets: pd.DataFrame, cache: dict
) -> tuple[Any, ...]:
    """ECG patient codes and times, and per lab (the targets sharing its codes): its codes, the member
    targets and the lab rows of patients with ECGs, with their patient codes and times. ``cache`` keeps them
    for another call on the same lab rows and ECGs."""
    if "ecg" not in cache:
        patients = pd.Index(pd.unique(ecgs["patient_id"].to_numpy(dtype=object)))
        ecg_group = patients.get_indexer(ecgs["patient_id"].to_numpy(dtype=object)).astype(np.int64)
        lab_code, lab_patients = pd.factorize(lab_rows.patient)
        mapped = patients.get_indexer(lab_patients).astype(np.int64)
        lab_group = np.where(lab_code >= 0, mapped[lab_code], -1)  # -1: the patient has no ECG
        cache["ecg"] = (ecg_group, to_us(ecgs["start_time"]), lab_group)
    ecg_group, ecg_time, lab_group = cache["ecg"]
    per_lab = []
    for lab_codes, members in targets.groupby("lab_codes", sort=False).groups.items():
        key = ("events", tuple(lab_codes))
        if key not in cache:
            rows = lab_rows.rows(lab_codes)
            rows = rows[lab_group[rows] >= 0]
            cache[key] = (rows, lab_group[rows], lab_rows.time[rows])
        per_lab.append((tuple(lab_codes), members, *cache[key]))
    return ecg_group, ecg_time, per_lab


def closest_moments(
    group: np.ndarray, time: np.ndarray, ecg_group: np.ndarray, ecg_time: np.ndarray, width: int
) -> tuple[np.ndarray, ...]:
    """Per ECG, the lab's moments (one per patient and time) just before and after it, and whether each is
    within ``width`` and at least as close as the other."""
    moments = codes(group, time)  # one event per (patient, time): duplicates decide together
    first = pd.Series(np.arange(len(group))).groupby(moments).min().to_numpy()
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
    before, after = np.maximum(before, 0), np.minimum(after, len(order) - 1)
    return moments, int(moments.max()) + 1, order, before, after, use_before, use_after


def closest_labels(
    labs: pd.DataFrame | LabRows,
    ecgs: pd.DataFrame,
    targets: pd.DataFrame,
    minutes: float,
    cache: dict | None = None,
) -> np.ndarray:
    """Label matrix (ECGs x targets): per lab, the measurement closest in time within +/- minutes decides;
    measurements equally close (before and after, or at the same time) decide together. ``cache`` (a dict)
    may be shared by calls on the same labs and ECGs (targets with other thresholds): the joins are reused."""
    lab_rows = labs if isinstance(labs, LabRows) else LabRows.of(labs)
    cache = {} if cache is None else cache
    labels = np.full((len(ecgs), len(targets)), UNKNOWN, dtype=np.int8)
    ecg_group, ecg_time, lab_groups = per_lab_events(lab_rows, ecgs, targets, cache)
    width = round(minutes * 60e6)
    for lab_codes, members, rows, group, time in lab_groups:
        if not len(rows):
            continue
        key = ("closest", width, lab_codes)
        if key not in cache:
            cache[key] = closest_moments(group, time, ecg_group, ecg_time, width)
        moments, n_moments, order, before, after, use_before, use_after = cache[key]
        values, censored = lab_rows.values[rows], lab_rows.censored[rows]
        for j in members:
            target, column = targets.loc[j], targets.index.get_loc(j)
            classes = classify(values, censored, target["direction"], target["threshold"])
            per_moment = agree(moments, classes, n_moments)[order]  # in sorted order
            from_before = np.where(use_before, per_moment[before], 2)
            from_after = np.where(use_after, per_moment[after], 2)
            both = use_before & use_after
            label = np.where(use_before, from_before, np.where(use_after, from_after, UNKNOWN))
            label = np.where(both & (from_before != from_after), UNKNOWN, label)
            labels[:, column] = label.astype(np.int8)
    return labels


def forecast_labels(
    labs: pd.DataFrame | LabRows,
    ecgs: pd.DataFrame,
    targets: pd.DataFrame,
    minutes: float,
    cache: dict | None = None,
) -> np.ndarray:
    """Label matrix (ECGs x targets): 1 if any value of the lab in [t, t + minutes] is in the target class;
    -1 when no value falls there, when both a low and a high value occur (for labs with both targets), or
    when only censored values that cannot decide remain; else 0."""
    lab_rows = labs if isinstance(labs, LabRows) else LabRows.of(labs)
    labels = np.full((len(ecgs), len(targets)), UNKNOWN, dtype=np.int8)
    ecg_group, ecg_time, lab_groups = per_lab_events(lab_rows, ecgs, targets, {} if cache is None else cache)
    width = round(minutes * 60e6)
    values, censored = lab_rows.values, lab_rows.censored
    for _, members, rows, group, time in lab_groups:
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

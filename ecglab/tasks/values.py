"""The lab value that decides each label: a task's regression targets, one per (anchor, kept target).

The rules follow :mod:`ecglab.tasks.labels`, so that on every row with a value the label is exactly
``value > threshold`` (high) or ``value < threshold`` (low):

- blood tests (window estimation) and closest estimation: the mean of the values that decide together (the
  results of one blood test, or the rows at the closest moment, before and after when equally close);
- forecasting: the extreme value in the target's direction within the horizon (the maximum for ``high``,
  the minimum for ``low``), since the label says whether any value was abnormal.

A value is NaN (no regression target) where the label is unknown (-1), and wherever a censored value
(``"<b"``, ``">b"``) or a missing one takes part: a censored bound may decide the label, never the value.
:func:`checked_values` raises when a value and its label disagree (a bug, never a data problem).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglab.tasks.intervals import codes, sort_events, window_ranges
from ecglab.tasks.lab_rows import LabRows
from ecglab.tasks.lab_rows import times_us as to_us
from ecglab.tasks.labels import UNKNOWN, closest_moments, per_lab_events
from ecglab.tasks.spec import TaskSpec


def _plain(lab_rows: LabRows, rows: np.ndarray) -> np.ndarray:
    """Whether each of ``rows`` holds a plain (uncensored, finite) value."""
    return (lab_rows.censored[rows] == "") & np.isfinite(lab_rows.values[rows])


def _group_means(group: np.ndarray, values: np.ndarray, plain: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group: the mean of its values, NaN when any member is censored or missing (or it is empty)."""
    sums = np.bincount(group, weights=np.where(plain, values, 0.0), minlength=n_groups)
    n_plain = np.bincount(group, weights=plain.astype(np.float64), minlength=n_groups)
    n_all = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_all > 0) & (n_plain == n_all), sums / np.maximum(n_plain, 1), np.nan)


def closest_values(
    lab_rows: LabRows,
    ecgs: pd.DataFrame,
    targets: pd.DataFrame,
    minutes: float,
    cache: dict | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Values (ECGs x targets) as :func:`ecglab.tasks.labels.closest_labels` decides: the mean of the closest
    moment's values (of both moments when the one before and the one after are equally close). ``cache``:
    the one of the label pass over the same lab rows and ECGs, whose joins are reused; ``keep``: only these
    ECG rows are returned (a matrix of the anchors, not of every segment)."""
    cache = {} if cache is None else cache
    keep = np.arange(len(ecgs)) if keep is None else keep
    out = np.full((len(keep), len(targets)), np.nan)
    ecg_group, ecg_time, lab_groups = per_lab_events(lab_rows, ecgs, targets, cache)
    width = round(minutes * 60e6)
    for lab_codes, members, rows, group, time in lab_groups:
        if not len(rows):
            continue
        key = ("closest", width, lab_codes)
        if key not in cache:
            cache[key] = closest_moments(group, time, ecg_group, ecg_time, width)
        moments, n_moments, order, before, after, use_before, use_after = cache[key]
        per_moment = _group_means(moments, lab_rows.values[rows], _plain(lab_rows, rows), n_moments)[order]
        from_before = np.where(use_before, per_moment[before], np.nan)
        from_after = np.where(use_after, per_moment[after], np.nan)
        both = use_before & use_after
        value = np.where(both, (from_before + from_after) / 2, np.where(use_before, from_before, from_after))
        for j in members:
            out[:, targets.index.get_loc(j)] = value[keep]
    return out


def _range_extreme(sorted_values: np.ndarray, start: np.ndarray, stop: np.ndarray, high: bool) -> np.ndarray:
    """Per query, the maximum (``high``) or minimum of ``sorted_values[start:stop]``; NaN for empty ranges."""
    if not len(sorted_values):
        return np.full(len(start), np.nan)
    ufunc = np.maximum if high else np.minimum
    padded = np.append(sorted_values, -np.inf if high else np.inf)  # every index, stop included, is valid
    reduced = ufunc.reduceat(padded, np.stack([start, stop], axis=1).reshape(-1))[::2]
    return np.where(stop > start, reduced, np.nan)


def forecast_values(
    lab_rows: LabRows,
    ecgs: pd.DataFrame,
    targets: pd.DataFrame,
    minutes: float,
    cache: dict | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Values (ECGs x targets) as :func:`ecglab.tasks.labels.forecast_labels` decides: the maximum (high) or
    minimum (low) value in [t, t + minutes]; NaN when the window holds no value or a censored one.
    ``cache`` and ``keep`` as for :func:`closest_values`."""
    keep = np.arange(len(ecgs)) if keep is None else keep
    out = np.full((len(keep), len(targets)), np.nan)
    ecg_group, ecg_time, lab_groups = per_lab_events(lab_rows, ecgs, targets, {} if cache is None else cache)
    width = round(minutes * 60e6)
    for _, members, rows, group, time in lab_groups:
        order = sort_events(group, time)
        start, stop = window_ranges(group[order], time[order], ecg_group, ecg_time, ecg_time + width)
        start, stop = start[keep], stop[keep]
        values, plain = lab_rows.values[rows][order], _plain(lab_rows, rows)[order]
        n_other = np.concatenate([[0], np.cumsum(~plain)])
        clean = (n_other[stop] - n_other[start]) == 0
        for j in members:
            high = targets.loc[j, "direction"] == "high"
            extreme = _range_extreme(np.where(plain, values, np.nan), start, stop, high)
            out[:, targets.index.get_loc(j)] = np.where(clean, extreme, np.nan)
    return out


def _visits(frame: pd.DataFrame) -> np.ndarray:
    return frame["visit_id"].astype(object).where(frame["visit_id"].notna(), "").to_numpy()


def blood_test_values(labs: pd.DataFrame, anchors: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    """Values (blood tests x targets) as :func:`ecglab.tasks.labels.blood_test_labels` decides: the mean of
    the test's results of the target's lab codes. ``anchors`` are blood tests (patient_id, visit_id, time)."""
    out = np.full((len(anchors), len(targets)), np.nan)
    patients = [frame["patient_id"].to_numpy(dtype=object) for frame in (labs, anchors)]
    key = codes(
        np.concatenate(patients),
        np.concatenate([_visits(labs), _visits(anchors)]),
        np.concatenate([to_us(labs["time"]), to_us(anchors["time"])]),
    )
    row_key, anchor_key = key[: len(labs)], key[len(labs) :]
    n_keys = int(key.max(initial=-1)) + 1
    lab_rows = LabRows.of(labs)
    for j, target in enumerate(targets.itertuples(index=False)):
        rows = lab_rows.rows(target.lab_codes)
        if len(rows):
            means = _group_means(row_key[rows], lab_rows.values[rows], _plain(lab_rows, rows), n_keys)
            out[:, j] = means[anchor_key]
    return out


def checked_values(values: np.ndarray, labels: np.ndarray, targets: pd.DataFrame) -> np.ndarray:
    """``values`` NaN where the label is unknown; raises RuntimeError when a value and
    its label disagree (the value rules above must follow the label rules exactly)."""
    values = np.where(labels == UNKNOWN, np.nan, values)
    thresholds = targets["threshold"].to_numpy(np.float64)
    high = (targets["direction"] == "high").to_numpy()
    with np.errstate(invalid="ignore"):
        abnormal = np.where(high, values > thresholds, values < thresholds)
    wrong = np.isfinite(values) & (abnormal != (labels == 1))
    if wrong.any():
        row, column = np.argwhere(wrong)[0]
        raise RuntimeError(
            f"{int(wrong.sum())} task values disagree with their labels, e.g. target "
            f"{targets['target'].iloc[column]}: value {values[row, column]!r}, label {labels[row, column]}"
        )
    return values


def anchor_values(
    spec: TaskSpec,
    labs: pd.DataFrame,
    lab_rows: LabRows | None,
    segments: pd.DataFrame,
    anchors: pd.DataFrame,
    kept: pd.DataFrame,
    labels: np.ndarray,
    cache: dict,
) -> np.ndarray:
    """The values (anchors x kept targets) of a built task. Closest estimation and forecasting join on
    ``segments`` (the table the labels were joined on, so ``cache`` is reused) and return the anchors' rows;
    window estimation joins the anchors' blood tests to ``labs``."""
    kept = kept.reset_index(drop=True)
    if spec.kind == "window_estimation":
        return checked_values(blood_test_values(labs, anchors, kept), labels, kept)
    lab_rows = lab_rows if lab_rows is not None else LabRows.of(labs)
    rule = closest_values if spec.kind == "closest_estimation" else forecast_values
    minutes = spec.window_min if spec.kind == "closest_estimation" else spec.horizon_min
    position = pd.Index(segments["segment_id"].to_numpy()).get_indexer(anchors["anchor_id"].to_numpy())
    if (position < 0).any():
        raise RuntimeError("an anchor is not one of the segments its labels were joined on")
    return checked_values(rule(lab_rows, segments, kept, float(minutes or 0), cache, position), labels, kept)

"""The lab value that decides each label (ecglab.tasks.values): equal to a plain-Python brute force on random
cohorts with censored and repeated rows, consistent with the labels on every row with a value, NaN where a
censored value takes part, and saved and loaded with the task."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from task_fixtures import (
    RANDOM_TARGETS,
    at,
    ecgs_frame,
    lab_rows,
    labs_frame,
    py_times,
    random_cohort,
    target_list,
    targets_frame,
)

from ecglab.tasks import labels as lab_labels
from ecglab.tasks import values as lab_values
from ecglab.tasks.lab_rows import LabRows

TARGETS = RANDOM_TARGETS[RANDOM_TARGETS["target"] != "absent_high"].reset_index(drop=True)


def _by_patient(labs: pd.DataFrame) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in lab_rows(labs):
        out.setdefault(row.patient, []).append(row)
    return out


def _ecgs(ecgs: pd.DataFrame) -> list:
    return list(zip(ecgs["patient_id"].tolist(), py_times(ecgs["start_time"]), strict=True))


def _mean_or_nan(rows: list) -> float:
    if not rows or any(r.censored or math.isnan(r.value) for r in rows):
        return math.nan
    return sum(r.value for r in rows) / len(rows)


def bf_closest_values(labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame, minutes: float):
    """The mean of the closest rows (both sides when equally close: the mean of the two moments' means)."""
    width = timedelta(minutes=minutes)
    by_patient = _by_patient(labs)
    out = np.full((len(ecgs), len(targets)), np.nan)
    for i, (patient, time) in enumerate(_ecgs(ecgs)):
        for j, target in enumerate(target_list(targets)):
            near = [
                r
                for r in by_patient.get(patient, [])
                if r.lab in target.codes and abs(r.time - time) <= width
            ]
            if near:
                best = min(abs(r.time - time) for r in near)
                sides = [_mean_or_nan([r for r in near if r.time == time + sign * best]) for sign in (-1, 1)]
                moments = {r.time for r in near if abs(r.time - time) == best}  # one or both sides
                sides = [_mean_or_nan([r for r in near if r.time == m]) for m in moments]
                out[i, j] = sum(sides) / len(sides)
    return out


def bf_forecast_values(labs: pd.DataFrame, ecgs: pd.DataFrame, targets: pd.DataFrame, minutes: float):
    """The maximum (high) or minimum (low) of the rows in [t, t + H]; NaN with any censored row."""
    horizon = timedelta(minutes=minutes)
    by_patient = _by_patient(labs)
    out = np.full((len(ecgs), len(targets)), np.nan)
    for i, (patient, time) in enumerate(_ecgs(ecgs)):
        for j, target in enumerate(target_list(targets)):
            inside = [
                r
                for r in by_patient.get(patient, [])
                if r.lab in target.codes and time <= r.time <= time + horizon
            ]
            if inside and not any(r.censored or math.isnan(r.value) for r in inside):
                pick = max if target.direction == "high" else min
                out[i, j] = pick(r.value for r in inside)
    return out


def _agrees(values: np.ndarray, labels: np.ndarray, targets: pd.DataFrame) -> None:
    """On every row with a value, the label is the value against the threshold."""
    for j, t in enumerate(targets.itertuples(index=False)):
        has = np.isfinite(values[:, j])
        abnormal = values[has, j] > t.threshold if t.direction == "high" else values[has, j] < t.threshold
        np.testing.assert_array_equal(labels[has, j], abnormal.astype(np.int8))
        assert (labels[has, j] != -1).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closest_values_equal_brute_force_and_agree_with_labels(seed: int) -> None:
    labs, ecgs = random_cohort(seed)
    rows, cache = LabRows.of(labs), {}
    labels = lab_labels.closest_labels(rows, ecgs, TARGETS, 30, cache=cache)
    values = lab_values.checked_values(
        lab_values.closest_values(rows, ecgs, TARGETS, 30, cache), labels, TARGETS
    )
    expected = np.where(labels == -1, np.nan, bf_closest_values(labs, ecgs, TARGETS, 30))
    np.testing.assert_allclose(values, expected, equal_nan=True)
    keep = np.array([5, 0, 17])  # only some ECG rows (a task's anchors), in any order
    some = lab_values.closest_values(rows, ecgs, TARGETS, 30, cache, keep)
    np.testing.assert_allclose(some, lab_values.closest_values(rows, ecgs, TARGETS, 30)[keep], equal_nan=True)
    _agrees(values, labels, TARGETS)
    assert np.isfinite(values).sum() > 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forecast_values_are_the_extreme_in_the_targets_direction(seed: int) -> None:
    labs, ecgs = random_cohort(seed)
    rows = LabRows.of(labs)
    labels = lab_labels.forecast_labels(rows, ecgs, TARGETS, 60)
    values = lab_values.checked_values(lab_values.forecast_values(rows, ecgs, TARGETS, 60), labels, TARGETS)
    expected = np.where(labels == -1, np.nan, bf_forecast_values(labs, ecgs, TARGETS, 60))
    np.testing.assert_allclose(values, expected, equal_nan=True)
    keep = np.array([9, 2, 30])
    some = lab_values.forecast_values(rows, ecgs, TARGETS, 60, None, keep)
    np.testing.assert_allclose(
        some, lab_values.forecast_values(rows, ecgs, TARGETS, 60)[keep], equal_nan=True
    )
    _agrees(values, labels, TARGETS)
    assert np.isfinite(values).sum() > 10


@pytest.mark.parametrize("seed", [0, 3])
def test_blood_test_values_are_the_tests_mean_and_agree_with_labels(seed: int) -> None:
    labs, _ = random_cohort(seed)
    anchors, test_of_row = lab_labels.blood_tests(labs)
    labels = lab_labels.blood_test_labels(labs, test_of_row, len(anchors), TARGETS)
    values = lab_values.checked_values(lab_values.blood_test_values(labs, anchors, TARGETS), labels, TARGETS)
    _agrees(values, labels, TARGETS)
    for j, t in enumerate(TARGETS.itertuples(index=False)):
        for i in np.flatnonzero(np.isfinite(values[:, j]))[:5]:
            inside = labs[(test_of_row == i) & labs["lab"].isin(t.lab_codes).to_numpy()]
            assert (inside["censored"] == "").all()
            assert values[i, j] == pytest.approx(inside["value"].mean())


def test_a_censored_value_decides_the_label_but_is_never_a_value() -> None:
    labs = labs_frame(
        [
            ("P1", None, at(0), "TROP", 0.01, "<"),  # label 0 for trop_high at 0.04, no value
            ("P2", None, at(0), "TROP", 0.3, ""),  # plain: label 1, value 0.3
            ("P3", None, at(0), "TROP", 0.04, ""),  # at the threshold: 0, value 0.04
        ]
    )
    ecgs = ecgs_frame([("P1", at(1)), ("P2", at(1)), ("P3", at(-1))])
    targets = targets_frame([("trop_high", ("TROP",), "high", 0.04)])
    rows = LabRows.of(labs)
    labels = lab_labels.closest_labels(rows, ecgs, targets, 15)
    values = lab_values.checked_values(lab_values.closest_values(rows, ecgs, targets, 15), labels, targets)
    assert labels[:, 0].tolist() == [0, 1, 0]
    assert np.isnan(values[0, 0]) and values[1, 0] == 0.3 and values[2, 0] == 0.04


def test_a_value_that_contradicts_its_label_is_a_bug() -> None:
    targets = targets_frame([("k_high", ("K",), "high", 5.0)])
    with pytest.raises(RuntimeError, match="disagree with their labels"):
        lab_values.checked_values(np.array([[5.5]]), np.array([[0]], dtype=np.int8), targets)
    masked = lab_values.checked_values(np.array([[5.5]]), np.array([[-1]], dtype=np.int8), targets)
    assert np.isnan(masked[0, 0])

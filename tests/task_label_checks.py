"""Checks shared by the task-label tests: ecglab.tasks.labels' blood tests, labels and window pairs compared
with the independent brute force of tests/task_fixtures.py, and a potassium low/high target table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from task_fixtures import bf_blood_test_labels, bf_blood_tests, py_times, targets_frame

from ecglab.tasks import labels as L

K = targets_frame([("k_low", ("K",), "low", 3.5), ("k_high", ("K",), "high", 5.0)])


def vectorised_blood_tests(labs: pd.DataFrame, targets: pd.DataFrame) -> dict[tuple, tuple[int, ...]]:
    """ecglab.tasks.labels' blood tests and labels, keyed like the brute force: (patient, visit or None,
    time)."""
    tests, test_of_row = L.blood_tests(labs)
    matrix = L.blood_test_labels(labs, test_of_row, len(tests), targets)
    visits = [None if pd.isna(v) else v for v in tests["visit_id"].astype(object)]
    keys = list(zip(tests["patient_id"].tolist(), visits, py_times(tests["time"]), strict=True))
    return {key: tuple(int(x) for x in row) for key, row in zip(keys, matrix, strict=True)}


def check_blood_tests(labs: pd.DataFrame, targets: pd.DataFrame) -> None:
    """Tests, each row's test, the anchors' order and ids, and the labels all equal the brute force."""
    tests, test_of_row = L.blood_tests(labs)
    expected = bf_blood_tests(labs)
    assert len(tests) == len(expected)
    assert tests["anchor_id"].tolist() == list(range(len(tests)))
    order = list(zip(tests["patient_id"].tolist(), py_times(tests["time"]), strict=True))
    assert order == sorted(order)
    visits = [None if pd.isna(v) else v for v in tests["visit_id"].astype(object)]
    keys = list(zip(tests["patient_id"].tolist(), visits, py_times(tests["time"]), strict=True))
    assert {key: sorted(np.flatnonzero(test_of_row == k).tolist()) for k, key in enumerate(keys)} == expected
    assert vectorised_blood_tests(labs, targets) == bf_blood_test_labels(labs, targets)


def window_pairs(segments: pd.DataFrame, anchors: pd.DataFrame, minutes: float) -> set[tuple]:
    pairs = L.segments_in_windows(segments, anchors, minutes)
    found = set(
        zip(pairs["anchor_id"].tolist(), pairs["segment_id"].tolist(), pairs["dt_s"].tolist(), strict=True)
    )
    assert len(found) == len(pairs), "a (anchor, segment) pair is listed twice"
    return found

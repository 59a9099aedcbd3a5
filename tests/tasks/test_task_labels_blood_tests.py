"""AnyECG-Lab's blood tests and their segments against the brute force (tests/task_fixtures.py): one visit at
one time is one test, duplicated and disagreeing rows, and the (test, segment) pairs of a window, edges
included, on focused cases and random cohorts."""

from __future__ import annotations

import pandas as pd
import pytest
from task_fixtures import (
    RANDOM_TARGETS,
    at,
    bf_segments_in_windows,
    ecgs_frame,
    labs_frame,
    py_times,
    random_cohort,
)
from task_label_checks import K, check_blood_tests, vectorised_blood_tests, window_pairs

from ecglab.tasks import labels as L


# ====================================================================== blood tests (AnyECG-Lab)
def test_blood_tests_are_one_visit_at_one_time_and_visitless_rows_group_by_patient() -> None:
    labs = labs_frame(
        [
            ("A", "A1", at(0), "K", 4.0),
            ("A", "A1", at(0), "NA", 140.0),  # same test as the row above
            ("A", "A2", at(0), "K", 6.0),  # another visit at the same time: another test
            ("A", None, at(0), "K", 3.0),  # no visit: the patient's visitless rows at that time
            ("A", None, at(0), "NA", 150.0),
            ("A", "A1", at(0, 1), "K", 4.0),  # one microsecond later: another test
            ("B", "A1", at(0), "K", 6.0),  # another patient, same visit text and time: another test
        ]
    )
    tests, test_of_row = L.blood_tests(labs)
    assert len(tests) == 5
    assert test_of_row[0] == test_of_row[1] and test_of_row[3] == test_of_row[4]
    assert len({test_of_row[i] for i in (0, 2, 3, 5, 6)}) == 5
    check_blood_tests(labs, K)


def test_blood_test_labels_duplicates_disagreement_and_missing_labs() -> None:
    labs = labs_frame(
        [
            ("A", "v", at(0), "K", 5.5),  # two high values: high
            ("A", "v", at(0), "K", 6.0),
            ("A", "v", at(10), "K", 4.0),  # duplicated identical rows: normal
            ("A", "v", at(10), "K", 4.0),
            ("A", "v", at(20), "K", 3.0),  # low and normal in one test: unknown for low, normal for high
            ("A", "v", at(20), "K", 4.0),
            ("A", "v", at(30), "NA", 140.0),  # no K in this test: -1, never 0
            ("A", "v", at(40), "K", 3.5, "<"),  # "<3.5": low unknown, high normal
        ]
    )
    t = py_times(labs["time"])
    assert vectorised_blood_tests(labs, K) == {
        ("A", "v", t[0]): (0, 1),
        ("A", "v", t[2]): (0, 0),
        ("A", "v", t[4]): (-1, 0),
        ("A", "v", t[6]): (-1, -1),
        ("A", "v", t[7]): (-1, 0),
    }
    check_blood_tests(labs, K)


@pytest.mark.parametrize("seed", range(4))
def test_blood_tests_and_labels_equal_brute_force_on_random_cohorts(seed: int) -> None:
    labs, _ = random_cohort(seed)
    check_blood_tests(labs, RANDOM_TARGETS)


def test_segments_in_windows_includes_both_edges_and_only_the_patients_own_segments() -> None:
    anchors = pd.DataFrame(
        {"anchor_id": [7, 8], "patient_id": ["A", "B"], "visit_id": ["v", "w"], "time": [at(0), at(0)]}
    ).astype({"time": "datetime64[us]"})
    segments = ecgs_frame(
        [
            ("A", at(-60)),  # lower edge: in
            ("A", at(60)),  # upper edge: in
            ("A", at(-60, -1)),  # one microsecond outside: out
            ("A", at(60, 1)),
            ("A", at(0)),
            ("B", at(30)),  # B's segment at A's times: only B's anchor
            ("C", at(0)),  # a patient without anchors
        ]
    )
    assert window_pairs(segments, anchors, 60) == {
        (7, 100, -3600.0),
        (7, 101, 3600.0),
        (7, 104, 0.0),
        (8, 105, 1800.0),
    }
    assert window_pairs(segments, anchors, 60) == bf_segments_in_windows(segments, anchors, 60)


@pytest.mark.parametrize("minutes", [60, 30, 15, 0.5])
def test_segments_in_windows_equal_brute_force_on_random_cohorts(minutes: float) -> None:
    labs, segments = random_cohort(11, n_ecgs=150)
    anchors, _ = L.blood_tests(labs)
    assert window_pairs(segments, anchors, minutes) == bf_segments_in_windows(segments, anchors, minutes)

"""CardioLab's closest-value estimation labels against the brute force (tests/task_fixtures.py): window
edges, ties in time and duplicated rows decide together, patients never mixed, and random cohorts."""

from __future__ import annotations

import numpy as np
import pytest
from task_fixtures import RANDOM_TARGETS, at, bf_closest_labels, ecgs_frame, labs_frame, random_cohort
from task_label_checks import K

from ecglab.tasks import labels as L


# ====================================================================== closest estimation (CardioLab)
def test_closest_includes_both_window_edges() -> None:
    labs = labs_frame(
        [
            ("A", None, at(-60), "K", 6.0),  # exactly W before: decides
            ("B", None, at(60), "K", 3.0),  # exactly W after: decides
            ("C", None, at(-60, -1), "K", 6.0),  # one microsecond outside: no label
            ("D", None, at(60, 1), "K", 6.0),
        ]
    )
    ecgs = ecgs_frame([(p, at(0)) for p in "ABCD"])
    expected = [[0, 1], [1, 0], [-1, -1], [-1, -1]]
    assert L.closest_labels(labs, ecgs, K, 60).tolist() == expected
    assert bf_closest_labels(labs, ecgs, K, 60).tolist() == expected


def test_closest_ties_in_time_decide_together() -> None:
    labs = labs_frame(
        [
            ("A", None, at(-10), "K", 6.0),  # before and after at equal distance, both high: high
            ("A", None, at(10), "K", 5.5),
            ("B", None, at(-10), "K", 6.0),  # equal distance, high and normal: unknown for high
            ("B", None, at(10), "K", 4.0),
            ("C", None, at(-5), "K", 4.0),  # the closest decides alone, although a farther value is high
            ("C", None, at(6), "K", 6.0),
            ("D", None, at(0), "K", 4.0),  # a value at the ECG's own time
            ("D", None, at(0, 1), "K", 6.0),
        ]
    )
    ecgs = ecgs_frame([(p, at(0)) for p in "ABCD"])
    expected = [[0, 1], [0, -1], [0, 0], [0, 0]]
    assert L.closest_labels(labs, ecgs, K, 60).tolist() == expected
    assert bf_closest_labels(labs, ecgs, K, 60).tolist() == expected


def test_closest_duplicated_rows_decide_together() -> None:
    labs = labs_frame(
        [
            ("A", None, at(5), "K", 6.0),  # duplicated identical rows
            ("A", None, at(5), "K", 6.0),
            ("B", None, at(5), "K", 5.5),  # same time, different values, same class
            ("B", None, at(5), "K", 6.0),
            ("C", None, at(5), "K", 6.0),  # same time, disagreeing: unknown, no fallback to a farther value
            ("C", None, at(5), "K", 4.0),
            ("C", None, at(20), "K", 6.0),
            ("D", None, at(-5), "K", 3.0),  # a duplicated pair tied with a value at equal distance after
            ("D", None, at(-5), "K", 3.0),
            ("D", None, at(5), "K", 3.2),
        ]
    )
    ecgs = ecgs_frame([(p, at(0)) for p in "ABCD"])
    expected = [[0, 1], [0, 1], [0, -1], [1, 0]]
    assert L.closest_labels(labs, ecgs, K, 60).tolist() == expected
    assert bf_closest_labels(labs, ecgs, K, 60).tolist() == expected


def test_closest_never_compares_patients_with_identical_times() -> None:
    labs = labs_frame(
        [
            ("B", None, at(0), "K", 6.0),  # B's value at A's ECG time
            ("A", None, at(50), "K", 3.0),  # A's own value, farther away
            ("C", None, at(1), "K", 6.0),  # C has labs but no ECG
        ]
    )
    ecgs = ecgs_frame([("A", at(0)), ("B", at(0)), ("E", at(0))])
    expected = [[1, 0], [0, 1], [-1, -1]]
    assert L.closest_labels(labs, ecgs, K, 60).tolist() == expected
    assert bf_closest_labels(labs, ecgs, K, 60).tolist() == expected


@pytest.mark.parametrize(("seed", "minutes"), [(0, 60), (1, 60), (2, 15), (3, 1), (4, 240)])
def test_closest_labels_equal_brute_force_on_random_cohorts(seed: int, minutes: float) -> None:
    labs, ecgs = random_cohort(seed)
    got = L.closest_labels(labs, ecgs, RANDOM_TARGETS, minutes)
    np.testing.assert_array_equal(got, bf_closest_labels(labs, ecgs, RANDOM_TARGETS, minutes))
    assert (got == 1).any() and (got == 0).any() and (got == -1).any()

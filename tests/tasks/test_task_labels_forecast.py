"""CardioLab's forecasting labels against the brute force (tests/task_fixtures.py): a horizon closed at both
ends, any positive, low and high together masked, censored values, patients never mixed, random cohorts."""

from __future__ import annotations

import numpy as np
import pytest
from task_fixtures import RANDOM_TARGETS, at, bf_forecast_labels, ecgs_frame, labs_frame, random_cohort
from task_label_checks import K

from ecglab.tasks import labels as L


# ====================================================================== forecasting (CardioLab monitoring)
def test_forecast_window_is_closed_at_both_ends() -> None:
    labs = labs_frame(
        [
            ("A", None, at(0), "K", 6.0),  # at the ECG time: in
            ("B", None, at(30), "K", 6.0),  # at t + H: in
            ("C", None, at(0, -1), "K", 6.0),  # one microsecond before the ECG: out
            ("D", None, at(30, 1), "K", 6.0),  # one microsecond after t + H: out
        ]
    )
    ecgs = ecgs_frame([(p, at(0)) for p in "ABCD"])
    expected = [[0, 1], [0, 1], [-1, -1], [-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 30).tolist() == expected
    assert bf_forecast_labels(labs, ecgs, K, 30).tolist() == expected


def test_forecast_any_positive_and_both_low_and_high_masked() -> None:
    labs = labs_frame(
        [
            ("A", None, at(5), "K", 4.0),  # normal then high: high
            ("A", None, at(20), "K", 6.0),
            ("B", None, at(5), "K", 3.0),  # low and high in the horizon: masked for both
            ("B", None, at(20), "K", 6.0),
            ("C", None, at(5), "K", 4.0),  # normal only
            ("C", None, at(5), "K", 4.5),
            ("E", None, at(5), "NA", 140.0),  # another lab only: -1, never 0
        ]
    )
    ecgs = ecgs_frame([(p, at(0)) for p in "ABCE"])
    expected = [[0, 1], [-1, -1], [0, 0], [-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 30).tolist() == expected
    assert bf_forecast_labels(labs, ecgs, K, 30).tolist() == expected
    only_low = K.iloc[:1].reset_index(drop=True)  # without a high target nothing masks the low one
    assert L.forecast_labels(labs, ecgs, only_low, 30).tolist() == [[0], [1], [0], [-1]]
    assert bf_forecast_labels(labs, ecgs, only_low, 30).tolist() == [[0], [1], [0], [-1]]


def test_forecast_with_censored_values() -> None:
    labs = labs_frame(
        [
            ("A", None, at(5), "K", 4.0, "<"),  # "<4.0" only: low unknown, high normal
            ("B", None, at(5), "K", 4.0, "<"),  # "<4.0" and a plain low: low
            ("B", None, at(9), "K", 3.0),
            ("C", None, at(5), "K", 4.0, "<"),  # "<4.0" and a plain normal: low still unknown
            ("C", None, at(9), "K", 4.0),
            ("D", None, at(5), "K", 5.0, ">"),  # ">5.0" (bound = threshold): high unknown, low normal
            ("E", None, at(5), "K", 6.0, ">"),  # ">6.0": high
        ]
    )
    ecgs = ecgs_frame([(p, at(0)) for p in "ABCDE"])
    expected = [[-1, 0], [1, 0], [-1, 0], [0, -1], [0, 1]]
    assert L.forecast_labels(labs, ecgs, K, 30).tolist() == expected
    assert bf_forecast_labels(labs, ecgs, K, 30).tolist() == expected


def test_forecast_never_compares_patients_with_identical_times() -> None:
    labs = labs_frame([("B", None, at(10), "K", 6.0), ("A", None, at(10), "K", 4.0)])
    ecgs = ecgs_frame([("A", at(0)), ("B", at(0)), ("C", at(0))])
    expected = [[0, 0], [0, 1], [-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 30).tolist() == expected
    assert bf_forecast_labels(labs, ecgs, K, 30).tolist() == expected


@pytest.mark.parametrize(("seed", "minutes"), [(0, 30), (1, 60), (2, 120), (5, 120), (6, 1)])
def test_forecast_labels_equal_brute_force_on_random_cohorts(seed: int, minutes: float) -> None:
    labs, ecgs = random_cohort(seed)
    got = L.forecast_labels(labs, ecgs, RANDOM_TARGETS, minutes)
    np.testing.assert_array_equal(got, bf_forecast_labels(labs, ecgs, RANDOM_TARGETS, minutes))
    assert (got == 1).any() and (got == 0).any() and (got == -1).any()

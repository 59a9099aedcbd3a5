"""Task labels keep time right: every kind of label beyond the datetime64[ns] range equals the brute force
(tests/task_fixtures.py) and shifts by whole days unchanged, and tz-aware times are compared as instants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from task_fixtures import (
    RANDOM_TARGETS,
    at,
    bf_closest_labels,
    bf_forecast_labels,
    bf_segments_in_windows,
    ecgs_frame,
    labs_frame,
    random_cohort,
)
from task_label_checks import K, check_blood_tests, window_pairs

from ecglab.tasks import labels as L


# ====================================================================== times beyond datetime64[ns]
@pytest.mark.parametrize("year", ["2283-03-01", "3000-01-01", "1650-06-15"])
def test_every_kind_beyond_the_datetime64_ns_range(year: str) -> None:
    labs, ecgs = random_cohort(3, base=pd.Timestamp(f"{year} 23:30:00"))
    assert labs["time"].dtype == "datetime64[us]"
    check_blood_tests(labs, RANDOM_TARGETS)
    anchors, _ = L.blood_tests(labs)
    assert window_pairs(ecgs, anchors, 60) == bf_segments_in_windows(ecgs, anchors, 60)
    np.testing.assert_array_equal(
        L.closest_labels(labs, ecgs, RANDOM_TARGETS, 60), bf_closest_labels(labs, ecgs, RANDOM_TARGETS, 60)
    )
    np.testing.assert_array_equal(
        L.forecast_labels(labs, ecgs, RANDOM_TARGETS, 60), bf_forecast_labels(labs, ecgs, RANDOM_TARGETS, 60)
    )
    # the same cohort shifted from 2283 by whole days gives the same labels (no overflow, no wrap-around)
    shifted_labs, shifted_ecgs = random_cohort(3, base=pd.Timestamp("2000-01-01 23:30:00"))
    np.testing.assert_array_equal(
        L.closest_labels(labs, ecgs, RANDOM_TARGETS, 60),
        L.closest_labels(shifted_labs, shifted_ecgs, RANDOM_TARGETS, 60),
    )


# ====================================================================== time zones
def test_tz_aware_times_are_compared_as_instants() -> None:
    labs = labs_frame([("A", None, at(0), "K", 6.0), ("B", None, at(0), "K", 3.0)])
    labs["time"] = labs["time"].dt.tz_localize("America/Los_Angeles")  # 2283-05-01 19:00 UTC (PDT)
    ecgs = ecgs_frame([("A", at(7 * 60 + 30)), ("B", at(-30))])
    ecgs["start_time"] = ecgs["start_time"].dt.tz_localize("UTC")
    assert L.closest_labels(labs, ecgs, K, 30).tolist() == [[0, 1], [-1, -1]]
    assert bf_closest_labels(labs, ecgs, K, 30).tolist() == [[0, 1], [-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 30).tolist() == [[-1, -1], [-1, -1]]
    assert bf_forecast_labels(labs, ecgs, K, 30).tolist() == [[-1, -1], [-1, -1]]

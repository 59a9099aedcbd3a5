"""Task labels on real data: the MIMIC-IV demo labs with MIMIC-IV-ECG times equal the brute force
(tests/task_fixtures.py), and hold the edge cases it is meant to check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from locations import SHARED_DATA
from task_fixtures import bf_closest_labels, bf_forecast_labels, bf_segments_in_windows, targets_frame
from task_label_checks import check_blood_tests, window_pairs

from ecglab.cohort.quality import QualityReport
from ecglab.tasks import labels as L

# ====================================================================== real data: MIMIC-IV demo
MIMIC_ITEMS = {
    "50971": "potassium",
    "50983": "sodium",
    "50912": "creatinine",
    "51222": "hemoglobin",
    "51498": "specific_gravity",  # urine; holds ">1.035" with an upper reference bound of 1.035
    "51516": "urine_wbc",  # urine; holds ">50" censored values
}


@pytest.fixture(scope="module")
def mimic() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labs of MIMIC_ITEMS, the record list's ECGs as a segments-like table, targets from reference ranges."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real open data not found at {SHARED_DATA} (the ../shared/data folder beside the repo)")
    from ecglab.cohort.readers.mimic_tables import read_mimic_labs

    labs = read_mimic_labs(SHARED_DATA / "mimic-iv-demo" / "hosp", QualityReport())
    labs = labs[labs["lab"].isin(list(MIMIC_ITEMS))].reset_index(drop=True)
    records = pd.read_csv(SHARED_DATA / "mimic-iv-ecg-demo" / "record_list.csv", dtype=str)
    ecgs = pd.DataFrame(
        {
            "segment_id": np.arange(len(records), dtype=np.int64),
            "patient_id": records["subject_id"],
            "visit_id": pd.Series([None] * len(records), dtype="str"),
            "start_time": pd.to_datetime(records["ecg_time"], format="%Y-%m-%d %H:%M:%S").astype(
                "datetime64[us]"
            ),
        }
    )
    rows = []
    for item, name in MIMIC_ITEMS.items():
        mine = labs[labs["lab"] == item]
        for direction, bound in (("low", "ref_low"), ("high", "ref_high")):
            rows.append((f"{name}_{direction}", (item,), direction, float(mine[bound].median())))
    return labs, ecgs, targets_frame(rows)


def test_mimic_demo_blood_tests_and_windows_equal_brute_force(mimic: tuple) -> None:
    labs, ecgs, targets = mimic
    check_blood_tests(labs, targets)
    anchors, _ = L.blood_tests(labs)
    pairs = window_pairs(ecgs, anchors, 60)
    assert pairs == bf_segments_in_windows(ecgs, anchors, 60)
    assert len(pairs) > 100


def test_mimic_demo_closest_labels_equal_brute_force(mimic: tuple) -> None:
    labs, ecgs, targets = mimic
    got = L.closest_labels(labs, ecgs, targets, 60)
    np.testing.assert_array_equal(got, bf_closest_labels(labs, ecgs, targets, 60))
    potassium = got[:, list(targets["target"]).index("potassium_high")]
    assert (potassium == 1).sum() > 0 and (potassium == 0).sum() > 50


@pytest.mark.parametrize("minutes", [30, 60, 120])
def test_mimic_demo_forecast_labels_equal_brute_force(mimic: tuple, minutes: float) -> None:
    labs, ecgs, targets = mimic
    got = L.forecast_labels(labs, ecgs, targets, minutes)
    np.testing.assert_array_equal(got, bf_forecast_labels(labs, ecgs, targets, minutes))
    assert (got == 1).sum() > 0 and (got == 0).sum() > 50


def test_mimic_demo_has_the_edge_cases_the_brute_force_is_meant_to_check(mimic: tuple) -> None:
    labs, _, targets = mimic
    assert labs.duplicated(["patient_id", "lab", "time"]).any()  # same-time rows with different values
    assert labs["visit_id"].isna().any()  # visitless rows (grouped by patient)
    censored = labs[labs["censored"] != ""]
    gravity = targets.loc[targets["target"] == "specific_gravity_high", "threshold"].item()
    assert ((censored["lab"] == "51498") & (censored["value"] == gravity)).any()  # bound == threshold

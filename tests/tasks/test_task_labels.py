"""Task labels against an independent brute force (tests/task_fixtures.py): focused edge cases of each rule,
random cohorts whose patients share one time axis, the real MIMIC-IV demo labs with MIMIC-IV-ECG times, and
an end-to-end build of an AnyECG-Lab task on a small synthetic cohort."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from locations import SHARED_DATA
from task_fixtures import (
    RANDOM_TARGETS,
    at,
    bf_blood_test_labels,
    bf_blood_tests,
    bf_classify,
    bf_closest_labels,
    bf_forecast_labels,
    bf_segments_in_windows,
    ecgs_frame,
    labs_frame,
    py_times,
    random_cohort,
    targets_frame,
)

from ecglab.cohort.quality import QualityReport
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks import labels as L
from ecglab.tasks.build import TaskData, build_task
from ecglab.tasks.catalogue import anyecg_lab_panel
from ecglab.tasks.registry import get_task

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


# ====================================================================== classify
def test_classify_equals_the_interval_rule_on_every_combination() -> None:
    thresholds = (3.5, 0.04)
    values = np.array([0.0, 0.01, 0.005, 0.04, 0.05, 3.0, 3.4999, 3.5, 3.5001, 5.0, 6.0])
    for direction in ("low", "high"):
        for threshold in thresholds:
            for censored in ("", "<", ">"):
                flags = np.full(len(values), censored, dtype=object)
                got = L.classify(values, flags, direction, threshold).tolist()
                want = [bf_classify(v, censored, direction, threshold) for v in values]
                assert got == want, (direction, threshold, censored)


def test_classify_censored_examples_of_the_docstring_and_bounds_equal_to_the_threshold() -> None:
    def one(value: float, censored: str, direction: str, threshold: float) -> int:
        return int(L.classify(np.array([value]), np.array([censored], dtype=object), direction, threshold)[0])

    assert one(0.01, "<", "high", 0.04) == 0  # "<0.01" is negative for a high target at 0.04
    assert one(0.01, "<", "low", 0.005) == -1  # ... and unknown for a low target at 0.005
    assert one(0.01, "<", "low", 0.04) == 1
    assert one(300, ">", "high", 5.0) == 1
    assert one(300, ">", "low", 5.0) == 0
    # bounds equal to the threshold: "<t" / ">t" decide only where the bound itself is on the negative side
    assert one(3.5, "<", "low", 3.5) == -1
    assert one(3.5, "<", "high", 3.5) == 0
    assert one(5.0, ">", "high", 5.0) == -1
    assert one(5.0, ">", "low", 5.0) == 0
    # plain values equal to the threshold are negative (strict inequalities)
    assert one(3.5, "", "low", 3.5) == 0
    assert one(5.0, "", "high", 5.0) == 0


def test_missing_value_is_never_a_normal_label() -> None:
    nan = float("nan")
    assert L.classify(np.array([nan, nan]), np.array(["", ""], dtype=object), "low", 3.5).tolist() == [-1, -1]
    labs = labs_frame([("A", "v", at(0), "K", nan)])
    ecgs = ecgs_frame([("A", at(0))])
    assert vectorised_blood_tests(labs, K) == {("A", "v", py_times(labs["time"])[0]): (-1, -1)}
    assert L.closest_labels(labs, ecgs, K, 60).tolist() == [[-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 60).tolist() == [[-1, -1]]


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


# ====================================================================== end to end: build_task
E2E_CONFIG = SynthConfig(n_patients=60, seed=3, fs=100.0, bout_minutes=(1.0, 4.0))
EVAL_WINDOW, TRAIN_WINDOW, MAX_SEGMENTS = 15, 60, 5


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    path = build_synthetic_cohort(
        tmp_path_factory.mktemp("synth") / "c", E2E_CONFIG, workers=1, progress=False
    )
    return open_cohort(path)


@pytest.fixture(scope="module")
def built(synth: Cohort) -> TaskData:
    base = get_task("anyecg_lab_est_60min")
    assert base.train_window == TRAIN_WINDOW
    spec = replace(
        base,
        name="anyecg_lab_est_15min_small",
        window_min=EVAL_WINDOW,
        panel=replace(base.panel, min_positives=2, min_negatives=2),
        eval=replace(base.eval, max_segments=MAX_SEGMENTS),
        input=replace(base.input, fs=E2E_CONFIG.fs),
    )
    return build_task(spec, synth)


def _anchor_key(anchors: pd.DataFrame) -> list[tuple[str, str | None, datetime]]:
    visits = [None if pd.isna(v) else v for v in anchors["visit_id"].astype(object)]
    return list(zip(anchors["patient_id"].tolist(), visits, py_times(anchors["time"]), strict=True))


def test_build_labels_and_anchors_equal_brute_force(built: TaskData, synth: Cohort) -> None:
    kept = built.targets[built.targets["kept"]].reset_index(drop=True)
    assert len(kept) > 0 and built.kept_targets == kept["target"].tolist()
    panel_codes = {t.mcmed_component for t in anyecg_lab_panel()} & set(synth.labs["lab"])
    labs = synth.labs[synth.labs["lab"].isin(panel_codes)].reset_index(drop=True)
    expected = bf_blood_test_labels(labs, kept)

    # labels of every kept anchor, through label_table()
    table = built.label_table()
    key_of = dict(zip(built.anchors["anchor_id"].tolist(), _anchor_key(built.anchors), strict=True))
    want = [
        expected[key_of[a]][kept["target"].tolist().index(t)]
        for a, t in zip(table["anchor_id"], table["target"], strict=True)
    ]
    assert table["label"].tolist() == want
    assert len(table) == len(built.anchors) * len(kept)

    # which blood tests are anchors: a segment of the patient within the training window (train patients) or
    # the evaluation window (val/test patients; also for patients without any anchor, whose tests would be
    # kept in any split if they met it), and at least one observed kept label
    starts = defaultdict(list)
    for patient, start in zip(
        synth.segments["patient_id"], py_times(synth.segments["start_time"]), strict=True
    ):
        starts[patient].append(start)
    split_of = dict(zip(built.anchors["patient_id"], built.anchors["split"], strict=True))
    should = set()
    for (patient, visit, time), row in expected.items():
        window = timedelta(minutes=TRAIN_WINDOW if split_of.get(patient) == "train" else EVAL_WINDOW)
        if any(abs(start - time) <= window for start in starts[patient]) and any(x != -1 for x in row):
            should.add((patient, visit, time))
    assert set(_anchor_key(built.anchors)) == should


def test_build_splits_are_by_patient(built: TaskData) -> None:
    per_patient = built.anchors.groupby("patient_id")["split"].nunique()
    assert (per_patient == 1).all()
    assert set(built.anchors["split"]) == {"train", "val", "test"}
    kept = built.targets[built.targets["kept"]]
    for split in ("val", "test"):
        rows = (built.anchors["split"] == split).to_numpy()
        assert ((built.labels[rows] == 1).sum(axis=0) >= 2).all()
        assert ((built.labels[rows] == 0).sum(axis=0) >= 2).all()
        np.testing.assert_array_equal(kept[f"positives_{split}"], (built.labels[rows] == 1).sum(axis=0))


def test_build_inputs_are_every_segment_within_each_splits_window(built: TaskData, synth: Cohort) -> None:
    anchors = built.anchors
    expected = set()
    for split, window in (("train", TRAIN_WINDOW), ("val", EVAL_WINDOW), ("test", EVAL_WINDOW)):
        mine = anchors[anchors["split"] == split]
        expected |= bf_segments_in_windows(synth.segments, mine, window)
    got = set(zip(built.inputs["anchor_id"], built.inputs["segment_id"], built.inputs["dt_s"], strict=True))
    assert len(got) == len(built.inputs)
    assert got == expected
    split = built.inputs["anchor_id"].map(dict(zip(anchors["anchor_id"], anchors["split"], strict=True)))
    dt = built.inputs["dt_s"].abs()
    assert (dt[split != "train"] <= EVAL_WINDOW * 60).all()
    assert (dt[split == "train"] <= TRAIN_WINDOW * 60).all()
    assert (dt[split == "train"] > EVAL_WINDOW * 60).any()  # the two windows differ in this cohort
    assert set(built.inputs["anchor_id"]) == set(anchors["anchor_id"])


def test_build_eval_inputs_are_capped_seeded_and_reproducible(built: TaskData) -> None:
    chosen = built.eval_inputs("test")
    pd.testing.assert_frame_equal(chosen, built.eval_inputs("test"))
    test_ids = set(built.anchors.loc[built.anchors["split"] == "test", "anchor_id"])
    assert set(chosen["anchor_id"]) == test_ids
    available = built.inputs[built.inputs["anchor_id"].isin(test_ids)].groupby("anchor_id").size()
    counts = chosen.groupby("anchor_id").size()
    pd.testing.assert_series_equal(counts, available.clip(upper=MAX_SEGMENTS), check_names=False)
    assert (available > MAX_SEGMENTS).any()  # the cap bites
    assert not chosen.duplicated(["anchor_id", "segment_id"]).any()
    merged = chosen.merge(built.inputs, on=["anchor_id", "segment_id"], suffixes=("", "_all"))
    assert len(merged) == len(chosen) and (merged["dt_s"] == merged["dt_s_all"]).all()
    reseeded = replace(built, spec=replace(built.spec, eval=replace(built.spec.eval, seed=1)))
    assert not reseeded.eval_inputs("test").equals(chosen)


def test_build_save_load_round_trip(built: TaskData, tmp_path: Path) -> None:
    loaded = TaskData.load(built.save(tmp_path / "task"))
    assert loaded.spec == built.spec
    assert (loaded.cohort_name, loaded.cohort_hash) == (built.cohort_name, built.cohort_hash)
    pd.testing.assert_frame_equal(loaded.anchors, built.anchors)
    pd.testing.assert_frame_equal(loaded.targets, built.targets)
    pd.testing.assert_frame_equal(loaded.inputs, built.inputs)
    np.testing.assert_array_equal(loaded.labels, built.labels)
    assert loaded.labels.dtype == built.labels.dtype
    assert loaded.tabular is None and built.tabular is None
    assert loaded.report.to_dict() == built.report.to_dict()
    assert loaded.notes == built.notes
    pd.testing.assert_frame_equal(loaded.label_table(), built.label_table())
    pd.testing.assert_frame_equal(loaded.eval_inputs("test"), built.eval_inputs("test"))


def test_tz_aware_times_are_compared_as_instants() -> None:
    labs = labs_frame([("A", None, at(0), "K", 6.0), ("B", None, at(0), "K", 3.0)])
    labs["time"] = labs["time"].dt.tz_localize("America/Los_Angeles")  # 2283-05-01 19:00 UTC (PDT)
    ecgs = ecgs_frame([("A", at(7 * 60 + 30)), ("B", at(-30))])
    ecgs["start_time"] = ecgs["start_time"].dt.tz_localize("UTC")
    assert L.closest_labels(labs, ecgs, K, 30).tolist() == [[0, 1], [-1, -1]]
    assert bf_closest_labels(labs, ecgs, K, 30).tolist() == [[0, 1], [-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 30).tolist() == [[-1, -1], [-1, -1]]
    assert bf_forecast_labels(labs, ecgs, K, 30).tolist() == [[-1, -1], [-1, -1]]

"""MIMIC-IV hosp readers on the real MIMIC-IV Clinical Database Demo v2.2 (100 patients).

Every expected count is computed here a different way from the reader (pandas' own type inference and a
Python ``float()`` per value instead of the reader's regexes), and also pinned as a number so that a change
in either shows up.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from locations import SHARED_DATA

from ecglab.cohort.errors import CohortError
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.mimic_tables import (
    read_mimic_labs,
    read_mimic_omr,
    read_mimic_patients,
    read_mimic_visits,
)
from ecglab.cohort.readers.units import CONVERTED, MIXED, OTHER_UNIT
from ecglab.cohort.schema import validate_table

HOSP = SHARED_DATA / "mimic-iv-demo" / "hosp"
STAGE = "mimic labevents"
pytestmark = pytest.mark.skipif(
    not (HOSP / "labevents.csv.gz").is_file(),
    reason=f"MIMIC-IV demo not found at {HOSP} (the open demo lives in shared/data/mimic-iv-demo)",
)

LAB_ROWS = 107_727
LABS_KEPT = 95_136
UNIT_DROPPED = 3  # D-Dimer (50915): 3 rows in ng/mL FEU, 4 in ng/mL, no exact factor between them
NON_NUMERIC = 12_469
DUPLICATES = 119
CONFLICTING = 561
NO_HADM_KEPT = 23_256  # 2 of the 3 D-Dimer rows dropped for their unit had no hadm_id


def _parse_text(text: object) -> tuple[float | None, str]:
    """The lab-value policy, the slow way: strip a comparison, then Python's float()."""
    if not isinstance(text, str):
        return None, ""
    body, op = text.strip(), ""
    for prefix in ("<=", ">=", "<", ">"):
        if body.startswith(prefix):
            body, op = body[len(prefix) :].strip(), prefix[0]
            break
    if "_" in body:  # float() takes "1_000"; the policy does not
        return None, ""
    try:
        value = float(body)
    except ValueError:
        return None, ""
    return (value, op) if math.isfinite(value) else (None, "")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """labevents as pandas infers it, with the expected value, censoring and fate of every row."""
    frame = pd.read_csv(HOSP / "labevents.csv.gz")
    parsed = [_parse_text(t) for t in frame["value"]]
    text_value = pd.Series([p[0] for p in parsed], index=frame.index, dtype="float64")
    frame["expected_value"] = frame["valuenum"].where(frame["valuenum"].notna(), text_value)
    frame["expected_censored"] = [p[1] for p in parsed]
    frame["unit"] = frame["valueuom"].fillna("")
    numeric = frame["expected_value"].notna()
    key = ["subject_id", "itemid", "charttime", "expected_value", "expected_censored", "unit"]
    frame["duplicate"] = numeric & frame[numeric].duplicated(key).reindex(frame.index, fill_value=False)
    frame["other_unit"] = numeric & (frame["itemid"] == 50915) & (frame["unit"] == "ng/mL FEU")
    frame["kept"] = numeric & ~frame["duplicate"] & ~frame["other_unit"]
    return frame


@pytest.fixture(scope="module")
def read() -> tuple[pd.DataFrame, QualityReport]:
    quality = QualityReport()
    return read_mimic_labs(HOSP, quality), quality


def test_row_counts_match_an_independent_count(raw: pd.DataFrame, read: tuple[Any, QualityReport]) -> None:
    labs, quality = read
    assert len(raw) == LAB_ROWS
    assert (
        int((~raw["expected_value"].notna()).sum())
        == NON_NUMERIC
        == quality.count(STAGE, "non-numeric value")
    )
    assert int(raw["duplicate"].sum()) == DUPLICATES == quality.count(STAGE, "duplicate row")
    assert int(raw["kept"].sum()) == LABS_KEPT == len(labs)
    row_drops = sum(e["count"] for e in quality.to_dict()["dropped"] if "row kept" not in e["reason"])
    assert len(labs) + row_drops == LAB_ROWS
    assert int(raw["other_unit"].sum()) == UNIT_DROPPED == quality.count(STAGE, OTHER_UNIT)
    assert {e["reason"] for e in quality.to_dict()["dropped"]} == {
        "non-numeric value",
        "duplicate row",
        OTHER_UNIT,
    }


def test_each_lab_is_in_one_unit(raw: pd.DataFrame, read: tuple[Any, QualityReport]) -> None:
    labs, quality = read
    units = labs[labs["unit"].str.strip() != ""].groupby("lab")["unit"].nunique()
    assert (units == 1).all()
    assert set(labs.loc[labs["lab"] == "51249", "unit"]) == {"g/dL"}  # MCHC's "%" rows: the same unit
    mchc = raw[raw["kept"] & (raw["itemid"] == 51249)]
    np.testing.assert_array_equal(labs.loc[labs["lab"] == "51249", "value"], mchc["expected_value"])
    notes = {n["reason"]: n for n in quality.to_dict()["notes"]}
    assert (
        notes[CONVERTED]["count"]
        == int((raw["kept"] & (raw["itemid"] == 51249) & (raw["unit"] == "%")).sum()) + 6
    )
    assert notes[MIXED]["count"] == 4 and any(
        "50915 (D-Dimer): kept 'ng/mL'" in e for e in notes[MIXED]["examples"]
    )


def test_rows_kept_are_the_expected_ones(raw: pd.DataFrame, read: tuple[Any, QualityReport]) -> None:
    labs, _ = read
    kept = raw[raw["kept"]]
    assert labs["source_row"].tolist() == (kept.index + 1).tolist()
    np.testing.assert_array_equal(labs["value"].to_numpy(), kept["expected_value"].to_numpy())
    assert labs["censored"].tolist() == kept["expected_censored"].tolist()
    assert labs["censored"].value_counts().to_dict() == {"": LABS_KEPT - 12, ">": 11, "<": 1}


def test_rows_without_hadm_id_are_kept(raw: pd.DataFrame, read: tuple[Any, QualityReport]) -> None:
    labs, _ = read
    assert int(raw.loc[raw["kept"], "hadm_id"].isna().sum()) == NO_HADM_KEPT
    assert int(labs["visit_id"].isna().sum()) == NO_HADM_KEPT
    with_visit = labs["visit_id"].dropna()
    assert with_visit.str.fullmatch(r"\d+").all()  # "29600294", never "29600294.0"


def test_conflicting_values_are_kept_and_noted(raw: pd.DataFrame, read: tuple[Any, QualityReport]) -> None:
    labs, quality = read
    kept = raw[raw["kept"]]
    assert int(kept.duplicated(["subject_id", "itemid", "charttime"], keep=False).sum()) == CONFLICTING
    notes = {(n["stage"], n["reason"]): n["count"] for n in quality.to_dict()["notes"]}
    assert (
        notes[STAGE, "rows sharing (patient_id, lab, time) with different values (all kept)"] == CONFLICTING
    )
    both = labs[(labs["patient_id"] == "10000032") & (labs["lab"] == "50971")]
    both = both[both["time"] == pd.Timestamp("2180-06-03 12:00:00")]
    assert sorted(both["value"]) == [3.3, 3.4]


def test_known_rows(read: tuple[Any, QualityReport]) -> None:
    labs, _ = read
    row = labs.set_index("source_row").loc[22]  # labevent_id 172088
    assert (row["patient_id"], row["visit_id"], row["lab"]) == ("10014354", "29600294", "50971")
    assert (row["lab_name"], row["fluid"], row["category"]) == ("Potassium", "Blood", "Chemistry")
    assert row["time"] == pd.Timestamp("2148-08-16 00:00:00")
    assert row["result_time"] == pd.Timestamp("2148-08-16 01:47:00")
    assert (row["value"], row["unit"], row["ref_low"], row["ref_high"]) == (5.2, "mEq/L", 3.3, 5.1)
    assert (row["source_flag"], row["priority"], row["censored"]) == ("abnormal", "ROUTINE", "")
    later = labs.set_index("source_row").loc[753]  # value "___", valuenum 3.8, no hadm_id, the newer range
    assert (
        pd.isna(later["visit_id"])
        and later["value"] == 3.8
        and (later["ref_low"], later["ref_high"]) == (3.5, 5.4)
    )
    censored = labs[(labs["patient_id"] == "10003400") & (labs["lab"] == "51498")]
    censored = censored[censored["censored"] != ""]
    assert censored[["value", "censored"]].values.tolist() == [[1.035, ">"]]  # value ">=1.035"


def test_times_are_naive_microseconds(read: tuple[Any, QualityReport]) -> None:
    labs, _ = read
    for column in ("time", "result_time"):
        assert str(labs[column].dtype) == "datetime64[us]"
    assert int(labs["result_time"].isna().sum()) == 6  # storetime missing: kept
    validate_table("labs", labs, where="test")


def test_chunked_reading_gives_the_same_frame(read: tuple[Any, QualityReport]) -> None:
    labs, quality = read
    chunked_quality = QualityReport()
    chunked = read_mimic_labs(HOSP, chunked_quality, chunk_rows=7_000)
    pd.testing.assert_frame_equal(chunked, labs)
    assert chunked_quality.to_dict() == quality.to_dict()


def test_subject_and_itemid_filters(read: tuple[Any, QualityReport]) -> None:
    labs, _ = read
    subjects, itemids = [10000032, "10014354"], [50971, 50822, 50912]
    some = read_mimic_labs(HOSP, QualityReport(), subjects=subjects, itemids=itemids, chunk_rows=20_000)
    wanted = labs[
        labs["patient_id"].isin(["10000032", "10014354"]) & labs["lab"].isin(["50971", "50822", "50912"])
    ]
    pd.testing.assert_frame_equal(some, wanted.reset_index(drop=True))
    assert set(some["patient_id"]) == {"10000032", "10014354"} and len(some) > 50


def test_patients_visits_and_omr() -> None:
    quality = QualityReport()
    patients = read_mimic_patients(HOSP, quality)
    visits = read_mimic_visits(HOSP, quality)
    vitals = read_mimic_omr(HOSP, quality)
    assert quality.to_dict()["dropped"] == []
    raw_patients = pd.read_csv(HOSP / "patients.csv.gz")
    raw_admissions = pd.read_csv(HOSP / "admissions.csv.gz")
    raw_omr = pd.read_csv(HOSP / "omr.csv.gz")

    assert len(patients) == len(raw_patients) == 100
    assert patients["sex"].value_counts().to_dict() == raw_patients["gender"].value_counts().to_dict()
    assert int(patients["dod"].notna().sum()) == int(raw_patients["dod"].notna().sum()) == 31
    assert patients.set_index("patient_id").loc["10014729", "anchor_age"] == 21

    assert len(visits) == len(raw_admissions) == 275
    from_ed = int(raw_admissions["edregtime"].notna().sum())
    assert visits["arrival_source"].value_counts().to_dict() == {
        "edregtime": from_ed,
        "admittime": 275 - from_ed,
    }
    first = visits.set_index("visit_id").loc["24181354"]
    assert first["arrival_time"] == pd.Timestamp("2196-02-24 12:15:00") < first["admittime"]
    assert str(visits["arrival_time"].dtype) == "datetime64[us]"

    is_bp = raw_omr["result_name"].str.startswith("Blood Pressure")
    assert len(vitals) == int((~is_bp).sum()) + 2 * int(is_bp.sum()) == 3836
    assert set(vitals["measure"]) == {"SBP", "DBP", "Weight", "Height", "BMI"}
    assert vitals["visit_id"].isna().all() and (vitals["source"] == "omr").all()
    assert (vitals["time"] == vitals["time"].dt.normalize()).all()
    bp = vitals[(vitals["source_row"] == int(is_bp.idxmax()) + 1)]
    systolic, diastolic = (float(v) for v in raw_omr.loc[is_bp.idxmax(), "result_value"].split("/"))
    assert bp.set_index("measure")["value"].to_dict() == {"SBP": systolic, "DBP": diastolic}
    for name, frame in (("patients", patients), ("visits", visits), ("vitals", vitals)):
        validate_table(name, frame, where="test")


def test_subject_filter_of_small_tables() -> None:
    quality = QualityReport()
    assert read_mimic_patients(HOSP, quality, subjects=[10014729])["patient_id"].tolist() == ["10014729"]
    assert set(read_mimic_visits(HOSP, quality, subjects=["10004235"])["patient_id"]) == {"10004235"}
    assert set(read_mimic_omr(HOSP, quality, subjects=[10011398])["patient_id"]) == {"10011398"}


def test_missing_table_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CohortError, match=r"labevents\.csv\.gz.*hosp/ folder"):
        read_mimic_labs(tmp_path, QualityReport())
    with pytest.raises(CohortError, match=r"found .*hosp.*point at"):
        read_mimic_patients(HOSP.parent, QualityReport())

"""``ecglab cohort meds`` on a MEDS dataset written from the real MIMIC-IV demo (tests/meds_fixture.py): the
lab rows equal the MIMIC-IV reader's, sex, age and the MEDS split reach the store; a mapping file, text values
and the one-line errors on tiny hand-made MEDS data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from meds_fixture import SCHEMA, MedsDemo, build_meds_demo
from service_checks import cli, one_line_error
from wfdb_fixtures import require_shared_data

from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.meds import build_meds_cohort
from ecglab.cohort.readers.mimic_tables import STAGE_LABS, read_mimic_labs, read_mimic_patients
from ecglab.cohort.store import open_cohort
from ecglab.tasks.subgroups import age_at_anchor

KEY = ["patient_id", "lab", "time", "value", "censored", "unit"]
SUBJECT = 10000032


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> MedsDemo:
    require_shared_data()
    return build_meds_demo(tmp_path_factory.mktemp("meds-demo"))


@pytest.fixture(scope="module")
def mimic_labs(demo: MedsDemo) -> tuple[pd.DataFrame, QualityReport]:
    quality = QualityReport()
    hosp = require_shared_data() / "mimic-iv-demo" / "hosp"
    return read_mimic_labs(hosp, quality, subjects=set(demo.listed["subject_id"])), quality


def test_lab_rows_equal_the_mimic_readers_for_the_same_subjects(demo: MedsDemo, mimic_labs: tuple) -> None:
    cohort = open_cohort(demo.store)
    assert cohort.lab_coding == "mimic-iv" and cohort.extra["meds"]["subjects"] == 92
    mine = cohort.labs[KEY].sort_values(KEY).reset_index(drop=True)
    theirs = mimic_labs[0][KEY].sort_values(KEY).reset_index(drop=True)
    assert len(mine) > 90_000
    pd.testing.assert_frame_equal(
        mine, theirs, check_exact=True
    )  # float32 MEDS values read back to MIMIC's float64 exactly
    assert (cohort.labs["censored"] != "").sum() > 0  # censored values, from text_value
    assert cohort.labs["ref_low"].isna().all()  # the documented difference: MEDS has no reference ranges
    assert cohort.labs["meds_code"].str.startswith("LAB//").all()


def test_dropped_lab_rows_are_counted_as_the_mimic_reader_counts_them(
    demo: MedsDemo, mimic_labs: tuple
) -> None:
    mine, theirs = open_cohort(demo.store).quality, mimic_labs[1]
    for reason in (
        "non-numeric value",
        "duplicate row",
        "unit other than the lab's main unit, no known factor",
    ):
        assert mine.count("meds labs", reason) == theirs.count(STAGE_LABS, reason), reason
    assert mine.count("meds labs", "non-numeric value") > 1000  # "___" and other text without valuenum
    notes = {n["reason"]: n["count"] for n in mine.to_dict()["notes"]}
    prefix = "events not read (neither lab nor demographic): code prefix "
    assert notes[prefix + "HOSPITAL_ADMISSION"] == notes[prefix + "HOSPITAL_DISCHARGE"] > 100


def test_sex_age_and_the_meds_split_reach_patients_and_visits(demo: MedsDemo) -> None:
    cohort = open_cohort(demo.store)
    hosp = require_shared_data() / "mimic-iv-demo" / "hosp"
    mimic = read_mimic_patients(hosp, QualityReport(), subjects=set(demo.listed["subject_id"]))
    mimic = mimic.set_index("patient_id").loc[cohort.patients["patient_id"]].reset_index()
    assert list(cohort.patients["sex"]) == list(mimic["sex"]) and set(mimic["sex"]) == {"F", "M"}
    anchors = cohort.segments[["patient_id", "visit_id", "start_time"]].rename(columns={"start_time": "time"})
    got = age_at_anchor(anchors, cohort.patients, cohort.visits)
    want = age_at_anchor(anchors, mimic, pd.DataFrame({"visit_id": pd.Series(dtype=object)}))
    np.testing.assert_array_equal(got, want)  # MIMIC-IV's anchor_age + years since anchor_year
    assert np.isfinite(got).all() and got.min() >= 18
    splits = pd.read_parquet(demo.meds / "metadata" / "subject_splits.parquet").set_index("subject_id")[
        "split"
    ]
    named = splits.loc[cohort.patients["patient_id"].astype(np.int64)].map(
        {"train": "train", "tuning": "val", "held_out": "test"}
    )
    assert set(named) == {"train", "val", "test"}
    assert list(cohort.patients["split_meds"]) == list(named)
    visits = cohort.visits.set_index("patient_id")
    assert (
        visits.loc[cohort.segments["patient_id"], "visit_id"].to_numpy() == cohort.segments["visit_id"]
    ).all()
    assert list(visits["split_meds"]) == list(named)
    assert (cohort.labs["visit_id"] == "subject-" + cohort.labs["patient_id"]).all()
    first_lab = cohort.labs.groupby("patient_id")["time"].min().reindex(visits.index)
    assert (visits["arrival_time"] <= first_lab).all() and (
        visits["arrival_time"] < first_lab
    ).any()  # admissions
    assert (visits["arrival_time"].to_numpy() > cohort.patients["birth_time"].to_numpy()).all()


# ====================================================================== tiny hand-made MEDS data
def _write_meds(root: Path, events: list[tuple], schema: pa.Schema = SCHEMA) -> Path:
    frame = pd.DataFrame(events, columns=["subject_id", "time", "code", "numeric_value", "text_value"])
    frame["time"] = pd.to_datetime(frame["time"], format="ISO8601").astype("datetime64[us]")
    (root / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(frame, schema=schema, preserve_index=False), root / "data" / "0.parquet"
    )
    return root


def _records(demo: MedsDemo, path: Path, subject: str = str(SUBJECT), **extra: str) -> Path:
    row = demo.listed[demo.listed["subject_id"] == str(SUBJECT)].iloc[0]
    pd.DataFrame(
        [{"record": row["path"], "patient_id": subject, "start_time": row["ecg_time"], **extra}]
    ).to_csv(path, index=False)
    return path


TINY = [
    (SUBJECT, None, "GENDER//M", None, None),
    (SUBJECT, "2100-01-01", "MEDS_BIRTH", None, None),
    (SUBJECT, "2180-07-23 08:00:00", "LAB//50971//mEq/L", 4.1, "4.1"),
    (SUBJECT, "2180-07-23 08:00:00", "LAB//50912//mg/dL", None, "<0.5"),
    (SUBJECT, "2180-07-23 09:00:00", "LAB//50912//mg/dL", None, "___"),
    (SUBJECT, "2180-07-23 09:00:00", "LAB//50971//UNK", 3.9, None),
    (SUBJECT, "2180-07-23 08:00:00", "LOINC//2823-3//mmol/L", 5.2, None),
    (SUBJECT, "2180-07-23 08:00:00", "LOINC//2823-30//mmol/L", 7.0, None),
    (SUBJECT, "2180-07-23 08:00:00", "DIAGNOSIS//ICD10//I10", None, None),
]


def test_text_values_parse_as_the_mimic_reader_parses_them(demo: MedsDemo, tmp_path: Path) -> None:
    meds = _write_meds(tmp_path / "meds", TINY)
    store = build_meds_cohort(
        meds, _records(demo, tmp_path / "r.csv"), demo.ecg, tmp_path / "s", progress=False
    )
    cohort = open_cohort(store)
    labs = cohort.labs.set_index(["lab", "time"]).sort_index()
    assert sorted(cohort.labs["lab"]) == ["50912", "50971", "50971"]  # LOINC codes are not labs unmapped
    creatinine = labs.loc[("50912", pd.Timestamp("2180-07-23 08:00:00"))]
    assert (creatinine["value"], creatinine["censored"], creatinine["unit"]) == (0.5, "<", "mg/dL")
    assert labs.loc[("50971", pd.Timestamp("2180-07-23 09:00:00")), "unit"] == ""  # UNK: no unit
    assert labs.loc[("50971", pd.Timestamp("2180-07-23 08:00:00")), "value"] == 4.1
    assert cohort.quality.count("meds labs", "non-numeric value") == 1  # "___"
    assert cohort.lab_coding == "mimic-iv" and list(cohort.patients["sex"]) == ["M"]
    assert "split_meds" not in cohort.patients  # no subject_splits.parquet: no split column


def test_a_mapping_file_names_labs_by_code_or_prefix_at_a_boundary(demo: MedsDemo, tmp_path: Path) -> None:
    meds = _write_meds(tmp_path / "meds", TINY)
    mapping = tmp_path / "codes.csv"
    mapping.write_text("code,lab,unit\nLOINC//2823-3,POTASSIUM,\nLAB//50912,CREATININE,mg/dL\n")
    (meds / "metadata").mkdir()
    splits = pd.DataFrame({"subject_id": [SUBJECT], "split": ["pretrain"]})
    splits.to_parquet(meds / "metadata" / "subject_splits.parquet")
    store = build_meds_cohort(
        meds, _records(demo, tmp_path / "r.csv"), demo.ecg, tmp_path / "s", codes=mapping, progress=False
    )
    cohort = open_cohort(store)
    assert sorted(cohort.labs["lab"]) == ["50971", "50971", "CREATININE", "POTASSIUM"]
    potassium = cohort.labs[cohort.labs["lab"] == "POTASSIUM"].iloc[0]
    assert (potassium["value"], potassium["unit"]) == (5.2, "mmol/L")  # unit: the code's last part
    assert cohort.lab_coding == "mcmed"  # labs named by the mapping
    assert (
        list(cohort.patients["split_meds"]) == list(cohort.visits["split_meds"]) == ["pretrain"]
    )  # as it is
    notes = {n["reason"]: n["count"] for n in cohort.quality.to_dict()["notes"]}
    assert notes["events not read (neither lab nor demographic): code prefix LOINC"] == 1  # 2823-30
    assert notes["events not read (neither lab nor demographic): code prefix DIAGNOSIS"] == 1


def _bad_case(case: str, demo: MedsDemo, root: Path) -> list[str]:
    """Arguments of `ecglab cohort meds` for one bad input, and the words its error must name."""
    meds, records, extra = root / "meds", _records(demo, root / "r.csv"), []
    if case == "no data folder":
        meds.mkdir()
    elif case == "no parquet files":
        (meds / "data" / "train").mkdir(parents=True)
    elif case == "missing column":
        schema = pa.schema([f for f in SCHEMA if f.name != "numeric_value"])
        _write_meds(meds, [], schema)
    elif case == "wrong type":
        _write_meds(meds, [], pa.schema([("subject_id", pa.string()), *list(SCHEMA)[1:]]))
    elif case == "time zone":
        _write_meds(
            meds, [], pa.schema([SCHEMA[0], ("time", pa.timestamp("us", tz="UTC")), *list(SCHEMA)[2:]])
        )
    else:
        _write_meds(meds, TINY)
    if case == "subject absent":
        records = _records(demo, root / "r2.csv", subject="12345")
    elif case == "patient_id not an integer":
        records = _records(demo, root / "r2.csv", subject="p-1")
    elif case == "visit_id given":
        records = _records(demo, root / "r2.csv", visit_id="v1")
    elif case == "unreadable mapping":
        (root / "codes.csv").write_bytes(b"code,lab\nLAB//1,\xff\xfe\n")
        extra = ["--codes", root / "codes.csv"]
    elif case == "mapping without lab":
        (root / "codes.csv").write_text("code,unit\nLAB//1,mg/dL\n")
        extra = ["--codes", root / "codes.csv"]
    return [
        "cohort",
        "meds",
        "--meds",
        meds,
        "--records",
        records,
        "--wfdb",
        demo.ecg,
        "--out",
        root / "s",
        *extra,
    ]


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("no data folder", "not found: point --meds at a MEDS dataset"),
        ("no parquet files", "no .parquet files"),
        ("missing column", "numeric_value"),
        ("wrong type", "subject_id should be integer"),
        ("time zone", "time zone"),
        ("subject absent", "12345"),
        ("patient_id not an integer", "p-1"),
        ("visit_id given", "visit_id"),
        ("unreadable mapping", "UTF-8"),
        ("mapping without lab", "required column(s) lab missing"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    demo: MedsDemo, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, words: str
) -> None:
    status, _, err = cli(capsys, *_bad_case(case, demo, tmp_path))
    assert words in one_line_error(status, err)
    assert not (tmp_path / "s" / "cohort.json").exists()

"""``ecglab tasks export-labels --format meds`` round trip on the MIMIC-IV demo written as MEDS
(tests/meds_fixture.py): every exported label equals the closest lab value's side of the threshold recomputed
from the MEDS input rows, unmeasured labels have no row, the MEDS split is kept, and the files have the MEDS
label schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from meds_fixture import MedsDemo, build_meds_demo
from service_checks import cli, one_line_error
from wfdb_fixtures import require_shared_data

from ecglab.cohort.store import open_cohort
from ecglab.tasks.errors import TaskError
from ecglab.tasks.meds_labels import LABEL_SCHEMA, subject_ids
from ecglab.tasks.registry import get_task

TASK = "meds_export_closest"
BLOOD_TASK = "meds_export_blood_test"
WINDOW_MIN = 360
SPEC = f"""defaults:
  version: "1"
  input: {{leads: [II], fs: 100, seconds: 5}}
  eval: {{max_segments: null, crops: 1}}
  panel: {{kind: anyecg_lab, min_positives: 1, min_negatives: 1, min_positive_patients: 1,
    min_negative_patients: 1}}
  split: {{kind: source, column: split_meds}}
tasks:
  - name: {TASK}
    kind: closest_estimation
    window_min: {WINDOW_MIN}
  - name: {BLOOD_TASK}
    kind: window_estimation
    window_min: 60
"""
MEDS_SPLITS = {"train": "train", "tuning": "val", "held_out": "test"}
MEDS_NAMES = {"train": "train", "val": "tuning", "test": "held_out"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[MedsDemo, Path, dict]:
    """The demo store, its export folder for TASK and the export's labels.json."""
    require_shared_data()
    root = tmp_path_factory.mktemp("meds-export")
    demo = build_meds_demo(root)
    (root / "spec.yaml").write_text(SPEC)
    argv = [
        "tasks",
        "export-labels",
        TASK,
        "--cohort",
        demo.store,
        "--format",
        "meds",
        "--out",
        root / "labels",
        "--cache",
        root / "tasks",
    ]
    from ecglab.bench.cli import main

    assert main([str(a) for a in [*argv, "--spec", root / "spec.yaml"]]) == 0
    argv[2] = BLOOD_TASK
    assert main([str(a) for a in [*argv, "--spec", root / "spec.yaml"]]) == 0
    folder = root / "labels" / TASK
    return demo, folder, json.loads((folder / "labels.json").read_text())


def float_or_nan(text: str) -> float:
    """A value text's number (NaN for text that is none: that event has no value and is left out)."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


@pytest.fixture(scope="module")
def lab_events(exported: tuple) -> pd.DataFrame:
    """The MEDS lab events as plain rows: subject, time, itemid, unit, value (float32 read by its shortest
    decimal), censored (a text value behind < or >); events with no value left out."""
    events = pd.read_parquet(exported[0].meds / "data")
    labs = events[events["code"].str.startswith("LAB//")].copy()
    parts = labs["code"].str.split("//", expand=True)
    text = labs["text_value"].fillna("")
    number = labs["numeric_value"].to_numpy(np.float32).astype(str).astype(np.float64)
    parsed = text.str.lstrip("<>=").map(float_or_nan).to_numpy(np.float64)  # the test's own reading
    value = np.where(np.isnan(number), parsed, number)
    rows = pd.DataFrame(
        {
            "subject_id": labs["subject_id"].to_numpy(),
            "time": labs["time"].to_numpy(),
            "itemid": parts[1].to_numpy(),
            "unit": parts[2].to_numpy(),
            "value": value,
            "censored": text.str.match(r"\s*[<>]").to_numpy(),
        }
    )
    return rows[~np.isnan(rows["value"].to_numpy())]


def test_files_have_the_meds_label_schema_and_labels_json_says_what_they_mean(exported: tuple) -> None:
    demo, folder, meta = exported
    cohort = open_cohort(demo.store)
    assert meta["cohort"]["content_hash"] == cohort.content_hash
    assert meta["spec_digest"] == get_task(TASK).digest() and meta["window_min"] == WINDOW_MIN
    assert (
        meta["inputs_end_min_before_prediction_time"] == WINDOW_MIN
    )  # the closest value may precede the ECG
    assert meta["split"] == {"kind": "source", "column": "split_meds", "names": MEDS_NAMES}
    assert len(meta["targets"]) > 10
    potassium = next(t for t in meta["targets"] if t["target"] == "potassium_high")
    assert (potassium["lab_codes"], potassium["direction"], potassium["threshold"]) == (
        ["50971"],
        "high",
        5.0,
    )
    for target in meta["targets"]:
        for split in MEDS_SPLITS:
            table = pq.read_table(folder / target["target"] / split / "0.parquet")
            assert table.schema.equals(LABEL_SCHEMA)
            assert table.num_rows == target["splits"][split]["rows"]
            for column in ("integer_value", "float_value", "categorical_value"):
                assert table[column].null_count == table.num_rows
    assert not list(folder.parent.glob(".*"))  # no staging folder or temporary file left


def _deciding(rows: pd.DataFrame, labs: pd.DataFrame) -> pd.DataFrame:
    """Per exported row (subject_id, prediction_time, boolean_value): the MEDS values closest in time within
    the window (all of them when equally close), one row each."""
    pairs = rows.reset_index(drop=True).reset_index(names="row").merge(labs, on="subject_id")
    pairs["gap"] = (pairs["time"] - pairs["prediction_time"]).abs()
    pairs = pairs[pairs["gap"] <= pd.Timedelta(minutes=WINDOW_MIN)]
    return pairs[pairs["gap"] == pairs.groupby("row")["gap"].transform("min")]


def test_every_label_equals_the_closest_meds_value_against_the_threshold(
    exported: tuple, lab_events: pd.DataFrame
) -> None:
    demo, folder, meta = exported
    labs = lab_events
    splits = open_cohort(demo.store).patients.set_index("patient_id")["split_meds"]
    checked = 0
    for target in meta["targets"]:
        mine = labs[labs["itemid"].isin(target["lab_codes"])]
        if mine.loc[mine["unit"] != "UNK", "unit"].nunique() != 1:
            continue  # a lab in several units: the store converts some rows, the raw values differ
        for split in MEDS_SPLITS:
            rows = pd.read_parquet(folder / target["target"] / split / "0.parquet")
            assert (splits.loc[rows["subject_id"].astype(str)] == MEDS_SPLITS[split]).all()
            deciding = _deciding(rows, mine)
            assert set(deciding["row"]) == set(range(len(rows)))  # a label only where a value was measured
            plain = ~deciding.groupby("row")["censored"].transform("any") & (deciding["value"] >= 0)
            deciding = deciding[plain.to_numpy()]
            if target["direction"] == "high":
                abnormal = deciding["value"] > target["threshold"]
            else:
                abnormal = deciding["value"] < target["threshold"]
            wrong = deciding[(abnormal != deciding["boolean_value"]).to_numpy()]
            assert wrong.empty, (target["target"], wrong.head())
            checked += deciding["row"].nunique()
    assert checked > 1000


def test_unmeasured_labels_have_no_row_and_rows_are_ecg_times(
    exported: tuple, lab_events: pd.DataFrame
) -> None:
    demo, folder, meta = exported
    labs = lab_events
    segments = open_cohort(demo.store).segments
    ecgs = set(zip(segments["patient_id"].astype(np.int64), segments["start_time"], strict=True))
    width = pd.Timedelta(minutes=WINDOW_MIN)
    potassium = labs[labs["itemid"] == "50971"]
    rows = pd.concat(
        [pd.read_parquet(folder / "potassium_high" / split / "0.parquet") for split in MEDS_SPLITS]
    )
    written = set(zip(rows["subject_id"], rows["prediction_time"], strict=True))
    assert written <= ecgs and rows["subject_id"].dtype == np.int64
    unmeasured = {
        (subject, time)
        for subject, time in ecgs
        if not ((potassium["subject_id"] == subject) & ((potassium["time"] - time).abs() <= width)).any()
    }
    assert len(unmeasured) > 20 and not (unmeasured & written)
    target = next(t for t in meta["targets"] if t["target"] == "potassium_high")
    assert len(rows) == len(written) == sum(c["rows"] for c in target["splits"].values())


def test_subject_ids_must_be_integers() -> None:
    np.testing.assert_array_equal(subject_ids(pd.Series(["10000032", " 7"]), "t"), [10000032, 7])
    with pytest.raises(TaskError, match=r"must be an integer.*'P0001'"):
        subject_ids(pd.Series(["1", "P0001"]), "task t")


def test_an_earlier_export_is_replaced_only_with_overwrite(
    exported: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo, folder, _ = exported
    argv = [
        "tasks",
        "export-labels",
        TASK,
        "--cohort",
        demo.store,
        "--format",
        "meds",
        "--out",
        folder.parent,
        "--cache",
        folder.parent.parent / "tasks",  # the fixture's built task, loaded
    ]
    status, _, err = cli(capsys, *argv)
    assert "--overwrite" in one_line_error(status, err)
    before = pq.read_table(folder / "potassium_high" / "train" / "0.parquet")
    status, out, _ = cli(capsys, *argv, "--overwrite")
    assert status == 0 and "potassium_high" in out
    assert pq.read_table(folder / "potassium_high" / "train" / "0.parquet").equals(before)


def test_blood_test_labels_are_the_draws_own_values(exported: tuple, lab_events: pd.DataFrame) -> None:
    folder = exported[1].parent / BLOOD_TASK
    meta = json.loads((folder / "labels.json").read_text())
    assert meta["prediction_time"] == "the anchor's time: the blood draw"
    assert meta["inputs_end_min_before_prediction_time"] == 0
    checked = 0
    for target in meta["targets"]:
        mine = lab_events[lab_events["itemid"].isin(target["lab_codes"])]
        if mine.loc[mine["unit"] != "UNK", "unit"].nunique() != 1:
            continue
        for split in MEDS_SPLITS:
            rows = pd.read_parquet(folder / target["target"] / split / "0.parquet").reset_index(names="row")
            same = rows.merge(
                mine, left_on=["subject_id", "prediction_time"], right_on=["subject_id", "time"]
            )
            assert set(same["row"]) == set(rows["row"])  # every row is a draw of the target's lab
            same = same[~same.groupby("row")["censored"].transform("any") & (same["value"] >= 0)]
            sign = 1 if target["direction"] == "high" else -1
            abnormal = sign * (same["value"] - target["threshold"]) > 0
            assert (abnormal == same["boolean_value"]).all(), target["target"]
            checked += same["row"].nunique()
    assert checked > 100

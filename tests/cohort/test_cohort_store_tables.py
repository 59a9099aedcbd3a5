"""The cohort store's tables and cohort.json: tables round-trip with their dtypes (UTC times too), the
recordings and segments tables describe what was written, and cohort.json carries row counts, a content
hash that changes with any one value, and the quality report.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_fixtures import Written, changed_sample, default_recordings, default_tables, write_store

from ecglab.cohort.schema import TABLES
from ecglab.cohort.store import Cohort, open_cohort

# ===================================================================== tables


def test_labs_patients_and_visits_round_trip_with_their_dtypes(cohort: Cohort) -> None:
    for name, frame in default_tables().items():
        read = cohort.table(name)
        pd.testing.assert_frame_equal(read, frame)  # values and dtypes
    assert cohort.labs["time"].dtype == "datetime64[us]"
    assert cohort.labs["time"][1] == pd.Timestamp("2283-12-31 23:59:59.123456")
    assert cohort.visits["arrival_time"][0] == pd.Timestamp("2283-03-01 11:00")


def test_recordings_table_describes_each_recording(written: Written, cohort: Cohort) -> None:
    recordings = cohort.recordings
    assert recordings["recording_id"].tolist() == list(range(6))
    assert recordings["patient_id"].tolist() == [rec.patient_id for rec in written.recordings]
    assert recordings["visit_id"].isna().tolist() == [rec.visit_id is None for rec in written.recordings]
    assert recordings["start_time"].tolist() == [rec.start_time for rec in written.recordings]
    assert recordings["fs"].tolist() == [rec.fs for rec in written.recordings]
    assert recordings["leads"].tolist() == [",".join(rec.leads) for rec in written.recordings]
    assert recordings["length"].tolist() == [len(rec.digital) for rec in written.recordings]
    for row, rec in zip(recordings.itertuples(), written.recordings, strict=True):
        np.testing.assert_array_equal(row.gain, rec.gain)
        np.testing.assert_array_equal(row.baseline, rec.baseline)


def test_segments_start_at_recording_start_plus_offset_over_fs(written: Written, cohort: Cohort) -> None:
    segments = cohort.segments.set_index("segment_id")
    assert segments["start_time"].dtype == "datetime64[us]"
    for sid, seg in written.segments.items():
        row = segments.loc[sid]
        assert row["start_time"] == seg.rec.start_time + pd.Timedelta(seconds=seg.start / seg.rec.fs)
        assert (row["recording_id"], row["patient_id"], row["length"]) == (
            seg.recording_id,
            seg.rec.patient_id,
            seg.length,
        )
    # e.g. the third segment of the first recording starts 20 samples = 80 ms into it
    assert segments.loc[2, "start_time"] == pd.Timestamp("2283-03-01 12:00:00.080")


def test_tz_aware_utc_times_round_trip(tmp_path: Path) -> None:
    recordings = default_recordings(tz="UTC")
    tables = default_tables(tz="UTC")
    store = write_store(tmp_path / "cohort", recordings, tables=tables)
    cohort = open_cohort(store.path)
    assert cohort.meta["time_zone"] == "UTC"
    assert cohort.recordings["start_time"].tolist() == [rec.start_time for rec in recordings]
    segments = cohort.segments.set_index("segment_id")
    assert segments["start_time"].dtype == "datetime64[us, UTC]"
    for sid, seg in store.segments.items():
        assert segments.loc[sid, "start_time"] == seg.rec.start_time + pd.Timedelta(
            seconds=seg.start / seg.rec.fs
        )
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(cohort.table(name), frame)
    cohort.verify()


# ===================================================================== cohort.json


def test_cohort_json_counts_rows_and_keeps_what_it_was_given(written: Written, cohort: Cohort) -> None:
    counts = cohort.meta["row_counts"]
    assert counts == {"recordings": 6, "segments": 18, "labs": 4, "patients": 3, "visits": 3, "vitals": 0}
    assert counts == {name: len(cohort.table(name)) for name in TABLES}
    assert (cohort.name, cohort.source, cohort.meta["format_version"]) == ("tiny", "tests", 1)


def test_a_fresh_store_verifies(cohort: Cohort) -> None:
    cohort.verify()


def test_content_hash_is_stable_for_identical_content_and_changes_with_one_sample(tmp_path: Path) -> None:
    first = write_store(tmp_path / "a" / "cohort", name="first")
    again = write_store(tmp_path / "b" / "other-name", name="second")
    one_sample_off = changed_sample(default_recordings(), 4, sample=17, lead=0)
    changed = write_store(tmp_path / "c" / "cohort", one_sample_off)
    hash_first, hash_again, hash_changed = (open_cohort(w.path).content_hash for w in (first, again, changed))
    assert re.fullmatch("[0-9a-f]{64}", hash_first)
    assert hash_first == hash_again
    assert hash_changed != hash_first


@pytest.mark.parametrize("change", ["lab value", "lab time by 1 us", "recording start time", "patient sex"])
def test_content_hash_changes_with_one_table_value(tmp_path: Path, change: str) -> None:
    recordings, tables = default_recordings(), default_tables()
    if change == "lab value":
        tables["labs"].loc[2, "value"] = 3.9  # was NaN
    elif change == "lab time by 1 us":
        tables["labs"].loc[1, "time"] += pd.Timedelta(microseconds=1)  # in the year 2283
    elif change == "recording start time":
        recordings[3].start_time += pd.Timedelta(seconds=1)
    else:
        tables["patients"].loc[0, "sex"] = "M"
    first = write_store(tmp_path / "a")
    changed = write_store(tmp_path / "b", recordings, tables=tables)
    assert open_cohort(first.path).content_hash != open_cohort(changed.path).content_hash


def test_quality_report_survives_the_round_trip(cohort: Cohort) -> None:
    quality = cohort.quality
    assert quality.count("read", "no usable leads") == 4
    assert quality.count("labs", "unknown unit") == 2
    assert quality.count("labs", "never dropped") == 0
    assert quality.total == 6
    (read_row,) = [row for row in cohort.meta["quality"]["dropped"] if row["stage"] == "read"]
    assert read_row["examples"] == ["rec-7", "rec-9", "rec-11"]

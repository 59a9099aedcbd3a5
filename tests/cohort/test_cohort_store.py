"""Tests of the cohort store (ecglab.cohort.writer, ecglab.cohort.store): what a careful user relies on.

Waveforms come back bit-exact, in physical units by the WFDB convention, batched or one at a time; tables
round-trip with their dtypes; cohort.json carries row counts, a content hash and the quality report; a write
is atomic; and every kind of damaged or incomplete store is refused with a CohortError naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_fixtures import (
    LEADS_12,
    TINY_SHARD_BYTES,
    Written,
    changed_sample,
    default_recordings,
    default_tables,
    fill,
    samples,
    write_store,
)

from ecglab.cohort.errors import CohortError
from ecglab.cohort.schema import TABLES
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.cohort.writer import CohortWriter


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The default tiny store, written once; tests that use it only read it."""
    return write_store(
        tmp_path_factory.mktemp("shared") / "cohort",
        drops=[
            ("read", "no usable leads", 3, ["rec-7", "rec-9"]),
            ("labs", "unknown unit", 2, ["K+ in mg"]),
            ("read", "no usable leads", 1, ["rec-11"]),
        ],
    )


@pytest.fixture(scope="module")
def cohort(written: Written) -> Cohort:
    return open_cohort(written.path)


def raises_naming(file: Path, *words: str) -> pytest.RaisesExc[CohortError]:
    """pytest.raises(CohortError) whose message names ``file`` (and contains ``words``, in any order)."""
    pattern = "".join(f"(?=.*{re.escape(word)})" for word in (str(file), *words))
    return pytest.raises(CohortError, match=re.compile(pattern, re.DOTALL))


def edit_meta(store: Path, **changes: object) -> None:
    meta_path = store / "cohort.json"
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


def siblings(path: Path) -> list[str]:
    """Everything next to ``path`` in its folder, ``path`` itself included (staging and trash folders too)."""
    return sorted(p.name for p in path.parent.iterdir())


# ===================================================================== waveforms: round trip


def test_the_default_store_rolls_over_shards_with_several_recordings_per_shard(
    written: Written, cohort: Cohort
) -> None:
    recordings = cohort.recordings
    assert recordings["shard"].tolist() == [0, 0, 1, 2, 2, 3]
    # a recording's offset is where it starts in its shard, in samples
    assert recordings["offset"].tolist() == [0, 40, 0, 0, 36, 0]
    for spec in cohort.meta["shards"]:
        shard_file = written.path / spec["file"]
        in_shard = recordings[recordings["shard"] == spec["index"]]
        n_leads = len(spec["leads"])
        assert shard_file.stat().st_size == in_shard["length"].sum() * n_leads * 2
        assert spec["dtype"] == "int16"
        if len(in_shard) > 1:
            assert shard_file.stat().st_size <= TINY_SHARD_BYTES
    shard_leads = [tuple(spec["leads"]) for spec in cohort.meta["shards"]]
    assert shard_leads == [("II",), LEADS_12, ("II",), LEADS_12]


def test_digital_returns_the_written_samples_bit_exact(written: Written, cohort: Cohort) -> None:
    assert len(written.segments) == 18
    for sid, seg in written.segments.items():
        digital = cohort.digital(sid)
        assert digital.dtype == np.int16
        assert digital.shape == (seg.length, len(seg.rec.leads))
        np.testing.assert_array_equal(digital, seg.digital)


def test_big_endian_input_is_stored_as_its_values(tmp_path: Path) -> None:
    rec = default_recordings()[0]
    rec.digital = rec.digital.astype(">i2")
    store = write_store(tmp_path / "cohort", [rec])
    np.testing.assert_array_equal(open_cohort(store.path).digital(1), rec.digital[10:30].astype(np.int16))


def test_waveform_is_digital_minus_baseline_over_gain_in_float32(written: Written, cohort: Cohort) -> None:
    for sid, seg in written.segments.items():
        waveform = cohort.waveform(sid)
        assert waveform.dtype == np.float32
        assert waveform.shape == (len(seg.rec.leads), seg.length)  # leads x samples
        # computed in float64 and cast once: equal to the last bit
        np.testing.assert_array_equal(waveform, seg.waveform())
    # the gains and baselines really differ per lead and per recording (else the test above proves little)
    twelve = written.segments[6].rec
    assert len(set(twelve.gain)) == 12 and len(set(twelve.baseline)) == 12


def test_waveforms_batch_equals_stack_of_single_reads_across_shards(written: Written, cohort: Cohort) -> None:
    one_lead_ids = written.ids(1)  # spread over shards 0 and 2
    assert set(cohort.segments.set_index("segment_id").loc[one_lead_ids, "shard"]) == {0, 2}
    ids = one_lead_ids[::-1]  # out of order on purpose
    batch = cohort.waveforms(ids)
    assert batch.dtype == np.float32 and batch.shape == (len(ids), 1, 20)
    np.testing.assert_array_equal(batch, np.stack([cohort.waveform(sid) for sid in ids]))
    np.testing.assert_array_equal(batch, np.stack([written.segments[sid].waveform() for sid in ids]))


def test_waveforms_select_and_reorder_leads(written: Written, cohort: Cohort) -> None:
    ids = written.ids(12)  # shards 1 and 3
    leads = ["V6", "I", "aVR", "II"]
    batch = cohort.waveforms(ids, leads=leads)
    assert batch.shape == (len(ids), 4, 16)
    np.testing.assert_array_equal(batch, np.stack([written.segments[sid].waveform(leads) for sid in ids]))
    np.testing.assert_array_equal(batch[:, 3], cohort.waveforms(ids, leads=["II"])[:, 0])
    np.testing.assert_array_equal(cohort.waveform(ids[0], leads=leads), batch[0])


def test_waveforms_select_a_common_lead_from_recordings_with_different_lead_sets(
    written: Written, cohort: Cohort
) -> None:
    ids = [written.ids(1)[0], written.ids(12)[0], written.ids(1)[-1]]  # 1-lead and 12-lead shards
    batch = cohort.waveforms(ids, leads=["II"], length=12)
    expected = [written.segments[sid].waveform(["II"])[:, :12] for sid in ids]
    np.testing.assert_array_equal(batch, np.stack(expected))


def test_waveforms_crop_with_start_and_length(written: Written, cohort: Cohort) -> None:
    ids = [*written.ids(1)[:2], *written.ids(12)[-2:]]
    starts = np.array([0, 8, 3, 0])
    batch = cohort.waveforms(ids, leads=["II"], start=starts, length=12)
    assert batch.shape == (4, 1, 12)
    for row, (sid, start) in enumerate(zip(ids, starts, strict=True)):
        np.testing.assert_array_equal(batch[row], cohort.waveform(sid, leads=["II"])[:, start : start + 12])


def test_waveforms_crop_outside_its_segment_raises(written: Written, cohort: Cohort) -> None:
    sid = written.ids(1)[0]
    with pytest.raises(ValueError, match="outside"):
        cohort.waveforms([sid], start=[9], length=12)  # 9 + 12 > 20 samples
    with pytest.raises(ValueError, match="outside"):
        cohort.waveforms([sid], start=[-1], length=12)


def test_waveforms_of_different_lengths_need_length(written: Written, cohort: Cohort) -> None:
    ids = [written.ids(1)[0], written.ids(12)[0]]  # 20 and 16 samples
    with pytest.raises(CohortError, match="length="):
        cohort.waveforms(ids, leads=["II"])


def test_a_lead_that_was_not_recorded_raises(written: Written, cohort: Cohort) -> None:
    with pytest.raises(CohortError, match="V1"):
        cohort.waveform(written.ids(1)[0], leads=["V1"])
    with pytest.raises(CohortError, match="V1"):
        cohort.waveforms([written.ids(12)[0], written.ids(1)[0]], leads=["II", "V1"], length=16)


def test_an_unknown_segment_id_raises_key_error(cohort: Cohort) -> None:
    with pytest.raises(KeyError, match="999"):
        cohort.digital(999)
    with pytest.raises(KeyError, match="999"):
        cohort.waveform(999)
    with pytest.raises(KeyError, match="999"):
        cohort.waveforms([0, 999, 1])


def test_waveforms_without_leads_refuse_segments_with_different_lead_sets(tmp_path: Path) -> None:
    first = default_recordings()[2]
    second = default_recordings()[5]
    second.leads = tuple(reversed(LEADS_12))  # same 12 leads, other order: another shard
    store = write_store(tmp_path / "cohort", [first, second])
    cohort = open_cohort(store.path)
    ids = [store.ids(12)[0], store.ids(12)[-1]]
    with pytest.raises(CohortError, match="lead"):
        cohort.waveforms(ids)  # row 0 would be lead I first, row 1 lead V6 first
    np.testing.assert_array_equal(
        cohort.waveforms(ids, leads=list(LEADS_12)),
        np.stack([store.segments[sid].waveform(LEADS_12) for sid in ids]),
    )


# ===================================================================== waveforms: storage


def test_a_segment_used_by_several_overlapping_index_rows_is_stored_once(tmp_path: Path) -> None:
    fs = 50.0
    ten_seconds = samples(int(10 * fs), 12, seed=11)
    with CohortWriter(tmp_path / "cohort", name="x", source="y") as writer:
        recording_id = writer.add_recording(
            patient_id="p1",
            visit_id="v1",
            start_time="2021-01-01",
            fs=fs,
            leads=LEADS_12,
            digital=ten_seconds,
            gain=np.full(12, 100.0),
        )
        whole = writer.add_segments(recording_id, np.array([0, 0]), 500)  # the 10 s, twice
        windows = writer.add_segments(recording_id, np.array([0, 100, 250]), 250)  # overlapping 5-s windows
        for name, frame in default_tables().items():
            writer.set_table(name, frame)
        writer.commit()
    cohort = open_cohort(tmp_path / "cohort")
    (shard,) = cohort.meta["shards"]
    assert (tmp_path / "cohort" / shard["file"]).stat().st_size == ten_seconds.nbytes  # not 2x10 s + 3x5 s
    assert len(cohort.segments) == 5
    for sid in whole:
        np.testing.assert_array_equal(cohort.digital(sid), ten_seconds)
    for sid, start in zip(windows, [0, 100, 250], strict=True):
        np.testing.assert_array_equal(cohort.digital(sid), ten_seconds[start : start + 250])


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


# ===================================================================== atomic writes


def test_an_exception_inside_the_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    with (
        pytest.raises(RuntimeError, match="reader failed"),
        CohortWriter(target, name="x", source="y") as writer,
    ):
        fill(writer, default_recordings()[:2])
        raise RuntimeError("reader failed")
    assert list(tmp_path.iterdir()) == []  # neither the store nor a .cohort.partial folder


def test_a_failed_commit_inside_the_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    with pytest.raises(CohortError), CohortWriter(target, name="x", source="y") as writer:
        fill(writer, default_recordings()[:1])
        writer.commit()  # no tables set
    assert list(tmp_path.iterdir()) == []


def test_an_uncommitted_writer_leaves_nothing_at_the_target_and_open_reports_the_interrupted_write(
    tmp_path: Path,
) -> None:
    target = tmp_path / "cohort"
    writer = CohortWriter(target, name="x", source="y")
    fill(writer, default_recordings()[:2])
    # the process "dies" here: no commit, no abort
    assert not target.exists()
    (partial,) = siblings(target)
    assert partial == ".cohort.partial"
    with raises_naming(target, "interrupted write", partial):
        open_cohort(target)
    writer.abort()
    assert siblings(target) == []


def test_open_reports_a_lone_partial_folder_as_an_interrupted_write(tmp_path: Path) -> None:
    (tmp_path / ".cohort.partial" / "waveforms").mkdir(parents=True)
    with raises_naming(tmp_path / "cohort", "interrupted write", ".cohort.partial"):
        open_cohort(tmp_path / "cohort")


def test_writing_over_a_store_needs_overwrite(tmp_path: Path) -> None:
    store = write_store(tmp_path / "cohort")
    before = open_cohort(store.path).content_hash
    with raises_naming(store.path, "already holds a cohort store"):
        CohortWriter(store.path, name="x", source="y")
    assert siblings(store.path) == ["cohort"]  # nothing staged
    assert open_cohort(store.path).content_hash == before


def test_overwrite_replaces_the_store_and_leaves_no_trash(tmp_path: Path) -> None:
    old = write_store(tmp_path / "cohort")
    old_hash = open_cohort(old.path).content_hash
    new = write_store(tmp_path / "cohort", default_recordings()[:1], overwrite=True, name="replaced")
    cohort = open_cohort(new.path)
    assert cohort.name == "replaced" and cohort.content_hash != old_hash
    assert cohort.meta["row_counts"]["recordings"] == 1
    assert len(list((new.path / "waveforms").iterdir())) == 1  # no shard of the old store is left
    np.testing.assert_array_equal(cohort.digital(0), new.segments[0].digital)
    cohort.verify()
    assert siblings(new.path) == ["cohort"]  # no .cohort.old-* or .cohort.partial folder


def test_a_failed_overwrite_keeps_the_old_store(tmp_path: Path) -> None:
    old = write_store(tmp_path / "cohort")
    old_hash = open_cohort(old.path).content_hash
    with pytest.raises(RuntimeError), CohortWriter(old.path, name="x", source="y", overwrite=True) as writer:
        fill(writer, default_recordings()[:1])
        raise RuntimeError("reader failed")
    assert siblings(old.path) == ["cohort"]
    cohort = open_cohort(old.path)
    assert cohort.content_hash == old_hash
    cohort.verify()


# ===================================================================== bad input


def test_commit_without_labs_patients_and_visits_raises(tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    with CohortWriter(target, name="x", source="y") as writer:
        fill(writer, default_recordings()[:1])
        writer.set_table("patients", default_tables()["patients"])
        with raises_naming(target, "labs", "visits"):
            writer.commit()
    assert not target.exists()


REQUIRED = [("labs", "value"), ("patients", "sex"), ("visits", "arrival_time")]


@pytest.mark.parametrize(("table", "column"), REQUIRED)
def test_set_table_refuses_a_table_without_a_required_column(tmp_path: Path, table: str, column: str) -> None:
    target = tmp_path / "cohort"
    with CohortWriter(target, name="x", source="y") as writer:
        frame = default_tables()[table].drop(columns=[column])
        with raises_naming(target, repr(table), repr(column)):
            writer.set_table(table, frame)


def test_set_table_refuses_a_column_of_the_wrong_kind(tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    labs = default_tables()["labs"].assign(value=["4.25", "139", "", "0.01"])
    with CohortWriter(target, name="x", source="y") as writer, raises_naming(target, "labs.value"):
        writer.set_table("labs", labs)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A fresh default store that a test may damage."""
    return write_store(tmp_path / "cohort").path


def test_a_folder_without_cohort_json_is_refused(store: Path) -> None:
    (store / "cohort.json").unlink()
    with raises_naming(store, "cohort.json"):
        open_cohort(store)


def test_invalid_cohort_json_is_refused(store: Path) -> None:
    meta_path = store / "cohort.json"
    meta_path.write_text(meta_path.read_text()[:-20])
    with raises_naming(meta_path, "not valid JSON"):
        open_cohort(store)


def test_an_unknown_format_version_is_refused(store: Path) -> None:
    edit_meta(store, format_version=99)
    with raises_naming(store / "cohort.json", "version 99"):
        open_cohort(store)


def test_a_file_that_is_not_an_ecglab_cohort_is_refused(store: Path) -> None:
    edit_meta(store, format="something-else")
    with raises_naming(store / "cohort.json", "something-else"):
        open_cohort(store)


@pytest.mark.parametrize("table", list(TABLES))
def test_a_missing_table_file_is_refused(store: Path, table: str) -> None:
    (store / f"{table}.parquet").unlink()
    with raises_naming(store, f"{table}.parquet", "missing"):
        open_cohort(store)


def test_a_missing_shard_is_refused(store: Path) -> None:
    shard = store / "waveforms" / "shard-00002.int16"
    shard.unlink()
    with raises_naming(shard, "missing"):
        open_cohort(store)


def test_a_truncated_shard_is_refused(store: Path) -> None:
    shard = store / "waveforms" / "shard-00001.int16"
    size = shard.stat().st_size
    with open(shard, "r+b") as handle:
        handle.truncate(size - 3)
    with raises_naming(shard, f"{size - 3} bytes, expected {size}", "truncated"):
        open_cohort(store)


def test_a_same_size_corrupted_shard_is_caught_by_verify(store: Path) -> None:
    shard = store / "waveforms" / "shard-00003.int16"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0x01
    shard.write_bytes(bytes(data))
    cohort = open_cohort(store)  # sizes agree: opening cannot tell
    with raises_naming(shard, "corrupt"):
        cohort.verify()


def test_a_table_with_other_values_is_caught_by_verify(store: Path) -> None:
    labs_file = store / "labs.parquet"
    pd.read_parquet(labs_file).assign(value=lambda f: f["value"] * 2).to_parquet(labs_file, index=False)
    cohort = open_cohort(store)
    with raises_naming(labs_file, "differs"):
        cohort.verify()


def test_a_table_with_another_row_count_is_refused_on_read(store: Path) -> None:
    labs_file = store / "labs.parquet"
    pd.read_parquet(labs_file).iloc[:2].to_parquet(labs_file, index=False)
    with raises_naming(labs_file, "2 rows", "says 4"):
        _ = open_cohort(store).labs


def test_a_truncated_table_file_is_refused_on_read(store: Path) -> None:
    labs_file = store / "labs.parquet"
    labs_file.write_bytes(labs_file.read_bytes()[:-10])
    cohort = open_cohort(store)
    with raises_naming(labs_file, "unreadable"):
        _ = cohort.labs

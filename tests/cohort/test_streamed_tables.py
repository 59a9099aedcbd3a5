"""Tables of any size in bounded memory: the streamed table path of the writer, the content hash read back
from a Parquet file row group by row group, the whole-table row rules over spilled chunks, the chunked CSV
reader and the time parser's arithmetic. Each must give exactly what the whole-table path gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from store_fixtures import default_recordings, default_tables, fill, write_store

import ecglab.cohort.readers.csv_files as csv_files
from ecglab.cohort.errors import CohortError
from ecglab.cohort.hashing import hash_frame, hash_parquet
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.lab_values import RowChecks, check_rows
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.schema import empty_table
from ecglab.cohort.store import open_cohort
from ecglab.cohort.writer import CohortWriter


def _mixed_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    micros = rng.integers(-(10**15), 10**16, n)
    frame = pd.DataFrame(
        {
            "text": pd.Series(rng.choice(["a", "bé", "", "x, y", "日本", None], n), dtype="str"),
            "time": pd.Series(micros).astype("datetime64[us]"),
            "utc": pd.Series(micros).astype("datetime64[us]").dt.tz_localize("UTC"),
            "value": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "count": rng.integers(-5, 5, n),
            "flag": rng.random(n) < 0.5,
        }
    )
    frame.loc[rng.random(n) < 0.1, "time"] = pd.NaT
    return frame


@pytest.mark.parametrize("row_group_size", [1, 7, 1000])
def test_hash_parquet_equals_hash_frame_of_the_whole_table(tmp_path: Path, row_group_size: int) -> None:
    frame = _mixed_frame(300)
    frame.to_parquet(tmp_path / "t.parquet", index=False, row_group_size=row_group_size)
    expected = hash_frame(pd.read_parquet(tmp_path / "t.parquet"))
    assert hash_parquet(tmp_path / "t.parquet", scratch=tmp_path) == expected == hash_frame(frame)
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == -(-300 // row_group_size)


def test_text_hashes_alike_in_str_and_object_columns() -> None:
    frame = _mixed_frame(200)
    as_object = frame.assign(text=frame["text"].astype(object).where(frame["text"].notna(), None))
    assert hash_frame(frame) == hash_frame(as_object)


def test_hash_parquet_refuses_an_integer_column_with_missing_values(tmp_path: Path) -> None:
    pq.write_table(pa.table({"n": pa.array([1, None, 3], type=pa.int64())}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="missing values in an integer"):
        hash_parquet(tmp_path / "t.parquet")


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[start : start + size] for start in range(0, len(frame), size)]


def test_a_streamed_table_gives_the_store_a_whole_table_gives(tmp_path: Path) -> None:
    tables = default_tables("UTC")
    whole = write_store(tmp_path / "whole", tables=tables)
    streamed = tmp_path / "streamed"
    with CohortWriter(streamed, name="tiny", source="tests", max_shard_bytes=200) as writer:
        fill(writer, default_recordings())
        writer.set_table("patients", tables["patients"])
        writer.set_table("visits", tables["visits"])
        scratch = writer.scratch_folder("labs")
        (scratch / "spill.arrow").write_bytes(b"")
        assert writer.stream_table("labs", _chunks(tables["labs"], 1)) == 4
        assert writer.stream_table("vitals", [empty_table("vitals")]) == 0  # no rows: like the default
        writer.commit()
    before, after = open_cohort(whole.path).meta, open_cohort(streamed).meta
    assert after["content_hash"] == before["content_hash"]
    assert after["tables"] == before["tables"]
    assert sorted(p.name for p in streamed.iterdir() if p.is_dir()) == ["waveforms"]  # no spill left
    assert pq.ParquetFile(streamed / "labs.parquet").num_row_groups == 4
    cohort = open_cohort(streamed)
    cohort.verify()
    pd.testing.assert_frame_equal(cohort.labs, open_cohort(whole.path).labs)


def test_set_table_after_stream_table_wins(tmp_path: Path) -> None:
    tables = default_tables()
    with CohortWriter(tmp_path / "s", name="tiny", source="tests") as writer:
        writer.stream_table("labs", _chunks(tables["labs"], 2))
        writer.set_table("labs", tables["labs"].iloc[:1])
        writer.set_table("patients", tables["patients"])
        writer.set_table("visits", tables["visits"])
        writer.commit()
    assert len(open_cohort(tmp_path / "s").labs) == 1


def test_stream_table_refuses_chunks_that_disagree(tmp_path: Path) -> None:
    labs = default_tables()["labs"]
    with CohortWriter(tmp_path / "s", name="tiny", source="tests") as writer:
        changed = labs.iloc[2:].assign(ref_low=["3.5", "x"])
        with pytest.raises(CohortError, match="ref_low"):
            writer.stream_table("labs", [labs.iloc[:2], changed])
        with pytest.raises(CohortError, match="no column 'unit'"):
            writer.stream_table("labs", [labs.drop(columns="unit")])
        with pytest.raises(CohortError, match="no chunk"):
            writer.stream_table("labs", [])
        with pytest.raises(CohortError, match="built by the writer"):
            writer.stream_table("segments", [labs])


def _lab_rows(n: int, seed: int) -> pd.DataFrame:
    """Rows with many exact repeats and same-key conflicts, indexed by a 1-based source row."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": pd.Series(rng.choice(["p1", "p2", "p3", "p4"], n), dtype="str"),
            "lab": pd.Series(rng.choice(["K", "Na"], n), dtype="str"),
            "time": pd.Series(rng.integers(0, 3, n) * 3_600_000_000).astype("datetime64[us]"),
            "value": rng.choice([4.0, 4.5], n),
            "unit": pd.Series(rng.choice(["mmol/L", "mEq/L"], n), dtype="str"),
            "other": pd.Series(rng.choice(["x", "y"], n), dtype="str"),
        },
        index=pd.RangeIndex(1, n + 1),
    )
    return frame


@pytest.mark.parametrize("chunk_rows,buckets", [(7, 3), (1, 64), (50, 1)])
def test_check_rows_over_spilled_chunks_equals_the_whole_table(
    tmp_path: Path, chunk_rows: int, buckets: int
) -> None:
    frame = _lab_rows(230, seed=chunk_rows)
    checks = RowChecks(
        "labs",
        ("patient_id", "lab", "time", "value", "unit"),
        "patient_id",
        ("patient_id", "lab", "time"),
        ("value",),
    )
    whole_quality, spilled_quality = QualityReport(), QualityReport()
    (whole,) = check_rows([frame], checks, whole_quality)
    parts = list(check_rows(_chunks(frame, chunk_rows), checks, spilled_quality, tmp_path, buckets))
    pd.testing.assert_frame_equal(pd.concat(parts), whole)
    assert spilled_quality.to_dict() == whole_quality.to_dict()
    assert whole_quality.count("labs", "duplicate row") > 0 and whole_quality.to_dict()["notes"]
    assert list(tmp_path.iterdir()) == []  # the spill folder is gone


def test_csv_chunks_reads_what_pandas_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    values = ["", "4.1", "<0.01", "NA"]
    comments = ['"a, b"', '""', '"line\nbreak"', '"q""uote"', "plain", ""]  # as CSV writes them
    rows = [f"{i},{rng.choice(values)},{rng.choice(comments)}" for i in range(120)]
    path = tmp_path / "t.csv"
    path.write_text("id,value,comments\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(csv_files, "CSV_BLOCK_BYTES", 300)  # many small Arrow batches
    chunks = list(csv_files.csv_chunks(path, ("comments", "id"), 13))
    assert [len(c) for c in chunks] == [13] * 9 + [3]
    whole = next(csv_files.csv_chunks(path, ("comments", "id"), None))
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)


def test_csv_chunks_names_the_file_of_a_malformed_row(tmp_path: Path) -> None:
    path = tmp_path / "labevents.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(CohortError, match=r"labevents\.csv: not a readable CSV table.*Expected 2 columns"):
        list(csv_files.csv_chunks(path, ("a", "b"), 10))
    path.write_text("a,b\n")
    (empty,) = csv_files.csv_chunks(path, ("b",), 10, at_least_one=True)
    assert list(empty.columns) == ["b"] and empty.empty


def test_parsed_times_equal_strptime() -> None:
    rng = np.random.default_rng(2)
    micros = rng.integers(-(60 * 10**15), 250 * 10**15, 20_000) // 1_000_000 * 1_000_000
    expected = pd.Series(micros).astype("datetime64[us]")
    text = expected.dt.strftime("%Y-%m-%d %H:%M:%S")
    times, ok = parse_times(text, "%Y-%m-%d %H:%M:%S", "t", QualityReport(), "s")
    assert ok.all() and (times == expected).all()
    leap = pd.Series(["2000-02-29", "2100-02-29", "2096-02-29", "0001-01-01", "9999-12-31"])
    times, ok = parse_times(leap, "%Y-%m-%d", "d", QualityReport(), "s", required=False)
    assert times.isna().tolist() == [False, True, False, False, False]
    assert times[ok & times.notna()].tolist() == list(
        pd.to_datetime(leap[[0, 2, 3, 4]], format="%Y-%m-%d").astype("datetime64[us]")
    )

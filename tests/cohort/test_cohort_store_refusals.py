"""Bad input to the cohort store is refused with a CohortError naming the file: incomplete or malformed
tables at write time, and every kind of damaged or incomplete store on open, on read or by verify.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from store_checks import raises_naming
from store_fixtures import default_recordings, default_tables, fill, write_store

from ecglab.cohort.schema import TABLES
from ecglab.cohort.store import open_cohort
from ecglab.cohort.writer import CohortWriter


def edit_meta(store: Path, **changes: object) -> None:
    meta_path = store / "cohort.json"
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


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


# ===================================================================== a store record that cannot lie


def test_an_edited_content_hash_is_refused_on_open(store: Path) -> None:
    edit_meta(store, content_hash="0" * 64)
    with raises_naming(store / "cohort.json", "content_hash 000000000000", "edited"):
        open_cohort(store)


def test_edited_row_counts_are_refused_on_open(store: Path) -> None:
    counts = json.loads((store / "cohort.json").read_text())["row_counts"]
    edit_meta(store, row_counts={**counts, "labs": counts["labs"] + 1})
    with raises_naming(store / "cohort.json", "row_counts", f"labs {counts['labs'] + 1} vs {counts['labs']}"):
        open_cohort(store)


def test_an_edited_table_hash_is_refused_on_open(store: Path) -> None:
    meta = json.loads((store / "cohort.json").read_text())
    meta["tables"]["labs"]["hash"] = "f" * 64
    edit_meta(store, tables=meta["tables"])
    with raises_naming(store / "cohort.json", "content_hash"):
        open_cohort(store)


def test_a_consistently_rewritten_record_opens_but_verify_rehashes_the_data(store: Path) -> None:
    from ecglab.cohort.hashing import content_hash

    meta = json.loads((store / "cohort.json").read_text())
    meta["tables"]["labs"]["hash"] = "f" * 64
    meta["shards"][0]["sha256"] = "e" * 64
    edit_meta(store, tables=meta["tables"], shards=meta["shards"])
    edit_meta(store, content_hash=content_hash(meta["tables"], meta["shards"]))
    cohort = open_cohort(store)  # the record agrees with itself: only the data can tell
    with raises_naming(store / "labs.parquet", "differs", str(store / meta["shards"][0]["file"]), "corrupt"):
        cohort.verify()


def test_verify_catches_shard_leads_that_disagree_with_the_recordings(store: Path) -> None:
    meta = json.loads((store / "cohort.json").read_text())
    shard = next(s for s in meta["shards"] if s["leads"] == ["II"])
    shard["leads"] = ["V1"]
    edit_meta(store, shards=meta["shards"])  # the leads are not part of the content hash
    with raises_naming(store / shard["file"], "leads ['V1']", "'II'"):
        open_cohort(store).verify()


def test_a_record_without_row_counts_is_refused(store: Path) -> None:
    meta = json.loads((store / "cohort.json").read_text())
    del meta["row_counts"]
    (store / "cohort.json").write_text(json.dumps(meta))
    with raises_naming(store / "cohort.json", "malformed", "row_counts"):
        open_cohort(store)

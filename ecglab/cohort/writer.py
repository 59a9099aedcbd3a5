"""Writes a cohort store atomically: everything goes to a staging folder that is renamed into place last.

A store is a folder holding
- ``waveforms/shard-NNNNN.int16``: raw little-endian sample matrices (samples x leads), memory-mappable;
  every recording is stored once, contiguously, in one shard of recordings with the same leads;
- ``recordings.parquet`` (where each recording lies, its per-lead gain and baseline: physical = (digital -
  baseline) / gain, the WFDB convention), ``segments.parquet`` (index rows into recordings),
  ``labs.parquet``, ``patients.parquet``, ``visits.parquet``, ``vitals.parquet`` (empty if never set);
- ``cohort.json``: name, source, parameters, row counts, shard and table hashes, a content hash and the
  data-quality report. It is written last; a store without it is not a store.

A table comes whole (``set_table``) or in chunks (``stream_table``: written as Parquet row groups while the
chunks arrive and hashed from the file at commit, so a table of any size is never gathered in memory; the
store and its hashes are the same either way). ``scratch_folder`` gives a reader room for spill files in the
staging folder; it is removed at commit.

Recordings arrive through parts (see :mod:`ecglab.cohort.parts`): the writer's own part for
``add_recording``/``add_segments`` in this process, and numbered parts that ingest workers write in parallel.
With ``resume=True`` the staging folder survives an interruption and finished parts are kept.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.cohort.errors import CohortError
from ecglab.cohort.hashing import content_hash, hash_frame, hash_parquet
from ecglab.cohort.parts import DEFAULT_MAX_SHARD_BYTES, PART_META, PartWriter, is_finished, micros_to_series
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    OPTIONAL_TABLES,
    TABLES,
    empty_table,
    table_file,
    validate_table,
)

PARAMS_FILE = "parameters.json"
MAIN_PART = "part-main"
STREAMED, SCRATCH = "streamed", "scratch"  # staging subfolders: streamed tables, readers' spill files


def staging_path(path: Path) -> Path:
    """Where the store at ``path`` is built before it is renamed into place."""
    return path.parent / f".{path.name}.partial"


class CohortWriter:
    """Builds a cohort store. Use as a context manager: an exception removes the staging folder, unless
    ``resume`` is set, in which case finished parts stay for the next run with the same parameters."""

    def __init__(
        self,
        path: str | Path,
        *,
        name: str,
        source: str,
        source_version: str = "",
        parameters: dict[str, Any] | None = None,
        overwrite: bool = False,
        resume: bool = False,
        max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    ) -> None:
        self.path = Path(path)
        if (self.path / "cohort.json").exists() and not overwrite:
            raise CohortError(
                f"{self.path} already holds a cohort store; choose another path or overwrite it"
            )
        if self.path.exists() and not (self.path / "cohort.json").exists() and any(self.path.iterdir()):
            raise CohortError(
                f"{self.path} exists and is not an empty folder or a cohort store; refusing to replace it"
            )
        self.name, self.source, self.source_version = name, source, source_version
        self.parameters = dict(parameters or {})
        self.max_shard_bytes = max_shard_bytes
        self.resume = resume
        self.quality = QualityReport()
        self.staging = staging_path(self.path)
        self._open_staging()
        self._main: PartWriter | None = None
        self._tables: dict[str, pd.DataFrame] = {}
        self._streamed: dict[str, int] = {}  # table -> rows, its file in staging/streamed
        self._done = False

    def _open_staging(self) -> None:
        params_file = self.staging / PARAMS_FILE
        record = {"name": self.name, "source": self.source, "parameters": self.parameters}
        if self.staging.exists():
            found = json.loads(params_file.read_text()) if params_file.is_file() else None
            if not self.resume or found != json.loads(json.dumps(record)):
                shutil.rmtree(self.staging)  # not resumable: an earlier interrupted write of other work
        (self.staging / "parts").mkdir(parents=True, exist_ok=True)
        params_file.write_text(json.dumps(record, indent=2))

    # ----------------------------------------------------------------- parts
    def part_folder(self, index: int) -> Path:
        return self.staging / "parts" / f"part-{index:06d}"

    def part_done(self, index: int) -> bool:
        return is_finished(self.part_folder(index))

    def _main_part(self) -> PartWriter:
        if self._main is None:
            self._main = PartWriter(self.staging / "parts" / MAIN_PART, self.max_shard_bytes)
        return self._main

    def add_recording(
        self,
        *,
        patient_id: str,
        visit_id: str | None,
        start_time: Any,
        fs: float,
        leads: Sequence[str],
        digital: np.ndarray,
        gain: Sequence[float],
        baseline: Sequence[float] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Store one contiguous recording (``digital``: samples x leads); returns its recording id."""
        return self._main_part().add_recording(
            patient_id=patient_id,
            visit_id=visit_id,
            start_time=start_time,
            fs=fs,
            leads=leads,
            digital=digital,
            gain=gain,
            baseline=baseline,
            extra=extra,
        )

    def add_segments(self, recording_id: int, starts: np.ndarray, length: int) -> np.ndarray:
        """Index segments of ``length`` samples at ``starts`` (samples into the recording); returns ids."""
        return self._main_part().add_segments(recording_id, starts, length)

    # ----------------------------------------------------------------- tables
    def set_table(self, name: str, frame: pd.DataFrame) -> None:
        if name in ("recordings", "segments"):
            raise CohortError(f"table {name!r} is built by the writer from the recordings it was given")
        validate_table(name, frame, where=f"writing {self.path}")
        self._forget_stream(name)
        self._tables[name] = frame.reset_index(drop=True)

    def stream_table(self, name: str, frames: Iterable[pd.DataFrame]) -> int:
        """Write table ``name`` from ``frames`` (chunks in row order; the index is dropped) as row groups of
        one Parquet file, one chunk in memory at a time; return its rows. Every chunk is checked like
        ``set_table``'s frame and must have the first chunk's columns, in order, and Arrow types. Integer and
        boolean columns take no missing values (the content hash could not read them back whole)."""
        if name in ("recordings", "segments"):
            raise CohortError(f"table {name!r} is built by the writer from the recordings it was given")
        where = f"writing {self.path}"
        folder = self.staging / STREAMED
        folder.mkdir(exist_ok=True)
        self._forget_stream(name)
        self._tables.pop(name, None)
        rows = _write_row_groups(folder / table_file(name), name, frames, where)
        self._streamed[name] = rows
        return rows

    def _forget_stream(self, name: str) -> None:
        if self._streamed.pop(name, None) is not None:
            (self.staging / STREAMED / table_file(name)).unlink()

    def scratch_folder(self, name: str) -> Path:
        """An empty folder in the staging area for a reader's spill files (removed at commit)."""
        folder = self.staging / SCRATCH / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def _finished_parts(self) -> list[Path]:
        if self._main is not None:
            self._main.finish()
        parts_dir = self.staging / "parts"
        numbered = sorted(p for p in parts_dir.glob("part-[0-9]*") if not p.name.endswith(".tmp"))
        unfinished = [p.name for p in parts_dir.iterdir() if not is_finished(p)]
        if unfinished:
            raise CohortError(
                f"cannot commit {self.path}: parts never finished: {', '.join(sorted(unfinished))}"
            )
        main = parts_dir / MAIN_PART
        return ([main] if main.exists() else []) + numbered

    def _merge_parts(self) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]], str | None]:
        """Link every part's shards into ``waveforms/`` and build the global recordings and segments."""
        waveforms = self.staging / "waveforms"
        if waveforms.exists():
            shutil.rmtree(waveforms)  # from an interrupted commit: rebuilt from the parts
        waveforms.mkdir()
        shards: list[dict[str, Any]] = []
        recordings, segments = [], []
        zones: set[str | None] = set()
        n_recordings = 0
        for part in self._finished_parts():
            meta = json.loads((part / PART_META).read_text())
            self.quality.merge(QualityReport.from_dict(meta["quality"]))
            if not meta["has_recordings"]:
                continue
            zones.add(meta["time_zone"])
            local_to_global = {}
            for shard in meta["shards"]:
                index = len(shards)
                file = f"waveforms/shard-{index:05d}.{shard['dtype']}"
                os.link(part / shard["file"], self.staging / file)
                shards.append({**shard, "index": index, "file": file})
                local_to_global[shard["index"]] = index
            rec = pd.read_parquet(part / "recordings.parquet")
            seg = pd.read_parquet(part / "segments.parquet")
            rec.insert(0, "recording_id", np.arange(n_recordings, n_recordings + len(rec), dtype=np.int64))
            rec["shard"] = rec["shard"].map(local_to_global).astype(np.int32)
            seg["recording_id"] = seg.pop("recording").to_numpy() + n_recordings
            recordings.append(rec)
            segments.append(seg)
            n_recordings += len(rec)
        if len(zones) > 1:
            raise CohortError(
                f"cannot commit {self.path}: recordings in several time zones {sorted(map(str, zones))}"
            )
        tz = zones.pop() if zones else None
        return (
            self._recordings_frame(recordings, tz),
            self._segments_frame(segments, recordings, tz),
            shards,
            tz,
        )

    @staticmethod
    def _recordings_frame(parts: list[pd.DataFrame], tz: str | None) -> pd.DataFrame:
        if not parts:
            return empty_table("recordings")
        rec = pd.concat(parts, ignore_index=True)
        start = micros_to_series(rec.pop("start_us").to_numpy(np.int64), tz)
        rec.insert(rec.columns.get_loc("visit_id") + 1, "start_time", start)
        rec["gain"] = pd.Series([np.asarray(g, dtype=np.float64) for g in rec["gain"]], dtype=object)
        rec["baseline"] = pd.Series([np.asarray(b, dtype=np.float64) for b in rec["baseline"]], dtype=object)
        return rec

    @staticmethod
    def _segments_frame(
        parts: list[pd.DataFrame], rec_parts: list[pd.DataFrame], tz: str | None
    ) -> pd.DataFrame:
        if not parts:
            return empty_table("segments")
        seg = pd.concat(parts, ignore_index=True)
        columns = ["recording_id", "patient_id", "visit_id", "fs", "leads", "shard"]
        rec = pd.concat([r[columns] for r in rec_parts], ignore_index=True)
        rec = rec.set_index("recording_id").loc[seg["recording_id"]]
        return pd.DataFrame(
            {
                "segment_id": np.arange(len(seg), dtype=np.int64),
                "recording_id": seg["recording_id"].to_numpy(np.int64),
                "patient_id": rec["patient_id"].to_numpy(dtype=object),
                "visit_id": rec["visit_id"].to_numpy(dtype=object),
                "start_time": micros_to_series(seg["start_us"].to_numpy(np.int64), tz),
                "fs": rec["fs"].to_numpy(np.float64),
                "leads": rec["leads"].to_numpy(dtype=object),
                "shard": rec["shard"].to_numpy(np.int32),
                "offset": seg["offset"].to_numpy(np.int64),
                "length": seg["length"].to_numpy(np.int64),
            }
        )

    # ----------------------------------------------------------------- commit
    def commit(self, extra: dict[str, Any] | None = None) -> Path:
        """Write the tables and ``cohort.json``, then move the store into place atomically."""
        given = {*self._tables, *self._streamed}
        missing = [name for name in ("labs", "patients", "visits") if name not in given]
        if missing:
            raise CohortError(f"cannot commit {self.path}: tables never set: {', '.join(missing)}")
        for name in OPTIONAL_TABLES:
            if name not in given:
                self._tables[name] = empty_table(name)
        recordings, segments, shards, tz = self._merge_parts()
        tables = {"recordings": recordings, "segments": segments, **self._tables}
        table_meta = {}
        for name in TABLES:
            file = self.staging / table_file(name)
            if name in self._streamed:
                os.replace(self.staging / STREAMED / table_file(name), file)
                rows, digest = self._streamed[name], hash_parquet(file, scratch=self.staging)
            else:
                frame = tables[name]
                validate_table(name, frame, where=f"writing {self.path}")
                frame.to_parquet(file, index=False)
                rows, digest = len(frame), hash_frame(frame)
            table_meta[name] = {"file": table_file(name), "rows": rows, "hash": digest}
        for folder in (STREAMED, SCRATCH):
            shutil.rmtree(self.staging / folder, ignore_errors=True)
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "source": self.source,
            "source_version": self.source_version,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "created_by": _package_version(),
            "parameters": self.parameters,
            "time_zone": tz,
            "row_counts": {name: meta["rows"] for name, meta in table_meta.items()},
            "tables": table_meta,
            "shards": shards,
            "content_hash": content_hash(table_meta, shards),
            "quality": self.quality.to_dict(),
            "extra": extra or {},
        }
        with open(self.staging / "cohort.json", "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        self._move_into_place()
        self._done = True
        return self.path

    def _move_into_place(self) -> None:
        trash = None
        if self.path.exists():
            trash = self.path.parent / f".{self.path.name}.old"
            if trash.exists():
                shutil.rmtree(trash)
            os.replace(self.path, trash)
        os.replace(self.staging, self.path)
        # the parts' shard files are hard-linked into waveforms/; the part folders are no longer needed
        shutil.rmtree(self.path / "parts")
        (self.path / PARAMS_FILE).unlink()
        if trash is not None:
            shutil.rmtree(trash)

    def abort(self) -> None:
        """Remove the staging folder; the target path is left as it was."""
        if self._main is not None:
            self._main.abort()
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self._done = True

    def __enter__(self) -> CohortWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._done:
            return
        if self.resume and exc_type is not None:
            if self._main is not None:
                self._main.abort()
            return  # finished parts stay for the next run
        self.abort()


def _write_row_groups(file: Path, name: str, frames: Iterable[pd.DataFrame], where: str) -> int:
    """``frames`` as row groups of the Parquet file ``file`` (snappy, like ``DataFrame.to_parquet``); rows.
    A second thread writes each chunk while the next one is made."""
    writer, schema, rows, first, pending = None, None, 0, None, None
    with ThreadPoolExecutor(1) as background:
        try:
            for frame in frames:
                validate_table(name, frame, where=where)
                if first is None:
                    first = frame
                if not len(frame):
                    continue  # an empty chunk's text columns may have no Arrow type to compare
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(file, schema, compression="snappy")
                elif not table.schema.equals(schema):
                    raise CohortError(f"{where}: table {name!r}: {_schema_change(schema, table.schema)}")
                if pending is not None:
                    pending.result()
                pending = background.submit(writer.write_table, table)
                rows += len(frame)
            if pending is not None:
                pending.result()
        finally:
            if writer is not None:
                if pending is not None:
                    pending.exception()  # wait for it; an error is raised above or superseded
                writer.close()
    if first is None:
        raise CohortError(f"{where}: table {name!r} was streamed no chunk (give an empty one for no rows)")
    if writer is None:
        first.to_parquet(file, index=False)
    return rows


def _schema_change(first: pa.Schema, later: pa.Schema) -> str:
    if first.names != later.names:
        return f"a chunk has columns {later.names}, the first chunk had {first.names}"
    column = next(f.name for f, g in zip(first, later, strict=True) if not f.equals(g))
    return (
        f"column {column!r} is {later.field(column).type} in a chunk and "
        f"{first.field(column).type} in the first chunk"
    )


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"ecglab {version('ecglab')}"
    except PackageNotFoundError:
        return "ecglab (not installed)"

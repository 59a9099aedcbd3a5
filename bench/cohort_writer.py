"""Writes a cohort store atomically: everything goes to a staging folder that is renamed into place last.

A store is a folder holding
- ``waveforms/shard-NNNNN.int16``: raw little-endian sample matrices (samples x leads), memory-mappable;
  every recording is stored once, contiguously, in one shard of recordings with the same leads;
- ``recordings.parquet`` (where each recording lies, its per-lead gain and baseline: physical = (digital -
  baseline) / gain, the WFDB convention), ``segments.parquet`` (index rows into recordings),
  ``labs.parquet``, ``patients.parquet``, ``visits.parquet``, ``vitals.parquet`` (empty if never set);
- ``cohort.json``: name, source, parameters, row counts, shard and table hashes, a content hash and the
  data-quality report. It is written last; a store without it is not a store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.cohort_schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    OPTIONAL_TABLES,
    TABLES,
    empty_table,
    table_file,
    validate_table,
)
from bench.errors import CohortError
from bench.hashing import hash_frame
from bench.quality import QualityReport

DEFAULT_MAX_SHARD_BYTES = 1 << 28  # 256 MiB
SUPPORTED_DTYPES = ("int16", "float16")


@dataclass
class _Shard:
    index: int
    file: str
    dtype: str
    leads: tuple[str, ...]
    n_samples: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    handle: Any = None

    @property
    def n_bytes(self) -> int:
        return self.n_samples * len(self.leads) * np.dtype(self.dtype).itemsize

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "file": self.file,
            "dtype": self.dtype,
            "leads": list(self.leads),
            "n_samples": self.n_samples,
            "sha256": self.digest.hexdigest(),
        }


def to_micros(time: Any) -> tuple[int, str | None]:
    """Microseconds since the epoch and the time zone (None if naive) of a timestamp of any year."""
    stamp = pd.Timestamp(time)
    if stamp is pd.NaT:
        raise CohortError("a recording start time is missing (NaT)")
    tz = str(stamp.tz) if stamp.tz is not None else None
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    micros = int(np.datetime64(stamp.as_unit("us").to_datetime64(), "us").astype(np.int64))
    return micros, tz


def micros_to_series(micros: np.ndarray, tz: str | None) -> pd.Series:
    series = pd.Series(np.asarray(micros, dtype=np.int64).view("datetime64[us]"))
    return series.dt.tz_localize("UTC").dt.tz_convert(tz) if tz else series


class CohortWriter:
    """Builds a cohort store. Use as a context manager: an exception removes the staging folder."""

    def __init__(
        self,
        path: str | Path,
        *,
        name: str,
        source: str,
        source_version: str = "",
        parameters: dict[str, Any] | None = None,
        overwrite: bool = False,
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
        self.quality = QualityReport()
        self._staging = self.path.parent / f".{self.path.name}.partial-{uuid.uuid4().hex[:8]}"
        (self._staging / "waveforms").mkdir(parents=True)
        self._shards: list[_Shard] = []
        self._open_shard: dict[tuple[tuple[str, ...], str], _Shard] = {}
        self._recordings: list[dict[str, Any]] = []
        self._segment_parts: list[dict[str, np.ndarray]] = []
        self._tables: dict[str, pd.DataFrame] = {}
        self._tz: str | bool | None = False  # False: no recording yet
        self._done = False

    # ----------------------------------------------------------------- waveforms
    def _shard_for(self, leads: tuple[str, ...], dtype: str, n_bytes: int) -> _Shard:
        key = (leads, dtype)
        shard = self._open_shard.get(key)
        if shard is not None and shard.n_samples and shard.n_bytes + n_bytes > self.max_shard_bytes:
            self._close(shard)
            shard = None
        if shard is None:
            index = len(self._shards)
            shard = _Shard(index=index, file=f"waveforms/shard-{index:05d}.{dtype}", dtype=dtype, leads=leads)
            shard.handle = open(self._staging / shard.file, "wb")  # noqa: SIM115 - closed in _close
            self._shards.append(shard)
            self._open_shard[key] = shard
        return shard

    @staticmethod
    def _close(shard: _Shard) -> None:
        if shard.handle is not None:
            shard.handle.flush()
            os.fsync(shard.handle.fileno())
            shard.handle.close()
            shard.handle = None

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
    ) -> int:
        """Store one contiguous recording (``digital``: samples x leads) and return its recording id."""
        leads = tuple(str(lead) for lead in leads)
        if digital.ndim != 2 or digital.shape[1] != len(leads):
            raise CohortError(
                f"recording of {patient_id}: samples x leads array expected for leads {leads}, "
                f"got shape {digital.shape}"
            )
        if digital.dtype.name not in SUPPORTED_DTYPES:
            raise CohortError(
                f"recording of {patient_id}: dtype {digital.dtype} not storable "
                f"(use one of {SUPPORTED_DTYPES})"
            )
        if any("," in lead for lead in leads):
            raise CohortError(f"lead names may not contain commas: {leads}")
        gain_arr = np.asarray(gain, dtype=np.float64)
        base_arr = np.zeros(len(leads)) if baseline is None else np.asarray(baseline, dtype=np.float64)
        if gain_arr.shape != (len(leads),) or base_arr.shape != (len(leads),):
            raise CohortError(f"recording of {patient_id}: one gain and one baseline per lead expected")
        if not np.all(np.isfinite(gain_arr)) or np.any(gain_arr == 0):
            raise CohortError(f"recording of {patient_id}: gains must be finite and non-zero, got {gain_arr}")
        micros, tz = to_micros(start_time)
        if self._tz is False:
            self._tz = tz
        elif self._tz != tz:
            raise CohortError(
                f"recording of {patient_id}: time zone {tz} differs from earlier recordings ({self._tz})"
            )

        data = np.ascontiguousarray(digital, dtype=digital.dtype.newbyteorder("<"))
        shard = self._shard_for(leads, digital.dtype.name, data.nbytes)
        offset = shard.n_samples
        payload = data.tobytes()
        shard.handle.write(payload)
        shard.digest.update(payload)
        shard.n_samples += data.shape[0]
        recording_id = len(self._recordings)
        self._recordings.append(
            {
                "recording_id": recording_id,
                "patient_id": str(patient_id),
                "visit_id": None if visit_id is None else str(visit_id),
                "start_us": micros,
                "fs": float(fs),
                "leads": ",".join(leads),
                "shard": shard.index,
                "offset": offset,
                "length": data.shape[0],
                "gain": gain_arr,
                "baseline": base_arr,
            }
        )
        return recording_id

    def add_segments(self, recording_id: int, starts: np.ndarray, length: int) -> np.ndarray:
        """Index segments of ``length`` samples starting at ``starts`` (samples into the recording)."""
        rec = self._recordings[recording_id]
        starts = np.asarray(starts, dtype=np.int64)
        if len(starts) and (starts.min() < 0 or starts.max() + length > rec["length"]):
            raise CohortError(
                f"segments of recording {recording_id} fall outside its {rec['length']} samples"
            )
        first = sum(len(part["segment_id"]) for part in self._segment_parts)
        ids = np.arange(first, first + len(starts), dtype=np.int64)
        offsets_us = np.round(starts * (1e6 / rec["fs"])).astype(np.int64)
        self._segment_parts.append(
            {
                "segment_id": ids,
                "recording_id": np.full(len(starts), recording_id, dtype=np.int64),
                "start_us": rec["start_us"] + offsets_us,
                "offset": rec["offset"] + starts,
                "length": np.full(len(starts), length, dtype=np.int64),
            }
        )
        return ids

    # ----------------------------------------------------------------- tables
    def set_table(self, name: str, frame: pd.DataFrame) -> None:
        if name in ("recordings", "segments"):
            raise CohortError(f"table {name!r} is built by the writer from add_recording/add_segments")
        validate_table(name, frame, where=f"writing {self.path}")
        self._tables[name] = frame.reset_index(drop=True)

    def _recordings_frame(self) -> pd.DataFrame:
        recs = self._recordings
        tz = self._tz if self._tz is not False else None
        frame = pd.DataFrame(
            {
                "recording_id": np.array([r["recording_id"] for r in recs], dtype=np.int64),
                "patient_id": pd.Series([r["patient_id"] for r in recs], dtype=object),
                "visit_id": pd.Series([r["visit_id"] for r in recs], dtype=object),
                "start_time": micros_to_series(np.array([r["start_us"] for r in recs], dtype=np.int64), tz),
                "fs": np.array([r["fs"] for r in recs], dtype=np.float64),
                "leads": pd.Series([r["leads"] for r in recs], dtype=object),
                "shard": np.array([r["shard"] for r in recs], dtype=np.int32),
                "offset": np.array([r["offset"] for r in recs], dtype=np.int64),
                "length": np.array([r["length"] for r in recs], dtype=np.int64),
                "gain": pd.Series([r["gain"] for r in recs], dtype=object),
                "baseline": pd.Series([r["baseline"] for r in recs], dtype=object),
            }
        )
        return frame

    def _segments_frame(self, recordings: pd.DataFrame) -> pd.DataFrame:
        tz = self._tz if self._tz is not False else None
        if self._segment_parts:
            parts = {
                key: np.concatenate([p[key] for p in self._segment_parts]) for key in self._segment_parts[0]
            }
        else:
            parts = {
                key: np.zeros(0, dtype=np.int64)
                for key in ("segment_id", "recording_id", "start_us", "offset", "length")
            }
        rec = recordings.set_index("recording_id").loc[parts["recording_id"]]
        return pd.DataFrame(
            {
                "segment_id": parts["segment_id"],
                "recording_id": parts["recording_id"],
                "patient_id": rec["patient_id"].to_numpy(dtype=object),
                "visit_id": rec["visit_id"].to_numpy(dtype=object),
                "start_time": micros_to_series(parts["start_us"], tz),
                "fs": rec["fs"].to_numpy(),
                "leads": rec["leads"].to_numpy(dtype=object),
                "shard": rec["shard"].to_numpy(dtype=np.int32),
                "offset": parts["offset"],
                "length": parts["length"],
            }
        )

    # ----------------------------------------------------------------- commit
    def commit(self, extra: dict[str, Any] | None = None) -> Path:
        """Write the tables and ``cohort.json``, then move the store into place atomically."""
        missing = [name for name in ("labs", "patients", "visits") if name not in self._tables]
        if missing:
            raise CohortError(f"cannot commit {self.path}: tables never set: {', '.join(missing)}")
        for name in OPTIONAL_TABLES:
            self._tables.setdefault(name, empty_table(name))
        for shard in self._shards:
            self._close(shard)
        recordings = self._recordings_frame()
        tables = {"recordings": recordings, "segments": self._segments_frame(recordings), **self._tables}
        table_meta = {}
        for name in TABLES:
            frame = tables[name]
            validate_table(name, frame, where=f"writing {self.path}")
            frame.to_parquet(self._staging / table_file(name), index=False)
            table_meta[name] = {"file": table_file(name), "rows": len(frame), "hash": hash_frame(frame)}
        shards = [shard.describe() for shard in self._shards]
        content = hashlib.sha256()
        for name in sorted(table_meta):
            content.update(f"{name}:{table_meta[name]['hash']}\n".encode())
        for shard in shards:
            content.update(f"{shard['file']}:{shard['dtype']}:{shard['sha256']}\n".encode())
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "source": self.source,
            "source_version": self.source_version,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "created_by": _package_version(),
            "parameters": self.parameters,
            "time_zone": self._tz if self._tz is not False else None,
            "row_counts": {name: meta["rows"] for name, meta in table_meta.items()},
            "tables": table_meta,
            "shards": shards,
            "content_hash": content.hexdigest(),
            "quality": self.quality.to_dict(),
            "extra": extra or {},
        }
        meta_path = self._staging / "cohort.json"
        with open(meta_path, "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=2, sort_keys=False)
            handle.flush()
            os.fsync(handle.fileno())
        self._move_into_place()
        self._done = True
        return self.path

    def _move_into_place(self) -> None:
        trash = None
        if self.path.exists():
            trash = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.path, trash)
        os.replace(self._staging, self.path)
        if trash is not None:
            shutil.rmtree(trash)

    def abort(self) -> None:
        """Remove the staging folder; the target path is left as it was."""
        for shard in self._shards:
            if shard.handle is not None:
                shard.handle.close()
                shard.handle = None
        if self._staging.exists():
            shutil.rmtree(self._staging)
        self._done = True

    def __enter__(self) -> CohortWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._done:
            self.abort()


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"ecglab {version('ecglab')}"
    except PackageNotFoundError:
        return "ecglab (not installed)"

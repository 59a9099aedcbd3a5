"""One part of a cohort store under construction: recordings written to its own shard files.

A store is assembled from parts. The in-process writer has one; a parallel ingest has many, each written by a
worker process into ``parts/part-NNNNNN/`` of the staging folder. A part is finished by renaming its
``.tmp`` folder into place, so a finished part is complete and an interrupted ingest resumes by redoing only
the parts that never finished.

Recordings of one length and leads can be stored as one block at once (``add_recording_block``) or a few
at a time (:class:`RecordingBlock`: a reader then needs no buffer for the whole block); both store the same
bytes and rows. Shard files are written by :class:`ecglab.cohort.shards.Shard`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.errors import CohortError
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.shards import Shard

DEFAULT_MAX_SHARD_BYTES = 1 << 28  # 256 MiB
SUPPORTED_DTYPES = ("int16", "float16")
PART_META = "part.json"


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


class PartWriter:
    """Writes recordings (stored once, contiguously) and segment index rows into the folder ``final``.

    Everything goes to ``final.tmp`` first; :meth:`finish` renames it to ``final``.
    """

    def __init__(self, final: Path, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> None:
        self.final = Path(final)
        self.folder = self.final.with_name(self.final.name + ".tmp")
        if self.folder.exists():
            shutil.rmtree(self.folder)  # left by an interrupted run; this part is redone from scratch
        self.folder.mkdir(parents=True)
        self.max_shard_bytes = max_shard_bytes
        self.quality = QualityReport()
        self._shards: list[Shard] = []
        self._open: dict[tuple[tuple[str, ...], str], Shard] = {}
        self._recordings: list[dict[str, Any]] = []
        self._segments: list[dict[str, np.ndarray]] = []
        self._n_segments = 0
        self._tz: str | bool | None = False  # False: no recording yet

    @property
    def n_recordings(self) -> int:
        return len(self._recordings)

    def _shard_for(self, leads: tuple[str, ...], dtype: str, n_bytes: int) -> Shard:
        key = (leads, dtype)
        shard = self._open.get(key)
        if shard is not None and shard.n_samples and shard.n_bytes + n_bytes > self.max_shard_bytes:
            shard.close()
            shard = None
        if shard is None:
            index = len(self._shards)
            shard = Shard(index=index, file=f"shard-{index:05d}.{dtype}", dtype=dtype, leads=leads)
            shard.handle = open(self.folder / shard.file, "wb")  # noqa: SIM115 - closed by Shard.close
            self._shards.append(shard)
            self._open[key] = shard
        return shard

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
        """Store one contiguous recording (``digital``: samples x leads); returns its index in this part.

        ``extra`` holds scalar columns kept in the recordings table (e.g. a source's study id).
        """
        leads = tuple(str(lead) for lead in leads)
        where = f"recording of patient {patient_id}"
        if not isinstance(patient_id, str) or not (visit_id is None or isinstance(visit_id, str)):
            raise CohortError(
                f"{where}: patient_id must be text and visit_id text or None, got "
                f"{type(patient_id).__name__} and {type(visit_id).__name__}"
            )
        if digital.ndim != 2 or digital.shape[1] != len(leads):
            raise CohortError(
                f"{where}: samples x leads array expected for {leads}, got shape {digital.shape}"
            )
        if digital.dtype.name not in SUPPORTED_DTYPES:
            raise CohortError(f"{where}: dtype {digital.dtype} not storable (use one of {SUPPORTED_DTYPES})")
        if any("," in lead for lead in leads):
            raise CohortError(f"lead names may not contain commas: {leads}")
        gain_arr = np.asarray(gain, dtype=np.float64)
        base_arr = np.zeros(len(leads)) if baseline is None else np.asarray(baseline, dtype=np.float64)
        if gain_arr.shape != (len(leads),) or base_arr.shape != (len(leads),):
            raise CohortError(f"{where}: one gain and one baseline per lead expected")
        if not np.all(np.isfinite(gain_arr)) or np.any(gain_arr == 0):
            raise CohortError(f"{where}: gains must be finite and non-zero, got {gain_arr}")
        micros, tz = to_micros(start_time)
        if self._tz is False:
            self._tz = tz
        elif self._tz != tz:
            raise CohortError(f"{where}: time zone {tz} differs from earlier recordings ({self._tz})")

        data = np.ascontiguousarray(digital, dtype=digital.dtype.newbyteorder("<"))
        shard = self._shard_for(leads, digital.dtype.name, data.nbytes)
        offset = shard.n_samples
        shard.append(data)
        self._recordings.append(
            {
                "patient_id": patient_id,
                "visit_id": visit_id,
                "start_us": micros,
                "fs": float(fs),
                "leads": ",".join(leads),
                "shard": shard.index,
                "offset": offset,
                "length": data.shape[0],
                "gain": gain_arr,
                "baseline": base_arr,
                **(extra or {}),
            }
        )
        return len(self._recordings) - 1

    def add_recording_block(
        self,
        *,
        patient_ids: Sequence[str],
        visit_ids: Sequence[str | None],
        start_us: np.ndarray,
        time_zone: str | None,
        fs: float,
        leads: Sequence[str],
        digital: np.ndarray,
        gains: np.ndarray,
        baselines: np.ndarray,
        extra: dict[str, Sequence[Any]] | None = None,
    ) -> np.ndarray:
        """Store many recordings of equal length and leads at once (``digital``: recordings x samples x
        leads; ``start_us``: microseconds since the epoch) with one write; each gets one segment spanning
        it. Returns their indices in this part. Equivalent to add_recording + add_segments per recording."""
        leads = tuple(str(lead) for lead in leads)
        n, length = digital.shape[0], digital.shape[1]
        if digital.ndim != 3 or digital.shape[2] != len(leads) or digital.dtype.name not in SUPPORTED_DTYPES:
            raise CohortError(
                f"recording block: recordings x samples x {len(leads)} leads of "
                f"{SUPPORTED_DTYPES} expected, got {digital.shape} {digital.dtype}"
            )
        if gains.shape != (n, len(leads)) or baselines.shape != (n, len(leads)):
            raise CohortError("recording block: one gain and one baseline per recording and lead expected")
        _check_block_rows(gains, patient_ids, visit_ids)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        self._block_time_zone(time_zone)
        data = np.ascontiguousarray(digital, dtype=digital.dtype.newbyteorder("<"))
        shard = self._shard_for(leads, digital.dtype.name, data.nbytes)
        first_offset = shard.n_samples
        shard.append(data.reshape(n * length, len(leads)))
        return self._index_block(
            shard, first_offset, length, fs, patient_ids, visit_ids, start_us, gains, baselines, extra or {}
        )

    def _block_time_zone(self, time_zone: str | None) -> None:
        if self._tz is False:
            self._tz = time_zone
        elif self._tz != time_zone:
            raise CohortError(f"recording block: time zone {time_zone} differs from earlier ({self._tz})")

    def _index_block(
        self,
        shard: Shard,
        first_offset: int,
        length: int,
        fs: float,
        patient_ids: Sequence[str],
        visit_ids: Sequence[str | None],
        start_us: Sequence[int] | np.ndarray,
        gains: Sequence[Any],
        baselines: Sequence[Any],
        extra: dict[str, Sequence[Any]],
    ) -> np.ndarray:
        """Recording rows and one segment each for ``len(patient_ids)`` recordings stored one after another
        in ``shard`` from sample ``first_offset``; returns their indices in this part."""
        n = len(patient_ids)
        first = len(self._recordings)
        joined = ",".join(shard.leads)
        offsets = first_offset + np.arange(n, dtype=np.int64) * length
        for i in range(n):
            self._recordings.append(
                {
                    "patient_id": patient_ids[i],
                    "visit_id": visit_ids[i],
                    "start_us": int(start_us[i]),
                    "fs": float(fs),
                    "leads": joined,
                    "shard": shard.index,
                    "offset": int(offsets[i]),
                    "length": length,
                    "gain": np.asarray(gains[i], dtype=np.float64),
                    "baseline": np.asarray(baselines[i], dtype=np.float64),
                    **{key: values[i] for key, values in extra.items()},
                }
            )
        self._segments.append(
            {
                "recording": np.arange(first, first + n, dtype=np.int64),
                "start_us": np.asarray(start_us, dtype=np.int64),
                "offset": offsets,
                "length": np.full(n, length, dtype=np.int64),
            }
        )
        self._n_segments += n
        return np.arange(first, first + n, dtype=np.int64)

    def add_segments(self, recording: int, starts: np.ndarray, length: int) -> np.ndarray:
        """Index segments of ``length`` samples at ``starts`` (samples into the recording); returns their
        indices in this part."""
        rec = self._recordings[recording]
        starts = np.asarray(starts, dtype=np.int64)
        if len(starts) and (starts.min() < 0 or starts.max() + length > rec["length"]):
            raise CohortError(f"segments of recording {recording} fall outside its {rec['length']} samples")
        first = self._n_segments
        self._n_segments += len(starts)
        self._segments.append(
            {
                "recording": np.full(len(starts), recording, dtype=np.int64),
                "start_us": rec["start_us"] + np.round(starts * (1e6 / rec["fs"])).astype(np.int64),
                "offset": rec["offset"] + starts,
                "length": np.full(len(starts), length, dtype=np.int64),
            }
        )
        return np.arange(first, first + len(starts), dtype=np.int64)

    def finish(self) -> Path:
        """Close shards, write the part's tables and metadata, and rename the part into place."""
        for shard in self._shards:
            shard.flush_in_background()  # the disk catches up while the tables are written
        recordings = pd.DataFrame(self._recordings)
        if recordings.empty:
            recordings = pd.DataFrame(columns=["patient_id", "visit_id", "start_us", "fs", "leads", "shard"])
        recordings.to_parquet(self.folder / "recordings.parquet", index=False)
        keys = ("recording", "start_us", "offset", "length")
        segments = pd.DataFrame(
            {
                key: np.concatenate([p[key] for p in self._segments])
                if self._segments
                else np.zeros(0, np.int64)
                for key in keys
            }
        )
        segments.to_parquet(self.folder / "segments.parquet", index=False)
        for shard in self._shards:
            shard.close()
        meta = {
            "shards": [shard.describe() for shard in self._shards],
            "time_zone": self._tz if self._tz is not False else None,
            "has_recordings": bool(self._recordings),
            "quality": self.quality.to_dict(),
        }
        with open(self.folder / PART_META, "w", encoding="utf-8") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.folder, self.final)
        return self.final

    def abort(self) -> None:
        for shard in self._shards:
            shard.discard()
        if self.folder.exists():
            shutil.rmtree(self.folder)


def _check_block_rows(gains: np.ndarray, patient_ids: Sequence[Any], visit_ids: Sequence[Any]) -> None:
    if not np.all(np.isfinite(gains)) or np.any(gains == 0):
        raise CohortError("recording block: gains must be finite and non-zero")
    if not all(isinstance(p, str) for p in patient_ids) or any(
        v is not None and not isinstance(v, str) for v in visit_ids
    ):
        raise CohortError("recording block: patient ids must be text and visit ids text or None")


class RecordingBlock:
    """Recordings of one length and set of leads added a few at a time to one shard of ``part``, which
    stores exactly what one ``add_recording_block`` call with all of them would: the samples back to back in
    one shard, one row and one segment each. The shard is picked as for a block of ``n_bytes`` (the most it
    may hold). Samples are hashed and written when added; ``close`` adds the rows. Close it before adding
    anything else to the part."""

    def __init__(
        self,
        part: PartWriter,
        *,
        leads: Sequence[str],
        length: int,
        dtype: str,
        fs: float,
        time_zone: str | None,
        n_bytes: int,
    ) -> None:
        if dtype not in SUPPORTED_DTYPES:
            raise CohortError(f"recording block: dtype {dtype} not storable (use one of {SUPPORTED_DTYPES})")
        self.part, self.leads, self.length, self.dtype = part, tuple(map(str, leads)), length, dtype
        self.fs, self.time_zone, self.n_bytes = fs, time_zone, n_bytes
        self._shard: Shard | None = None
        self._first_offset = 0
        self._rows: list[list[Any]] = [[], [], [], [], []]  # patient, visit, start, gain, baseline
        self._extra: list[dict[str, Any]] = []

    def extend(
        self,
        digital: np.ndarray,
        *,
        patient_ids: Sequence[str],
        visit_ids: Sequence[str | None],
        start_us: Sequence[int],
        gains: np.ndarray,
        baselines: np.ndarray,
        extra: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Store recordings now (``digital``: recordings x samples x leads, C-contiguous little-endian of
        the block's dtype; ``gains``, ``baselines``: recordings x leads; ``extra``: one dict each)."""
        n = len(patient_ids)
        shape = (n, self.length, len(self.leads))
        if digital.shape != shape or digital.dtype != np.dtype(self.dtype).newbyteorder("<"):
            raise CohortError(
                f"recording block: {shape} {self.dtype} expected, got {digital.shape} {digital.dtype}"
            )
        if gains.shape != shape[::2] or baselines.shape != shape[::2]:
            raise CohortError("recording block: one gain and one baseline per recording and lead expected")
        if len(visit_ids) != n or len(start_us) != n or (extra is not None and len(extra) != n):
            raise CohortError("recording block: one patient, visit, start and extra per recording expected")
        _check_block_rows(gains, patient_ids, visit_ids)
        if n == 0:
            return
        if self._shard is None:
            self.part._block_time_zone(self.time_zone)
            self._shard = self.part._shard_for(self.leads, self.dtype, self.n_bytes)
            self._first_offset = self._shard.n_samples
        self._shard.append(np.ascontiguousarray(digital).reshape(n * self.length, len(self.leads)))
        for rows, values in zip(
            self._rows, (patient_ids, visit_ids, start_us, gains, baselines), strict=True
        ):
            rows.extend(values)
        self._extra.extend(extra or [{}] * n)

    def close(self) -> np.ndarray:
        """Add the rows of the recordings stored; returns their indices in the part."""
        if self._shard is None:
            return np.zeros(0, dtype=np.int64)
        extra = {key: [row[key] for row in self._extra] for key in self._extra[0]}
        rows, self._rows, self._extra = self._rows, [[], [], [], [], []], []
        return self.part._index_block(self._shard, self._first_offset, self.length, self.fs, *rows, extra)


def is_finished(part: Path) -> bool:
    return (part / PART_META).is_file()


def write_index_part(
    final: Path,
    *,
    bank: np.ndarray,
    leads: Sequence[str],
    recordings: pd.DataFrame,
    segments: pd.DataFrame,
) -> Path:
    """Write a finished part whose recordings all index into one shard holding ``bank`` (samples x leads).

    Many recordings may point at the same samples (the tiled waveforms of a scale cohort). ``recordings``:
    patient_id, visit_id, start_us, fs, offset, length, gain, baseline (arrays per lead); ``segments``:
    recording (row of ``recordings``), start_us, offset, length (samples into the shard).
    """
    final = Path(final)
    folder = final.with_name(final.name + ".tmp")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    data = np.ascontiguousarray(bank, dtype=bank.dtype.newbyteorder("<"))
    if data.ndim != 2 or data.shape[1] != len(leads) or data.dtype.name not in SUPPORTED_DTYPES:
        raise CohortError(f"waveform bank: samples x {len(leads)} leads of {SUPPORTED_DTYPES} expected")
    rec_end = recordings["offset"].to_numpy(np.int64) + recordings["length"].to_numpy(np.int64)
    seg_rec = segments["recording"].to_numpy(np.int64)
    seg_end = segments["offset"].to_numpy(np.int64) + segments["length"].to_numpy(np.int64)
    if len(rec_end) and (rec_end.max() > len(data) or recordings["offset"].min() < 0):
        raise CohortError("waveform bank: a recording falls outside the bank's samples")
    if len(seg_rec) and (
        (segments["offset"].to_numpy(np.int64) < recordings["offset"].to_numpy(np.int64)[seg_rec]).any()
        or (seg_end > rec_end[seg_rec]).any()
    ):
        raise CohortError("waveform bank: a segment falls outside its recording")
    shard = Shard(index=0, file=f"shard-00000.{data.dtype.name}", dtype=data.dtype.name, leads=tuple(leads))
    with open(folder / shard.file, "wb") as handle:
        shard.handle = handle
        shard.append(data)
        handle.flush()
        os.fsync(handle.fileno())
    shard.handle = None
    recordings = recordings.assign(leads=",".join(leads), shard=0)
    order = ["patient_id", "visit_id", "start_us", "fs", "leads", "shard", "offset", "length"]
    recordings = recordings[order + [c for c in recordings.columns if c not in order]]
    recordings.to_parquet(folder / "recordings.parquet", index=False)
    segments[["recording", "start_us", "offset", "length"]].to_parquet(
        folder / "segments.parquet", index=False
    )
    meta = {
        "shards": [shard.describe()],
        "time_zone": None,
        "has_recordings": bool(len(recordings)),
        "quality": QualityReport().to_dict(),
    }
    (folder / PART_META).write_text(json.dumps(meta), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(folder, final)
    return final

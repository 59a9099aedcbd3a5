"""Reads a cohort store: its tables, and waveforms in physical units (mV) by memory map."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.cohort.crops import crops_in_mv
from ecglab.cohort.errors import CohortError
from ecglab.cohort.hashing import content_hash, hash_parquet, sha256_file
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.schema import FORMAT_NAME, FORMAT_VERSION, TABLES, table_file, validate_table


class Cohort:
    """An opened cohort store. Tables load lazily; waveforms are read from memory-mapped shards."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        check_recorded_hashes(path, meta)
        self.path = path
        self.meta = meta
        self._maps: dict[int, np.memmap] = {}

    # ----------------------------------------------------------------- metadata
    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def source(self) -> str:
        return self.meta["source"]

    @property
    def lab_coding(self) -> str:
        """How the store's lab codes are named: ``mimic-iv`` (MIMIC-IV hosp itemids) or ``mcmed`` (MC-MED
        component names: MC-MED, the synthetic cohort, generic data). A store says so in ``extra.lab_coding``
        (the MEDS reader, a synthetic cohort with MIMIC-IV codes); else it follows from ``source``."""
        coding = self.extra.get("lab_coding")
        if coding is not None:
            return str(coding)
        return "mimic-iv" if self.source == "mimic-iv" else "mcmed"

    @property
    def content_hash(self) -> str:
        return self.meta["content_hash"]

    @property
    def quality(self) -> QualityReport:
        return QualityReport.from_dict(self.meta["quality"])

    @property
    def extra(self) -> dict[str, Any]:
        return self.meta.get("extra", {})

    @property
    def scale(self) -> dict[str, Any] | None:
        """For a scale cohort (``ecglab cohort synth --scale``): its shape, fraction and seed; else None."""
        return self.extra.get("scale")

    # ----------------------------------------------------------------- tables
    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise CohortError(f"unknown cohort table {name!r} (known: {', '.join(TABLES)})")
        file = self.path / table_file(name)
        try:
            frame = pd.read_parquet(file)
        except (OSError, pa.ArrowException) as err:  # unreadable or damaged Parquet files
            raise CohortError(f"{file}: unreadable Parquet table ({err}); rebuild the store") from err
        expected = self.meta["tables"][name]["rows"]
        if len(frame) != expected:
            raise CohortError(f"{file}: {len(frame)} rows, cohort.json says {expected}; the store is damaged")
        validate_table(name, frame, where=str(file))
        return frame

    @cached_property
    def segments(self) -> pd.DataFrame:
        return self.table("segments")

    @cached_property
    def recordings(self) -> pd.DataFrame:
        return self.table("recordings")

    @cached_property
    def labs(self) -> pd.DataFrame:
        return self.table("labs")

    @cached_property
    def patients(self) -> pd.DataFrame:
        return self.table("patients")

    @cached_property
    def visits(self) -> pd.DataFrame:
        return self.table("visits")

    @cached_property
    def vitals(self) -> pd.DataFrame:
        return self.table("vitals")

    # ----------------------------------------------------------------- waveforms
    def _shard(self, index: int) -> np.memmap:
        if index not in self._maps:
            spec = self.meta["shards"][index]
            shape = (spec["n_samples"], len(spec["leads"]))
            if spec["n_samples"] == 0:
                return np.zeros(shape, dtype=spec["dtype"])
            self._maps[index] = np.memmap(
                self.path / spec["file"],
                dtype=np.dtype(spec["dtype"]).newbyteorder("<"),
                mode="r",
                shape=shape,
            )
        return self._maps[index]

    @cached_property
    def _segment_arrays(self) -> dict[str, np.ndarray]:
        seg = self.segments
        rec = self.recordings
        rec_pos = pd.Index(rec["recording_id"]).get_indexer(seg["recording_id"])
        return {
            "index": pd.Index(seg["segment_id"]),
            "shard": seg["shard"].to_numpy(np.int64),
            "offset": seg["offset"].to_numpy(np.int64),
            "length": seg["length"].to_numpy(np.int64),
            "rec_pos": rec_pos,
            "gain": rec["gain"].to_numpy(),
            "baseline": rec["baseline"].to_numpy(),
        }

    def _positions(self, segment_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        ids = np.asarray(segment_ids, dtype=np.int64)
        positions = self._segment_arrays["index"].get_indexer(ids)
        if (positions < 0).any():
            missing = ids[positions < 0][:5].tolist()
            raise KeyError(f"segment ids not in {self.path}: {missing}")
        return positions

    def _lead_columns(self, shard: int, leads: Sequence[str] | None) -> list[int]:
        shard_leads = self.meta["shards"][shard]["leads"]
        if leads is None:
            return list(range(len(shard_leads)))
        missing = [lead for lead in leads if lead not in shard_leads]
        if missing:
            raise CohortError(f"{self.path}: leads {missing} not recorded (this recording has {shard_leads})")
        return [shard_leads.index(lead) for lead in leads]

    def digital(self, segment_id: int) -> np.ndarray:
        """The stored samples of one segment (samples x leads), as a read-only view."""
        arrays = self._segment_arrays
        pos = self._positions([segment_id])[0]
        offset, length = arrays["offset"][pos], arrays["length"][pos]
        return self._shard(int(arrays["shard"][pos]))[offset : offset + length]

    def waveform(self, segment_id: int, leads: Sequence[str] | None = None) -> np.ndarray:
        """One segment in mV as float32, leads x samples."""
        return self.waveforms([segment_id], leads=leads)[0]

    def waveforms(
        self,
        segment_ids: Sequence[int] | np.ndarray,
        leads: Sequence[str] | None = None,
        start: Sequence[int] | np.ndarray | None = None,
        length: int | None = None,
    ) -> np.ndarray:
        """Many segments in mV as float32 (batch x leads x samples), one gather per shard.

        ``start`` (samples into each segment) and ``length`` cut crops; without them every segment must
        have the same length. Lead names select and order leads; every segment must have them.
        """
        arrays = self._segment_arrays
        positions = self._positions(segment_ids)
        seg_len = arrays["length"][positions]
        if length is None:
            if len(positions) and (seg_len != seg_len[0]).any():
                raise CohortError("segments of different lengths: pass length= (and start=) to crop them")
            length = int(seg_len[0]) if len(positions) else 0
        starts = np.zeros(len(positions), dtype=np.int64) if start is None else np.asarray(start, np.int64)
        if starts.shape != positions.shape:
            raise ValueError(f"start has shape {starts.shape}, expected {positions.shape}")
        if len(positions) and ((starts < 0).any() or (starts + length > seg_len).any()):
            raise ValueError("a crop falls outside its segment")
        shards = arrays["shard"][positions]
        columns_by_shard = {int(s): self._lead_columns(int(s), leads) for s in np.unique(shards)}
        if leads is None and len({tuple(self.meta["shards"][s]["leads"]) for s in columns_by_shard}) > 1:
            raise CohortError("segments with different lead sets: pass leads= to select common leads")
        n_leads = {len(cols) for cols in columns_by_shard.values()}
        if len(n_leads) > 1:
            raise CohortError("segments with different lead sets: pass leads= to select common leads")
        parts = []
        for shard, columns in columns_by_shard.items():
            rows = np.flatnonzero(shards == shard)
            first = arrays["offset"][positions[rows]] + starts[rows]
            rec_pos = arrays["rec_pos"][positions[rows]]
            gain = np.stack(arrays["gain"][rec_pos])[:, columns]
            baseline = np.stack(arrays["baseline"][rec_pos])[:, columns]
            parts.append((rows, crops_in_mv(self._shard(shard), first, length, columns, gain, baseline)))
        if len(parts) == 1:
            return parts[0][1]  # one shard (the usual batch): its crops are the batch, in order
        out = np.empty((len(positions), n_leads.pop() if n_leads else 0, length), dtype=np.float32)
        for rows, physical in parts:
            out[rows] = physical
        return out

    # ----------------------------------------------------------------- integrity
    def verify(self) -> None:
        """Re-hash every shard file and table file against cohort.json (tables one column of one row group at
        a time) and check that each shard holds the leads and samples its recordings say; raise one
        CohortError naming everything that differs."""
        problems = []
        for spec in self.meta["shards"]:
            file = self.path / spec["file"]
            if sha256_file(file) != spec["sha256"]:
                problems.append(f"{file}: content differs from its recorded hash; the shard is corrupt")
        for name, spec in self.meta["tables"].items():
            file = self.path / table_file(name)
            try:
                digest = hash_parquet(file)
            except (OSError, pa.ArrowException, ValueError) as err:  # damaged or not written by ecglab
                problems.append(f"{file}: unreadable Parquet table ({err})")
                continue
            if digest != spec["hash"]:
                problems.append(f"{file}: content differs from its recorded hash")
        if not problems:
            problems = self._shard_contents()
        if problems:
            raise CohortError("; ".join(problems) + "; rebuild the store")

    def _shard_contents(self) -> list[str]:
        """Problems where a shard's recorded leads or length disagree with the recordings stored in it."""
        rec = self.recordings
        problems = []
        for index, spec in enumerate(self.meta["shards"]):
            mine = rec[rec["shard"].to_numpy() == index]
            leads = set(mine["leads"])
            if leads and leads != {",".join(spec["leads"])}:
                problems.append(
                    f"{self.path / spec['file']}: cohort.json says leads {spec['leads']}, its recordings "
                    f"say {sorted(leads)}"
                )
            end = int((mine["offset"] + mine["length"]).max()) if len(mine) else 0
            if end > spec["n_samples"]:
                problems.append(
                    f"{self.path / spec['file']}: recordings reach sample {end}, the shard has "
                    f"{spec['n_samples']}"
                )
        return problems

    def summary(self) -> dict[str, Any]:
        seg = self.segments
        return {
            "name": self.name,
            "source": self.source,
            "content_hash": self.content_hash,
            "row_counts": self.meta["row_counts"],
            "hours_of_ecg": float((seg["length"] / seg["fs"]).sum() / 3600) if len(seg) else 0.0,
            "leads": sorted({",".join(s["leads"]) for s in self.meta["shards"]}),
            "labs": int(self.labs["lab"].nunique()),
            "dropped": self.quality.summary_lines(),
            **({"scale": self.scale} if self.scale else {}),
            **{
                key: value
                for key, value in self.extra.get("synthetic", {}).items()
                if key in ("planted_labs", "null_labs")
            },
        }


def check_recorded_hashes(path: Path, meta: dict[str, Any]) -> None:
    """Recompute ``row_counts`` and ``content_hash`` from cohort.json's own table and shard records (no data
    is read) and raise CohortError naming the store and what differs: run ids, task caches and leaderboards
    trust these two. ``ecglab cohort verify`` checks the records against the data."""
    where = path / "cohort.json"
    try:
        tables, shards = meta["tables"], meta["shards"]
        recorded_counts, recorded_hash = meta["row_counts"], meta["content_hash"]
        counts = {name: tables[name]["rows"] for name in tables}
        recomputed = content_hash(tables, shards)
    except (KeyError, TypeError, AttributeError) as err:
        problem = f"{type(err).__name__}: {err}"
        raise CohortError(f"{where}: malformed store record ({problem}); rebuild the store") from err
    if set(tables) != set(TABLES):
        raise CohortError(f"{where}: records tables {sorted(tables)}, a store has {sorted(TABLES)}")
    if recorded_counts != counts:
        differ = [
            f"{name} {recorded_counts.get(name)} vs {counts.get(name)}"
            for name in sorted({*counts, *recorded_counts})
            if recorded_counts.get(name) != counts.get(name)
        ]
        raise CohortError(
            f"{where}: row_counts disagree with the tables' recorded rows ({', '.join(differ)}); "
            "the store record was edited or damaged, rebuild it"
        )
    if recorded_hash != recomputed:
        raise CohortError(
            f"{where}: content_hash {str(recorded_hash)[:12]} is not the hash of its recorded table and "
            f"shard hashes ({recomputed[:12]}); the store record was edited or damaged, rebuild it"
        )


def _check_footer_rows(file: Path, expected: int) -> None:
    """The rows a Parquet file's footer gives against the recorded count (an unreadable footer is left to
    the table's read and to verify, which name it)."""
    try:
        rows = pq.read_metadata(file).num_rows
    except (OSError, pa.ArrowException):
        return
    if rows != expected:
        raise CohortError(
            f"{file}: {rows} rows, cohort.json says {expected}; the store is damaged, rebuild it"
        )


def open_cohort(path: str | Path) -> Cohort:
    """Open the cohort store at ``path``; raise CohortError with what to do if it is not a complete store."""
    path = Path(path)
    if not path.is_dir():
        partial = path.parent / f".{path.name}.partial"
        hint = f" (found an interrupted write: {partial.name})" if partial.is_dir() else ""
        raise CohortError(
            f"no cohort store at {path}{hint}; build one with `ecglab cohort synth --out {path}`"
        )
    meta_path = path / "cohort.json"
    if not meta_path.is_file():
        raise CohortError(f"{path} has no cohort.json: it is not a cohort store, or its write never finished")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CohortError(f"{meta_path}: not valid JSON ({err}); the store is damaged, rebuild it") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CohortError(f"{meta_path}: not an ecglab cohort (format {found!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CohortError(
            f"{meta_path}: store format version {version!r}, this ecglab reads version {FORMAT_VERSION}; "
            "rebuild the store with this version of ecglab, or use the ecglab version that wrote it"
        )
    check_recorded_hashes(path, meta)
    for name in TABLES:
        file = path / table_file(name)
        if not file.is_file():
            raise CohortError(f"{path}: table {file.name} is missing; the store is incomplete, rebuild it")
        _check_footer_rows(file, meta["tables"][name]["rows"])
    for spec in meta["shards"]:
        try:
            file = path / spec["file"]
            expected = spec["n_samples"] * len(spec["leads"]) * np.dtype(spec["dtype"]).itemsize
        except (KeyError, TypeError) as err:
            raise CohortError(f"{meta_path}: malformed shard record {spec!r}; rebuild the store") from err
        if not file.is_file():
            raise CohortError(f"{file}: waveform shard is missing; the store is incomplete, rebuild it")
        actual = file.stat().st_size
        if actual != expected:
            state = "truncated" if actual < expected else "too long"
            raise CohortError(
                f"{file}: {actual} bytes, expected {expected} ({state}); the shard is damaged, rebuild it"
            )
    return Cohort(path, meta)

"""Generic reader for other data: a labs table plus a folder of WFDB records listed in a records table.

Inputs (CSV or Parquet):
- labs: ``patient_id``, ``time`` (``YYYY-MM-DD HH:MM:SS``, naive), ``lab``, ``value`` (numbers or strings
  such as "<0.01", parsed like the other readers); optional ``visit_id``, ``unit``, ``ref_low``, ``ref_high``,
  ``source_flag``.
- records: ``record`` (path of the WFDB record relative to the records folder, without extension),
  ``patient_id``; optional ``visit_id`` and ``start_time`` (``YYYY-MM-DD HH:MM:SS``; else the header's base
  date and time).
- patients (optional): ``patient_id``, ``sex``; without it every patient is listed with sex "" (unknown).

Records at another sampling rate are resampled to ``fs`` with ``scipy.signal.resample_poly``: a polyphase
FIR filter (Kaiser window, beta 5) that low-pass filters below the new Nyquist frequency before decimating,
so nothing aliases; the result is rounded back to the record's own digital units (same gain and baseline).
Records are cut into consecutive whole windows of ``segment_seconds``; windows with invalid samples or a flat
lead are not indexed. Every skipped record, window or row is counted with its reason.

The labs and records tables take only the columns named above: any other one (``units`` for ``unit``) is a
CohortError naming them, so that nothing is silently left out. A record listed twice in the records table is
read once (the first row; the repeats counted as ``record listed twice``). Lab rows: a negative value of a lab
that cannot be negative, exact repeats (same patient, visit, lab, time, value, censoring and unit:
``duplicate row``) and rows in a unit other than the lab's main one with no known factor are dropped and
counted (:mod:`ecglab.cohort.readers.units`). A record that cannot be read (any error wfdb or NumPy raises on
it, a blank or repeated lead name, a bad header value) is counted with its reason and the ingest goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from ecglab.cohort.errors import CohortError
from ecglab.cohort.ingest import run_parts, split_into_parts
from ecglab.cohort.parts import PartWriter
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.csv_files import check_columns, read_any_table
from ecglab.cohort.readers.lab_values import (
    drop_duplicate_rows,
    examples,
    note_conflicts,
    numeric_or_missing,
    parse_lab_values,
    report_non_numeric,
)
from ecglab.cohort.readers.signal_checks import invalid_samples, lead_name_problem, lead_order, usable_windows
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.readers.units import UnitCounts, drop_negative
from ecglab.cohort.readers.wfdb_io import WfdbError, WfdbHeader, read_failure, read_record
from ecglab.cohort.writer import CohortWriter

STAGE = "generic records"
LABS_REQUIRED = ("patient_id", "time", "lab", "value")
LABS_OPTIONAL = ("visit_id", "unit", "ref_low", "ref_high", "source_flag")
RECORDS_REQUIRED = ("record", "patient_id")
RECORDS_OPTIONAL = ("visit_id", "start_time")
LAB_KEY = ("patient_id", "visit_id", "lab", "time")
REPEATED = "record listed twice (first row kept)"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class RecordJob:
    record: str
    patient_id: str
    visit_id: str | None
    start_us: int | None


def read_table(
    path: Path, required: Sequence[str], what: str, optional: Sequence[str] | None = None
) -> pd.DataFrame:
    """A CSV or Parquet table with its ``required`` columns; with ``optional`` given, no other columns."""
    if not path.is_file():
        raise CohortError(f"{path} not found: pass the {what} table (CSV or Parquet)")
    frame = read_any_table(path)
    check_columns(path, [str(c) for c in frame.columns], required, optional, what)
    return frame


def _optional_text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype(str) if column in frame else pd.Series("", index=frame.index)


def read_generic_labs(path: Path, quality: QualityReport) -> pd.DataFrame:
    stage = "generic labs"
    raw = read_table(path, LABS_REQUIRED, "labs", LABS_OPTIONAL).astype({c: str for c in LABS_REQUIRED})
    times, ok = parse_times(raw["time"], TIME_FORMAT, "time", quality, stage)
    values, censored, numeric = parse_lab_values(raw["value"])
    report_non_numeric(quality, stage, raw["value"], numeric | ~ok)  # bad times are counted already
    bounds = {
        column: numeric_or_missing(raw[column], quality, stage, column)
        if column in raw
        else pd.Series(np.nan, index=raw.index)
        for column in ("ref_low", "ref_high")
    }
    visit = raw["visit_id"].astype(str).replace("", None) if "visit_id" in raw else None
    labs = pd.DataFrame(
        {
            "patient_id": raw["patient_id"],
            "visit_id": pd.Series(visit if visit is not None else None, index=raw.index, dtype=object),
            "time": times,
            "lab": raw["lab"],
            "value": values,
            "censored": censored,
            "unit": _optional_text(raw, "unit"),
            "ref_low": bounds["ref_low"],
            "ref_high": bounds["ref_high"],
            "source_flag": _optional_text(raw, "source_flag"),
        }
    )
    return clean_labs(labs[(ok & numeric).to_numpy()], quality, stage)


def clean_labs(
    labs: pd.DataFrame, quality: QualityReport, stage: str, names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The row rules of the module docstring on parsed lab rows (the labs table's columns): negative values
    of labs that cannot be negative, duplicate rows, conflicts (a note) and units, counted under ``stage``;
    ``names`` maps a lab code to the name those rules look up (e.g. a MIMIC-IV itemid to its label)."""
    labs = drop_negative(labs, quality, stage, names)
    labs = drop_duplicate_rows(labs, (*LAB_KEY, "value", "censored", "unit"), quality, stage)
    note_conflicts(labs, LAB_KEY, ("value", "unit"), quality, stage)
    counts = UnitCounts()
    counts.add(labs)
    counts.finish()
    return counts.plan(quality, stage, names).apply(labs, quality, stage).reset_index(drop=True)


def _to_int16(digital: np.ndarray) -> np.ndarray | None:
    info = np.iinfo(np.int16)
    if digital.size and (digital.min() < info.min or digital.max() > info.max):
        return None
    return digital.astype(np.int16)


def _resample(digital: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    ratio = _ratio(fs_in, fs_out)
    resampled = resample_poly(digital.astype(np.float64), ratio.numerator, ratio.denominator, axis=0)
    return np.round(resampled).astype(np.int64)


def _ratio(fs_in: float, fs_out: float) -> Fraction:
    return Fraction(fs_out / fs_in).limit_denominator(1000)


def _read(part: PartWriter, job: RecordJob, root: str) -> tuple[WfdbHeader, np.ndarray] | None:
    """Header and digital samples of one record, or None with the reason counted: any error reading it
    (from wfdb or NumPy, on this record only), or a blank or repeated lead name."""
    try:
        header, digital, _how = read_record(Path(root) / job.record)
    except Exception as exc:  # the per-record read only: one bad record is a counted skip (issue 12)
        reason, example = read_failure(exc, job.record)
        part.quality.drop(STAGE, reason, examples=[example])
        return None
    problem = lead_name_problem(header.sig_names)
    if problem is not None:
        part.quality.drop(STAGE, problem, examples=[f"{job.record}: {','.join(header.sig_names)}"])
        return None
    return header, digital


def _start(part: PartWriter, job: RecordJob, header: WfdbHeader) -> int | np.datetime64 | None:
    """The record's start (records table, else header), or None with the reason counted."""
    try:
        start = job.start_us if job.start_us is not None else header.start_time()
    except WfdbError as err:
        part.quality.drop(STAGE, err.reason, examples=[job.record])
        return None
    if start is None:
        part.quality.drop(STAGE, "no start time (records table or header)", examples=[job.record])
    return start


def _ingest_records(
    part: PartWriter,
    jobs: Sequence[RecordJob],
    *,
    root: str,
    fs: float,
    leads: tuple[str, ...] | None,
    window: int,
) -> None:
    for job in jobs:
        read = _read(part, job, root)
        if read is None:
            continue
        header, digital = read
        names = leads or header.sig_names
        columns = lead_order(header.sig_names, names)
        if columns is None:
            part.quality.drop(STAGE, "missing lead", examples=[f"{job.record}: {','.join(header.sig_names)}"])
            continue
        specs = [header.signals[c] for c in columns]
        signal = digital[:, columns].astype(np.int64)
        formats = [s.fmt for s in specs]
        if header.fs != fs:
            if _ratio(header.fs, fs).numerator < 1:
                part.quality.drop(
                    STAGE, f"sampling rate too high to resample to {fs:g} Hz", examples=[job.record]
                )
                continue
            if invalid_samples(signal, formats).any():
                part.quality.drop(
                    STAGE, "invalid samples in a record that needs resampling", examples=[job.record]
                )
                continue
            baseline = np.array([s.baseline for s in specs], dtype=np.int64)
            signal = _resample(signal - baseline, header.fs, fs) + baseline
            formats = ["resampled"] * len(specs)
        stored = _to_int16(signal)
        if stored is None:
            part.quality.drop(STAGE, "digital values outside int16", examples=[job.record])
            continue
        start = _start(part, job, header)
        if start is None:
            continue
        usable, refused = usable_windows(stored, window, formats)
        for reason, count in refused.items():
            part.quality.drop("generic segments", f"window with {reason}", count, [job.record])
        if stored.shape[0] % window:
            part.quality.drop("generic segments", "partial window at recording end", examples=[job.record])
        if not usable.any():
            part.quality.drop(STAGE, "no usable window", examples=[job.record])
            continue
        recording = part.add_recording(
            patient_id=job.patient_id,
            visit_id=job.visit_id,
            start_time=np.datetime64(int(start), "us") if isinstance(start, int) else start,
            fs=fs,
            leads=names,
            digital=stored,
            gain=[s.adc_gain for s in specs],
            baseline=[s.baseline for s in specs],
            extra={"source_path": job.record, "source_fs": header.fs},
        )
        part.add_segments(recording, np.flatnonzero(usable) * window, window)


def _drop_repeats(records: pd.DataFrame, quality: QualityReport) -> pd.DataFrame:
    """A record listed twice: read once when its rows agree (the repeats counted), not at all when they
    name different patients, visits or start times (all its rows counted: which one is right is unknown)."""
    stage, text = "generic records table", records.astype(str)
    disagree = text["record"].isin(text.loc[text.duplicated("record") & ~text.duplicated(), "record"])
    reason = "record listed twice with different patient_id, visit_id or start_time (all its rows dropped)"
    quality.drop(stage, reason, int(disagree.sum()), examples(records["record"], disagree))
    records, text = records[~disagree], text[~disagree]
    repeated = text.duplicated("record").to_numpy()
    quality.drop(stage, REPEATED, int(repeated.sum()), examples(records["record"], repeated))
    return records[~repeated]


def read_record_jobs(path: Path, quality: QualityReport) -> list[RecordJob]:
    """The records table as one job per record to read; repeats and bad start times counted."""
    records = read_table(path, RECORDS_REQUIRED, "records", RECORDS_OPTIONAL)
    records = records.astype({c: str for c in RECORDS_REQUIRED})
    records = _drop_repeats(records, quality)
    starts: list[int | None] = [None] * len(records)
    if "start_time" in records:
        text = records["start_time"].fillna("").astype(str)
        given = (text.str.strip() != "").to_numpy()  # a blank start_time: the header's start
        times, ok = parse_times(text[given], TIME_FORMAT, "start_time", quality, "generic records table")
        if times.dt.tz is not None:
            raise CohortError(f"{path}: start_time has a time zone; give naive times like the labs table")
        micros = times.dt.as_unit("us").to_numpy().view(np.int64)
        keep = np.ones(len(records), dtype=bool)
        keep[np.flatnonzero(given)[~ok.to_numpy()]] = False
        for position, value, good in zip(np.flatnonzero(given), micros, ok.to_numpy(), strict=True):
            if good:
                starts[position] = int(value)
        records = records[keep]
        starts = [s for s, k in zip(starts, keep, strict=True) if k]
    visit = (
        records["visit_id"].fillna("").astype(str)
        if "visit_id" in records
        else pd.Series("", index=records.index, dtype=object)
    )
    return [
        RecordJob(record=r, patient_id=p, visit_id=v or None, start_us=None if s is None else int(s))
        for r, p, v, s in zip(records["record"], records["patient_id"], visit, starts, strict=True)
    ]


def ingest_records(
    writer: CohortWriter,
    jobs: Sequence[RecordJob],
    wfdb_dir: Path,
    *,
    fs: float,
    leads: Sequence[str] | None,
    window: int,
    workers: int | None,
    per_part: int,
    progress: bool,
) -> None:
    """Read, resample, check and store the records of ``jobs`` (from ``wfdb_dir``) into ``writer``'s parts."""
    function = functools.partial(
        _ingest_records, root=str(wfdb_dir), fs=fs, leads=tuple(leads) if leads else None, window=window
    )
    run_parts(writer, split_into_parts(jobs, per_part), function, workers=workers, progress=progress)


def build_generic_cohort(
    labs: Path,
    records: Path,
    wfdb_dir: Path,
    out: Path,
    *,
    patients: Path | None = None,
    fs: float = 500.0,
    segment_seconds: float = 10.0,
    leads: Sequence[str] | None = None,
    workers: int | None = None,
    per_part: int = 500,
    restart: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Read a labs table and WFDB records into a cohort store at ``out``; an interrupted run resumes."""
    wfdb_dir = Path(wfdb_dir).resolve()
    if not wfdb_dir.is_dir():
        raise CohortError(f"{wfdb_dir} not found: point --wfdb at the folder holding the records")
    window = round(segment_seconds * fs)
    parameters = {
        "labs": str(Path(labs).resolve()),
        "records": str(Path(records).resolve()),
        "wfdb": str(wfdb_dir),
        "fs": fs,
        "segment_seconds": segment_seconds,
        "leads": list(leads) if leads else None,
        "per_part": per_part,
    }
    writer = CohortWriter(
        out,
        name=f"generic-{Path(out).name}",
        source="generic",
        parameters=parameters,
        overwrite=overwrite,
        resume=not restart,
    )
    with writer:
        jobs = read_record_jobs(Path(records), writer.quality)
        lab_table = read_generic_labs(Path(labs), writer.quality)
        ingest_records(
            writer,
            jobs,
            wfdb_dir,
            fs=fs,
            leads=leads,
            window=window,
            workers=workers,
            per_part=per_part,
            progress=progress,
        )
        ids = sorted(set(lab_table["patient_id"]) | {job.patient_id for job in jobs})
        if patients is not None:
            patient_table = read_table(Path(patients), ("patient_id", "sex"), "patients").astype(
                {"patient_id": str, "sex": str}
            )
        else:
            patient_table = pd.DataFrame({"patient_id": ids, "sex": [""] * len(ids)})
        writer.set_table("patients", patient_table)
        writer.set_table("visits", _visits(lab_table, jobs))
        writer.set_table("labs", lab_table)
        return writer.commit()


def _visits(labs: pd.DataFrame, jobs: Sequence[RecordJob]) -> pd.DataFrame:
    """Visits named in the inputs; arrival_time is the earliest lab time of the visit (documented)."""
    named = labs.dropna(subset=["visit_id"])
    first = named.groupby("visit_id").agg(patient_id=("patient_id", "first"), arrival_time=("time", "min"))
    extra = {job.visit_id: job.patient_id for job in jobs if job.visit_id and job.visit_id not in first.index}
    rows = [first.reset_index()]
    if extra:
        rows.append(
            pd.DataFrame(
                {
                    "visit_id": list(extra),
                    "patient_id": list(extra.values()),
                    "arrival_time": pd.Series(pd.NaT, index=range(len(extra)), dtype="datetime64[us]"),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)

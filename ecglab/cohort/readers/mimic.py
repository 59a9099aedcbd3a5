"""MIMIC-IV (hosp) + MIMIC-IV-ECG -> cohort store.

- ECGs: ``record_list.csv`` (subject_id, study_id, file_name, ecg_time, path) and the WFDB record at each
  row's ``path`` (the full release nests ``files/p1000/p10000032/s.../...``, the open demo
  ``files/p10000032/s.../...``: the path column is always right). 12 leads at 500 Hz for 10 s, reordered by
  name to I, II, III, aVR, aVL, aVF, V1-V6 (the files store aVF before aVL). Each record is one recording
  and one 10-s segment; its time is ``ecg_time`` of the record list (naive, shifted per patient).
- ``machine_measurements.csv`` (full release only), when present: the machine's intervals and axes are
  kept as ``mm_*`` columns of the recordings table.
- Tables: labs, patients, admissions (as visits) and omr (as vitals) from ``hosp/`` (see
  :mod:`ecglab.cohort.readers.mimic_tables`), limited to the patients that have ECGs. An ECG gets the
  ``hadm_id`` of
  the admission whose [ED registration or admission, discharge] interval holds its time, else no visit.
Every record that cannot be used is counted in the data-quality report with its reason: any error wfdb or
NumPy raises reading it, a bad header value, a blank or repeated lead name, ...; a record listed twice in
``record_list.csv`` (same ``path``) is read once.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.errors import CohortError
from ecglab.cohort.ingest import run_parts, split_into_parts
from ecglab.cohort.parts import PartWriter, RecordingBlock
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers import mimic_tables
from ecglab.cohort.readers.csv_files import read_text_csv, table_errors
from ecglab.cohort.readers.lab_values import examples, numeric_or_missing
from ecglab.cohort.readers.signal_checks import (
    invalid_markers,
    lead_extremes,
    lead_name_problem,
    lead_order,
    reorder_leads,
)
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.readers.wfdb_io import (
    SignalSpec,
    can_read_into,
    read_digital,
    read_failure,
    read_header,
    read_signals,
    record_path,
)
from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.cohort.writer import CohortWriter

RECORD_LIST_COLUMNS = ("subject_id", "study_id", "file_name", "ecg_time", "path")
MACHINE_NUMERIC = (
    "rr_interval",
    "p_onset",
    "p_end",
    "qrs_onset",
    "qrs_end",
    "t_end",
    "p_axis",
    "qrs_axis",
    "t_axis",
)
FS = 500.0
SEGMENT_SAMPLES = 5000
BATCH = 32  # ECGs read before they are checked and written together (32 x 120 kB stays in the CPU's cache)
STAGE = "mimic-iv-ecg records"


@dataclass(frozen=True)
class EcgJob:
    """One ECG to read (picklable, sent to a worker)."""

    subject_id: str
    study_id: str
    path: str
    time_us: int
    visit_id: str | None
    measurements: tuple[tuple[str, float], ...] = ()


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CohortError(f"{path} not found: {what}")
    return path


def read_subjects_file(path: Path) -> set[str]:
    """Subject ids, one per line or in a ``subject_id`` column of a CSV."""
    _require(path, "pass a file of subject ids (one per line, or a CSV with subject_id)")
    with table_errors(path):
        text = path.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].split(",")[0] == "subject_id":
        return set(read_text_csv(path)["subject_id"].str.strip())
    bad = [line for line in lines if not line.isdigit()]
    if bad:
        raise CohortError(f"{path}: not subject ids: {bad[:3]}")
    return set(lines)


def read_record_list(ecg_root: Path, quality: QualityReport, subjects: set[str] | None) -> pd.DataFrame:
    """The record list with parsed times, filtered to ``subjects``; unparseable rows counted and dropped."""
    file = _require(ecg_root / "record_list.csv", "point --mimic-iv-ecg at the MIMIC-IV-ECG folder")
    frame = read_text_csv(file)
    missing = [c for c in RECORD_LIST_COLUMNS if c not in frame.columns]
    if missing:
        raise CohortError(f"{file}: columns {missing} missing; is this MIMIC-IV-ECG's record_list.csv?")
    if subjects is not None:
        frame = frame[frame["subject_id"].isin(subjects)]
    repeated = frame["path"].duplicated().to_numpy()
    quality.drop(
        "mimic-iv-ecg record_list",
        "record listed twice (first row kept)",
        int(repeated.sum()),
        examples(frame["path"], repeated),
    )
    frame = frame[~repeated]
    times, ok = parse_times(
        frame["ecg_time"], "%Y-%m-%d %H:%M:%S", "ecg_time", quality, "mimic-iv-ecg record_list"
    )
    frame = frame.assign(ecg_time=times)[ok.to_numpy()]
    return frame.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable").reset_index(drop=True)


def read_machine_measurements(ecg_root: Path, quality: QualityReport) -> pd.DataFrame | None:
    """The machine's intervals and axes per (subject_id, study_id); a value that is not a number is set to
    missing and counted (the ECG is kept)."""
    file = ecg_root / "machine_measurements.csv"
    if not file.is_file():
        return None
    frame = read_text_csv(file, usecols=lambda c: c in ("subject_id", "study_id", *MACHINE_NUMERIC))
    for column in MACHINE_NUMERIC:
        if column in frame.columns:
            frame[column] = numeric_or_missing(frame[column], quality, "mimic-iv-ecg measurements", column)
    return frame


def assign_visits(ecgs: pd.DataFrame, visits: pd.DataFrame) -> pd.Series:
    """hadm_id of the admission whose interval holds each ECG time (the latest one), else None."""
    spans = visits[["patient_id", "visit_id", "arrival_time", "dischtime"]].dropna(
        subset=["arrival_time", "dischtime"]
    )
    pairs = (
        ecgs[["subject_id", "ecg_time"]]
        .reset_index()
        .merge(spans, left_on="subject_id", right_on="patient_id")
    )
    inside = pairs[(pairs["ecg_time"] >= pairs["arrival_time"]) & (pairs["ecg_time"] <= pairs["dischtime"])]
    best = inside.sort_values("arrival_time").groupby("index")["visit_id"].last()
    found = best.reindex(ecgs.index)
    return pd.Series([v if isinstance(v, str) else None for v in found], index=ecgs.index, dtype=object)


def _ingest_ecgs(part: PartWriter, jobs: Sequence[EcgJob], *, root: str, leads: tuple[str, ...]) -> None:
    """Worker: read and check each ECG and store the usable ones, in order, in one block of the part (one
    recording and one 10-s segment each). ECGs are read into a small reused batch (a record of exactly 10 s
    with one format-16 file of the wanted leads straight from the file, its leads then reordered in place);
    each full batch is checked and its usable ECGs written while still in the CPU's cache."""
    block = RecordingBlock(
        part,
        leads=leads,
        length=SEGMENT_SAMPLES,
        dtype="int16",
        fs=FS,
        time_zone=None,
        n_bytes=len(jobs) * SEGMENT_SAMPLES * len(leads) * 2,
    )
    batch = np.empty((max(1, min(BATCH, len(jobs))), SEGMENT_SAMPLES, len(leads)), dtype=np.int16)
    read: list[tuple[EcgJob, list[SignalSpec]]] = []  # the ECGs in the batch so far
    for job in jobs:
        specs = _read_ecg(part, job, root, leads, batch[len(read)])
        if specs is None:
            continue
        read.append((job, specs))
        if len(read) == len(batch):
            _store_usable(part, block, batch, read)
            read = []
    _store_usable(part, block, batch[: len(read)], read)
    block.close()


def _store_usable(
    part: PartWriter,
    block: RecordingBlock,
    ecgs: np.ndarray,
    read: list[tuple[EcgJob, list[SignalSpec]]],
) -> None:
    """Add the ECGs of a batch (ecgs x samples x leads) that have no invalid sample and no flat lead to the
    block; the others are counted."""
    if not read:
        return
    jobs = [job for job, _ in read]
    usable = _usable_ecgs(part, ecgs, [[s.fmt for s in specs] for _, specs in read], jobs)
    kept = [pair for pair, ok in zip(read, usable, strict=True) if ok]
    block.extend(
        ecgs if usable.all() else ecgs[usable],
        patient_ids=[job.subject_id for job, _ in kept],
        visit_ids=[job.visit_id for job, _ in kept],
        start_us=[job.time_us for job, _ in kept],
        gains=np.array([[s.adc_gain for s in specs] for _, specs in kept], dtype=np.float64).reshape(
            len(kept), ecgs.shape[2]
        ),
        baselines=np.array([[s.baseline for s in specs] for _, specs in kept], dtype=np.float64).reshape(
            len(kept), ecgs.shape[2]
        ),
        extra=[_extra_columns(job) for job, _ in kept],
    )


def _read_ecg(
    part: PartWriter, job: EcgJob, root: str, leads: tuple[str, ...], slot: np.ndarray
) -> list[SignalSpec] | None:
    """Read one ECG's wanted leads, in order, into ``slot`` (samples x leads) and return their signal
    specs; None, with the reason counted, when it cannot be used. The checks and their order do not depend
    on how it is read."""
    direct = False
    try:
        header = read_header(record_path(root, job.path))
        direct = header.n_samples == SEGMENT_SAMPLES and header.n_sig == len(leads) and can_read_into(header)
        digital = read_digital(header, out=slot) if direct else read_signals(header)[0]
    except Exception as exc:  # the per-record read only: one bad record is a counted skip (issue 12)
        reason, example = read_failure(exc, job.path)
        part.quality.drop(STAGE, reason, examples=[example])
        return None
    problem = lead_name_problem(header.sig_names)
    if problem is not None:
        part.quality.drop(STAGE, problem, examples=[f"{job.path}: {','.join(header.sig_names)}"])
        return None
    if header.fs != FS:
        part.quality.drop(STAGE, f"sampling rate not {FS:g} Hz", examples=[f"{job.path}: {header.fs}"])
        return None
    columns = lead_order(header.sig_names, leads)
    if columns is None:
        part.quality.drop(STAGE, "missing lead", examples=[f"{job.path}: {','.join(header.sig_names)}"])
        return None
    if digital.shape[0] < SEGMENT_SAMPLES:
        part.quality.drop(STAGE, "shorter than 10 s", examples=[f"{job.path}: {digital.shape[0]}"])
        return None
    if digital.shape[0] > SEGMENT_SAMPLES:
        part.quality.drop(STAGE, "samples beyond 10 s (not stored)", examples=[job.path])
    if direct and len(set(columns)) == len(columns):  # the leads are a permutation of the file's signals
        reorder_leads(slot, columns)  # while the samples are in the CPU's cache
        return [header.signals[c] for c in columns]
    selected = digital[:SEGMENT_SAMPLES, columns]
    if selected.dtype != np.int16 and (selected.min() < -(2**15) or selected.max() >= 2**15):
        part.quality.drop(STAGE, "digital values outside int16", examples=[job.path])
        return None
    slot[...] = selected
    return [header.signals[c] for c in columns]


def _usable_ecgs(
    part: PartWriter, ecgs: np.ndarray, formats: list[list[str]], jobs: list[EcgJob]
) -> np.ndarray:
    """Which ECGs of a batch have no invalid samples and no flat lead; the others are counted."""
    lowest, highest = lead_extremes(ecgs)  # per ECG and lead
    shared = {tuple(row) for row in formats}
    if len(shared) == 1:
        markers = invalid_markers(shared.pop())
    else:
        markers = np.stack([invalid_markers(tuple(row)) for row in formats])
    invalid = (lowest == markers).any(axis=1)  # the marker is the format's most negative value
    flat = (lowest == highest).any(axis=1) & ~invalid
    for mask, reason in ((invalid, "invalid (NaN) samples"), (flat, "a flat lead")):
        part.quality.drop(STAGE, reason, int(mask.sum()), [jobs[i].path for i in np.flatnonzero(mask)])
    return ~(invalid | flat)


def _extra_columns(job: EcgJob) -> dict[str, Any]:
    """The recordings-table columns of one ECG beyond the standard ones."""
    return {"study_id": job.study_id, "source_path": job.path, **dict(job.measurements)}


def _jobs(ecgs: pd.DataFrame, measurements: pd.DataFrame | None) -> list[EcgJob]:
    if measurements is not None:
        ecgs = ecgs.merge(measurements, on=["subject_id", "study_id"], how="left")
    micros = ecgs["ecg_time"].dt.as_unit("us").to_numpy().view(np.int64).tolist()
    mm_cols = [c for c in MACHINE_NUMERIC if c in ecgs.columns]
    # one tuple of (name, value) pairs per ECG, built column by column
    mm_values = [[(f"mm_{c}", float(v)) for v in ecgs[c].tolist()] for c in mm_cols]
    measured = list(zip(*mm_values, strict=True)) if mm_cols else [()] * len(ecgs)
    columns = (ecgs[c].tolist() for c in ("subject_id", "study_id", "path", "visit_id"))
    return [
        EcgJob(
            subject_id=subject_id,
            study_id=study_id,
            path=path,
            time_us=time_us,
            visit_id=visit_id,
            measurements=pairs,
        )
        for subject_id, study_id, path, visit_id, time_us, pairs in zip(
            *columns, micros, measured, strict=True
        )
    ]


def build_mimic_cohort(
    mimic_iv: Path,
    mimic_iv_ecg: Path,
    out: Path,
    *,
    leads: Sequence[str] = STANDARD_LEADS,
    subjects: set[str] | None = None,
    workers: int | None = None,
    per_part: int = 500,
    restart: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Read MIMIC-IV + MIMIC-IV-ECG into a cohort store at ``out``; an interrupted run resumes."""
    mimic_iv, mimic_iv_ecg = Path(mimic_iv).resolve(), Path(mimic_iv_ecg).resolve()
    hosp = _require(mimic_iv / "hosp", "point --mimic-iv at the MIMIC-IV folder that holds hosp/")
    _require(mimic_iv_ecg, "point --mimic-iv-ecg at the MIMIC-IV-ECG folder")
    leads = tuple(leads)
    parameters: dict[str, Any] = {
        "mimic_iv": str(mimic_iv),
        "mimic_iv_ecg": str(mimic_iv_ecg),
        "leads": list(leads),
        "subjects": None
        if subjects is None
        else hashlib.sha256(",".join(sorted(subjects)).encode()).hexdigest(),
        "per_part": per_part,
    }
    writer = CohortWriter(
        out,
        name=f"mimic-iv-{Path(out).name}",
        source="mimic-iv",
        source_version="",
        parameters=parameters,
        overwrite=overwrite,
        resume=not restart,
    )
    with writer:
        ecgs = read_record_list(mimic_iv_ecg, writer.quality, subjects)
        ecg_subjects = set(ecgs["subject_id"])
        patients = mimic_tables.read_mimic_patients(hosp, writer.quality, subjects=ecg_subjects)
        visits = mimic_tables.read_mimic_visits(hosp, writer.quality, subjects=ecg_subjects)
        ecgs["visit_id"] = assign_visits(ecgs, visits)
        measurements = read_machine_measurements(mimic_iv_ecg, writer.quality)
        parts = split_into_parts(_jobs(ecgs, measurements), per_part)
        run_parts(
            writer,
            parts,
            functools.partial(_ingest_ecgs, root=str(mimic_iv_ecg), leads=leads),
            workers=workers,
            progress=progress,
            unit="ecg",
        )
        writer.set_table("patients", patients)
        writer.set_table("visits", visits)
        labs = mimic_tables.stream_mimic_labs(
            hosp, writer.quality, writer.scratch_folder("labs"), subjects=ecg_subjects
        )
        writer.stream_table("labs", labs)  # streamed to Parquet: labevents is never gathered whole
        writer.set_table("vitals", mimic_tables.read_mimic_omr(hosp, writer.quality, subjects=ecg_subjects))
        return writer.commit(
            extra={
                "mimic": {"ecgs_listed": len(ecgs), "ecgs_without_visit": int(ecgs["visit_id"].isna().sum())}
            }
        )

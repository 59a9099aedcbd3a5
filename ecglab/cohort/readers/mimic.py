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
Every record that cannot be used is counted in the data-quality report with its reason.
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
from ecglab.cohort.parts import PartWriter
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers import mimic_tables
from ecglab.cohort.readers.signal_checks import INVALID_SAMPLE, lead_order
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.readers.wfdb_io import WfdbError, read_record
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
    text = _require(path, "pass a file of subject ids (one per line, or a CSV with subject_id)").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].split(",")[0] == "subject_id":
        return set(pd.read_csv(path, dtype=str)["subject_id"].str.strip())
    bad = [line for line in lines if not line.isdigit()]
    if bad:
        raise CohortError(f"{path}: not subject ids: {bad[:3]}")
    return set(lines)


def read_record_list(ecg_root: Path, quality: QualityReport, subjects: set[str] | None) -> pd.DataFrame:
    """The record list with parsed times, filtered to ``subjects``; unparseable rows counted and dropped."""
    file = _require(ecg_root / "record_list.csv", "point --mimic-iv-ecg at the MIMIC-IV-ECG folder")
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    missing = [c for c in RECORD_LIST_COLUMNS if c not in frame.columns]
    if missing:
        raise CohortError(f"{file}: columns {missing} missing; is this MIMIC-IV-ECG's record_list.csv?")
    if subjects is not None:
        frame = frame[frame["subject_id"].isin(subjects)]
    times, ok = parse_times(
        frame["ecg_time"], "%Y-%m-%d %H:%M:%S", "ecg_time", quality, "mimic-iv-ecg record_list"
    )
    frame = frame.assign(ecg_time=times)[ok.to_numpy()]
    return frame.sort_values(["subject_id", "ecg_time", "study_id"], kind="stable").reset_index(drop=True)


def read_machine_measurements(ecg_root: Path) -> pd.DataFrame | None:
    file = ecg_root / "machine_measurements.csv"
    if not file.is_file():
        return None
    frame = pd.read_csv(
        file,
        dtype={"subject_id": str, "study_id": str},
        usecols=lambda c: c in ("subject_id", "study_id", *MACHINE_NUMERIC),
    )
    for column in MACHINE_NUMERIC:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="raise")
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
    """Worker: read and check each ECG, then store the part's usable ECGs in one block (one recording and
    one 10-s segment each)."""
    kept: list[EcgJob] = []
    block = np.empty((len(jobs), SEGMENT_SAMPLES, len(leads)), dtype=np.int16)  # ecgs x samples x leads
    gains, baselines, formats = [], [], []
    for job in jobs:
        try:
            header, digital, _how = read_record(Path(root) / job.path)
        except WfdbError as err:
            part.quality.drop(STAGE, err.reason, examples=[job.path])
            continue
        if header.fs != FS:
            part.quality.drop(STAGE, f"sampling rate not {FS:g} Hz", examples=[f"{job.path}: {header.fs}"])
            continue
        columns = lead_order(header.sig_names, leads)
        if columns is None:
            part.quality.drop(STAGE, "missing lead", examples=[f"{job.path}: {','.join(header.sig_names)}"])
            continue
        if digital.shape[0] < SEGMENT_SAMPLES:
            part.quality.drop(STAGE, "shorter than 10 s", examples=[f"{job.path}: {digital.shape[0]}"])
            continue
        if digital.shape[0] > SEGMENT_SAMPLES:
            part.quality.drop(STAGE, "samples beyond 10 s (not stored)", examples=[job.path])
        selected = digital[:SEGMENT_SAMPLES, columns]
        if selected.dtype != np.int16 and (selected.min() < -(2**15) or selected.max() >= 2**15):
            part.quality.drop(STAGE, "digital values outside int16", examples=[job.path])
            continue
        specs = [header.signals[c] for c in columns]
        block[len(kept)] = selected
        kept.append(job)
        gains.append([s.adc_gain for s in specs])
        baselines.append([s.baseline for s in specs])
        formats.append([s.fmt for s in specs])
    if not kept:
        return
    block = block[: len(kept)]
    usable = _usable_ecgs(part, block, formats, kept)
    keep = [job for job, ok in zip(kept, usable, strict=True) if ok]
    part.add_recording_block(
        patient_ids=[job.subject_id for job in keep],
        visit_ids=[job.visit_id for job in keep],
        start_us=np.array([job.time_us for job in keep], dtype=np.int64),
        time_zone=None,
        fs=FS,
        leads=leads,
        digital=block if usable.all() else block[usable],
        gains=np.asarray(gains, dtype=np.float64)[usable],
        baselines=np.asarray(baselines, dtype=np.float64)[usable],
        extra=_extra_columns(keep),
    )


def _usable_ecgs(
    part: PartWriter, block: np.ndarray, formats: list[list[str]], jobs: list[EcgJob]
) -> np.ndarray:
    """Which ECGs of a block have no invalid samples and no flat lead; the others are counted."""
    sentinels = np.array([[INVALID_SAMPLE.get(f, np.iinfo(np.int64).min) for f in row] for row in formats])
    lowest, highest = block.min(axis=1), block.max(axis=1)  # per ECG and lead
    invalid = (lowest == sentinels).any(axis=1)  # the marker is the format's most negative value
    flat = (lowest == highest).any(axis=1) & ~invalid
    for mask, reason in ((invalid, "invalid (NaN) samples"), (flat, "a flat lead")):
        part.quality.drop(STAGE, reason, int(mask.sum()), [jobs[i].path for i in np.flatnonzero(mask)])
    return ~(invalid | flat)


def _extra_columns(jobs: list[EcgJob]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        "study_id": [job.study_id for job in jobs],
        "source_path": [job.path for job in jobs],
    }
    for key, _ in jobs[0].measurements if jobs else ():
        columns[key] = [dict(job.measurements)[key] for job in jobs]
    return columns


def _jobs(ecgs: pd.DataFrame, measurements: pd.DataFrame | None) -> list[EcgJob]:
    if measurements is not None:
        ecgs = ecgs.merge(measurements, on=["subject_id", "study_id"], how="left")
    micros = ecgs["ecg_time"].dt.as_unit("us").to_numpy().view(np.int64)
    mm_cols = [c for c in MACHINE_NUMERIC if c in ecgs.columns]
    return [
        EcgJob(
            subject_id=row.subject_id,
            study_id=row.study_id,
            path=row.path,
            time_us=int(micros[i]),
            visit_id=row.visit_id,
            measurements=tuple((f"mm_{c}", float(getattr(row, c))) for c in mm_cols),
        )
        for i, row in enumerate(ecgs.itertuples(index=False))
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
        parts = split_into_parts(_jobs(ecgs, read_machine_measurements(mimic_iv_ecg)), per_part)
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
        writer.set_table("labs", mimic_tables.read_mimic_labs(hosp, writer.quality, subjects=ecg_subjects))
        writer.set_table("vitals", mimic_tables.read_mimic_omr(hosp, writer.quality, subjects=ecg_subjects))
        return writer.commit(
            extra={
                "mimic": {"ecgs_listed": len(ecgs), "ecgs_without_visit": int(ecgs["visit_id"].isna().sum())}
            }
        )

"""MEDS dataset + WFDB records -> cohort store (``ecglab cohort meds``).

Inputs:
- ``--meds DIR``: a MEDS dataset: ``data/**/*.parquet`` (events: :mod:`ecglab.cohort.readers.meds_events`),
  ``metadata/subject_splits.parquet`` (``subject_id``, ``split``; optional), ``metadata/codes.parquet``
  (``code``, ``description``; optional: the description of a lab code names the lab for the negative-value
  and unit rules, as MIMIC-IV's ``d_labitems`` label does) and ``metadata/dataset.json`` (optional; kept in
  ``cohort.json`` as provenance).
- ``--records``/``--wfdb``: the records table and WFDB folder of the generic reader
  (:mod:`ecglab.cohort.readers.generic`, read by its code), ``patient_id`` being the MEDS ``subject_id``
  as text. The records table takes no ``visit_id`` here (MEDS has no visits; see below). A patient_id that
  is not an integer, or a subject with no event in the MEDS data, is a CohortError.
- ``--codes MAP``: optional mapping of codes to labs (``code``, ``lab``, ``unit``); MIMIC-IV's
  ``LAB//<itemid>//<unit>`` codes are labs without it.

What the store gets:
- labs: the lab events of the records' subjects (only theirs are read, as the MIMIC-IV reader keeps the
  patients with ECGs), through the generic reader's row rules (``clean_labs``: negative values, duplicates,
  conflicts, units); extra columns ``meds_code`` (the event's code) and ``lab_source`` (``map``/``mimic``).
  No reference ranges or flags (MEDS has none).
- patients: ``sex`` from ``GENDER//<sex>`` ("" when none; a subject with two is counted and keeps the
  first), ``birth_time`` (``MEDS_BIRTH``), ``death_time`` (``MEDS_DEATH``), ``anchor_age`` 0 and
  ``anchor_year`` the birth year, so that the age at an anchor is its year minus the birth year
  (:func:`ecglab.tasks.subgroups.age_at_anchor`, the same as MIMIC-IV's anchor_age and anchor_year give it),
  and ``split_meds``: train/tuning/held_out as ``train``/``val``/``test`` (other values kept as they are;
  missing for a subject the splits file does not list).
- visits: one per subject, ``visit_id`` ``subject-<id>``, ``arrival_time`` the subject's first timed event
  (birth and death aside), and ``split_meds``; every lab and record carries its subject's visit. So a task
  spec can take the MEDS split as ``split: {kind: source, column: split_meds}`` (a source split is read per
  visit). Admissions (``HOSPITAL_ADMISSION//...``) are not made visits: they are counted with the events not
  read.
- ``cohort.json`` extra: ``lab_coding`` ``mimic-iv`` when every lab row came from an unmapped ``LAB//`` code
  (the AnyECG-Lab panel then resolves MIMIC-IV itemids), else ``mcmed``; ``meds``: the dataset folder, the
  files read, ``dataset.json``, the counts of events (read, and kept: labs and demographics) and subjects.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ecglab.cohort.errors import CohortError
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers import meds_events
from ecglab.cohort.readers.csv_files import table_errors
from ecglab.cohort.readers.generic import RecordJob, clean_labs, ingest_records, read_record_jobs
from ecglab.cohort.writer import CohortWriter

SPLIT_COLUMN = "split_meds"
SPLIT_NAMES = {"train": "train", "tuning": "val", "held_out": "test"}
VISIT_PREFIX = "subject-"
_INTEGER = re.compile(r"-?[0-9]+")


def _subjects(jobs: Sequence[RecordJob], path: Path) -> tuple[list[RecordJob], set[int]]:
    """The jobs with canonical integer patient ids and their visit (``subject-<id>``), and the subject ids."""
    bad = [job.patient_id for job in jobs if not _INTEGER.fullmatch(job.patient_id.strip())]
    if bad:
        raise CohortError(f"{path}: patient_id must be the MEDS subject_id (an integer), found {bad[:3]}")
    given = [job.record for job in jobs if job.visit_id]
    if given:
        raise CohortError(
            f"{path}: visit_id is not taken with --meds (each MEDS subject is one visit carrying its split); "
            f"remove the column (records {given[:3]})"
        )
    fixed = []
    for job in jobs:
        subject = str(int(job.patient_id))
        fixed.append(dataclasses.replace(job, patient_id=subject, visit_id=VISIT_PREFIX + subject))
    return fixed, {int(job.patient_id) for job in fixed}


def read_subject_splits(meds_dir: Path) -> pd.Series | None:
    """``metadata/subject_splits.parquet`` as subject_id (int) -> split; None when the file is absent."""
    path = Path(meds_dir) / "metadata" / "subject_splits.parquet"
    if not path.is_file():
        return None
    with table_errors(path):
        frame = pq.read_table(path).to_pandas()
    missing = [c for c in ("subject_id", "split") if c not in frame.columns]
    if missing:
        raise CohortError(
            f"{path}: column(s) {', '.join(missing)} missing (MEDS subject_splits: subject_id, split)"
        )
    if not pd.api.types.is_integer_dtype(frame["subject_id"]):
        raise CohortError(f"{path}: subject_id should be integer, found {frame['subject_id'].dtype}")
    if frame["subject_id"].duplicated().any():
        twice = frame.loc[frame["subject_id"].duplicated(), "subject_id"].head(3).tolist()
        raise CohortError(f"{path}: subject(s) listed twice: {twice}")
    return frame.set_index("subject_id")["split"].astype(object)


def read_code_names(meds_dir: Path) -> dict[str, str]:
    """``metadata/codes.parquet``: code -> description (empty when the file or the column is absent)."""
    path = Path(meds_dir) / "metadata" / "codes.parquet"
    if not path.is_file():
        return {}
    with table_errors(path):
        frame = pq.read_table(path).to_pandas()
    if "code" not in frame.columns:
        raise CohortError(f"{path}: no column 'code' (MEDS codes metadata: code, description, ...)")
    if "description" not in frame.columns:
        return {}
    named = frame.dropna(subset=["code", "description"])
    return dict(zip(named["code"].astype(str), named["description"].astype(str), strict=True))


def read_dataset_json(meds_dir: Path) -> dict[str, Any]:
    """``metadata/dataset.json`` (empty when absent); CohortError when it is not a JSON object."""
    path = Path(meds_dir) / "metadata" / "dataset.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CohortError(f"{path}: not a JSON file ({err})") from None
    if not isinstance(data, dict):
        raise CohortError(f"{path}: should hold a JSON object, found {type(data).__name__}")
    return data


def _lab_names(kinds: pd.DataFrame, descriptions: dict[str, str]) -> dict[str, str]:
    """Lab code -> name for the row rules: a code's description (the first of a lab's codes that has one)."""
    names: dict[str, str] = {}
    for code, row in kinds[kinds["lab"] != ""].iterrows():
        if code in descriptions and row["lab"] not in names:
            names[row["lab"]] = descriptions[code]
    return names


def meds_labs(
    events: pd.DataFrame, kinds: pd.DataFrame, descriptions: dict[str, str], quality: QualityReport
) -> tuple[pd.DataFrame, str]:
    """The store's labs table and its lab coding (``mimic-iv`` or ``mcmed``)."""
    rows = meds_events.lab_rows(events, kinds, quality)
    n = len(rows)
    labs = pd.DataFrame(
        {
            "patient_id": rows["patient_id"],
            "visit_id": VISIT_PREFIX + rows["patient_id"],
            "time": rows["time"].astype("datetime64[us]"),
            "lab": rows["lab"],
            "value": rows["value"].astype(np.float64),
            "censored": rows["censored"],
            "unit": rows["unit"],
            "ref_low": np.full(n, np.nan),
            "ref_high": np.full(n, np.nan),
            "source_flag": pd.Series([""] * n, dtype=object),
            "meds_code": rows["meds_code"],
            "lab_source": rows["lab_source"],
        }
    )
    sources = set(labs["lab_source"])
    if sources == {meds_events.FROM_MAP, meds_events.FROM_MIMIC}:
        quality.note("meds labs", "labs from both LAB// codes and the mapping (lab_coding mcmed)", n)
    coding = "mimic-iv" if sources == {meds_events.FROM_MIMIC} else "mcmed"
    return clean_labs(labs, quality, "meds labs", _lab_names(kinds, descriptions)), coding


def _first_per_subject(
    events: pd.DataFrame, kinds: pd.DataFrame, kind: str, quality: QualityReport
) -> pd.Series:
    """subject_id -> the first event of ``kind`` (a Series of its rows); several different ones noted."""
    rows = events[events["code"].map(kinds["kind"]) == kind]
    value = rows["code"].map(kinds["unit"]) if kind == "sex" else rows["time"]
    frame = pd.DataFrame({"subject_id": rows["subject_id"], "value": value}).dropna()
    several = frame.drop_duplicates().groupby("subject_id")["value"].nunique()
    several = several[several > 1]
    reason = f"subject with several different {kind} events (the first kept)"
    quality.note("meds demographics", reason, len(several), [str(s) for s in several.index[:5]])
    return frame.drop_duplicates("subject_id").set_index("subject_id")["value"]


def meds_patients(
    events: pd.DataFrame,
    kinds: pd.DataFrame,
    subjects: list[int],
    splits: pd.Series | None,
    quality: QualityReport,
) -> pd.DataFrame:
    """One row per subject: patient_id, sex, birth_time, death_time, anchor_age, anchor_year, split_meds."""
    sex = _first_per_subject(events, kinds, "sex", quality).reindex(subjects)
    birth = _first_per_subject(events, kinds, "birth", quality).reindex(subjects).astype("datetime64[us]")
    death = _first_per_subject(events, kinds, "death", quality).reindex(subjects).astype("datetime64[us]")
    patients = pd.DataFrame(
        {
            "patient_id": [str(s) for s in subjects],
            "sex": sex.fillna("").astype(str).to_numpy(dtype=object),
            "birth_time": birth.to_numpy(),
            "death_time": death.to_numpy(),
            "anchor_age": np.where(birth.isna(), np.nan, 0.0),
            "anchor_year": birth.dt.year.astype(np.float64).to_numpy(),
        }
    )
    quality.note("meds demographics", "subject without MEDS_BIRTH (age unknown)", int(birth.isna().sum()))
    if splits is not None:
        named = splits.reindex(subjects)
        quality.note("meds splits", "subject not in subject_splits.parquet", int(named.isna().sum()))
        patients[SPLIT_COLUMN] = named.map(lambda s: SPLIT_NAMES.get(s, s)).to_numpy(dtype=object)
    return patients


def meds_visits(first_time: pd.Series, patients: pd.DataFrame) -> pd.DataFrame:
    """One visit per subject (``subject-<id>``), arriving at the subject's first timed event (birth and
    death aside; ``first_time``: subject_id -> that time)."""
    first = first_time
    ids = patients["patient_id"].astype(int)
    visits = pd.DataFrame(
        {
            "visit_id": VISIT_PREFIX + patients["patient_id"],
            "patient_id": patients["patient_id"],
            "arrival_time": first.reindex(ids).astype("datetime64[us]").to_numpy(),
        }
    )
    if SPLIT_COLUMN in patients:
        visits[SPLIT_COLUMN] = patients[SPLIT_COLUMN].to_numpy(dtype=object)
    return visits


def build_meds_cohort(
    meds: Path,
    records: Path,
    wfdb_dir: Path,
    out: Path,
    *,
    codes: Path | None = None,
    fs: float = 500.0,
    segment_seconds: float = 10.0,
    leads: Sequence[str] | None = None,
    workers: int | None = None,
    per_part: int = 500,
    restart: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Read a MEDS dataset and WFDB records into a cohort store at ``out``; an interrupted run resumes."""
    meds, wfdb_dir = Path(meds).resolve(), Path(wfdb_dir).resolve()
    files = meds_events.data_files(meds)
    mapping = meds_events.read_code_map(Path(codes)) if codes is not None else None
    if not wfdb_dir.is_dir():
        raise CohortError(f"{wfdb_dir} not found: point --wfdb at the folder holding the records")
    parameters = {
        "meds": str(meds),
        "records": str(Path(records).resolve()),
        "wfdb": str(wfdb_dir),
        "codes": None if mapping is None else {"path": str(mapping.path.resolve()), "labs": mapping.labs},
        "fs": fs,
        "segment_seconds": segment_seconds,
        "leads": list(leads) if leads else None,
        "per_part": per_part,
    }
    name = f"meds-{Path(out).name}"
    writer = CohortWriter(
        out, name=name, source="meds", parameters=parameters, overwrite=overwrite, resume=not restart
    )
    with writer:
        jobs, subjects = _subjects(read_record_jobs(Path(records), writer.quality), Path(records))
        read = meds_events.read_events(files, subjects, mapping, writer.quality)
        events, kinds = read.events, read.kinds
        absent = sorted(subjects - read.subjects)
        if absent:
            raise CohortError(
                f"{records}: {len(absent)} subject(s) have no event in {meds / 'data'}, e.g. {absent[:3]}"
            )
        labs, coding = meds_labs(events, kinds, read_code_names(meds), writer.quality)
        patients = meds_patients(events, kinds, sorted(subjects), read_subject_splits(meds), writer.quality)
        window = round(segment_seconds * fs)
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
        writer.set_table("patients", patients)
        writer.set_table("visits", meds_visits(read.first_time, patients))
        writer.set_table("labs", labs)
        provenance = {
            "path": str(meds),
            "files": [str(f.relative_to(meds)) for f in files],
            "dataset": read_dataset_json(meds),
            "events_read": read.n_events,
            "events_kept": len(events),
            "subjects": len(subjects),
            "split_column": SPLIT_COLUMN if SPLIT_COLUMN in patients else None,
        }
        return writer.commit(extra={"lab_coding": coding, "meds": provenance})

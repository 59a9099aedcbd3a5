"""MC-MED -> cohort store.

- Waveforms: ``waveforms/{last 3 digits of CSN}/{CSN}/II/{CSN}_{seg}.hea/.dat``: lead II at 500 Hz, one
  WFDB record per monitoring segment (split where monitoring stopped). Each record is stored once, whole, as a
  recording; 10-s windows are index rows into it. A window with invalid (NaN) samples or a flat signal is not
  indexed, and the samples after the last whole 10-s window are not indexed: both are counted. A record's
  start is its header's base_date/base_time, shifted like the tables and, like them, in UTC.
- Tables: visits.csv (patients and visits, with the split files), labs.csv, numerics.csv (as vitals); see
  :mod:`ecglab.cohort.readers.mcmed_tables`. A CSN with waveforms but no row in visits.csv is counted and
  skipped.
A record that cannot be read (any error wfdb or NumPy raises on it, a bad header value, a blank or repeated
lead name) is counted with its reason and the ingest goes on.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.cohort.errors import CohortError
from ecglab.cohort.ingest import run_parts, split_into_parts
from ecglab.cohort.parts import PartWriter
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers import mcmed_tables
from ecglab.cohort.readers.signal_checks import lead_name_problem, lead_order, usable_windows
from ecglab.cohort.readers.wfdb_io import WfdbError, read_failure, read_record
from ecglab.cohort.writer import CohortWriter

FS = 500.0
WINDOW_SAMPLES = 5000
STAGE = "mc-med waveforms"
_SEGMENT_FILE = re.compile(r"^(?P<csn>\d+)_(?P<seg>\d+)\.hea$")


@dataclass(frozen=True)
class WaveformJob:
    """One lead-II WFDB record to read (picklable, sent to a worker)."""

    csn: str
    mrn: str
    segment: int
    path: str  # relative to the MC-MED root, without extension


def discover_waveforms(root: Path, visits: pd.DataFrame, quality: QualityReport) -> list[WaveformJob]:
    """Every lead-II record under ``waveforms/``, in CSN and segment order; orphans counted and skipped."""
    base = root / "waveforms"
    if not base.is_dir():
        raise CohortError(f"{base} not found: point --root at the MC-MED folder that holds waveforms/")
    mrn_of = dict(zip(visits["visit_id"], visits["patient_id"], strict=True))
    jobs = []
    for group in sorted(os.scandir(base), key=lambda e: e.name):
        if not group.is_dir():
            continue
        for visit in sorted(os.scandir(group.path), key=lambda e: e.name):
            lead_dir = Path(visit.path) / "II"
            if not lead_dir.is_dir():
                continue
            files = sorted(
                (int(m["seg"]), m["csn"], name)
                for name in os.listdir(lead_dir)
                if (m := _SEGMENT_FILE.match(name))
            )
            csn = visit.name
            if csn not in mrn_of:
                quality.drop(STAGE, "CSN with waveforms but no visit row", len(files), examples=[csn])
                continue
            if group.name != csn[-3:]:
                quality.drop(STAGE, "CSN folder under the wrong last-3-digits folder", len(files), [csn])
                continue
            for seg, file_csn, name in files:
                if file_csn != csn:
                    quality.drop(STAGE, "segment file named for another CSN", examples=[f"{csn}/{name}"])
                    continue
                rel = Path("waveforms") / group.name / csn / "II" / name[: -len(".hea")]
                jobs.append(WaveformJob(csn=csn, mrn=mrn_of[csn], segment=seg, path=str(rel)))
    return jobs


def _ingest_waveforms(part: PartWriter, jobs: Sequence[WaveformJob], *, root: str) -> None:
    """Worker: store each record whole and index its usable 10-s windows."""
    for job in jobs:
        try:
            header, digital, _how = read_record(Path(root) / job.path)
        except Exception as exc:  # the per-record read only: one bad record is a counted skip (issue 12)
            reason, example = read_failure(exc, job.path)
            part.quality.drop(STAGE, reason, examples=[example])
            continue
        problem = lead_name_problem(header.sig_names)
        if problem is not None:
            part.quality.drop(STAGE, problem, examples=[f"{job.path}: {','.join(header.sig_names)}"])
            continue
        if header.fs != FS:
            part.quality.drop(STAGE, f"sampling rate not {FS:g} Hz", examples=[f"{job.path}: {header.fs}"])
            continue
        columns = lead_order(header.sig_names, ("II",))
        if columns is None:
            part.quality.drop(STAGE, "no lead II signal", examples=[f"{job.path}: {header.sig_names}"])
            continue
        try:
            start = header.start_time()
        except WfdbError as err:
            part.quality.drop(STAGE, err.reason, examples=[job.path])
            continue
        if start is None:
            part.quality.drop(STAGE, "no base date/time in header", examples=[job.path])
            continue
        signal = digital[:, columns]
        info = np.iinfo(np.int16)
        if signal.size and (signal.min() < info.min or signal.max() > info.max):
            part.quality.drop(STAGE, "digital values outside int16", examples=[job.path])
            continue
        if signal.shape[0] % WINDOW_SAMPLES:
            part.quality.drop("mc-med segments", "partial 10-s window at recording end", examples=[job.path])
        usable, refused = usable_windows(signal, WINDOW_SAMPLES, [header.signals[columns[0]].fmt])
        for reason, count in refused.items():
            part.quality.drop("mc-med segments", f"10-s window with {reason}", count, [job.path])
        starts = np.flatnonzero(usable) * WINDOW_SAMPLES
        if not len(starts):
            part.quality.drop(STAGE, "no usable 10-s window", examples=[job.path])
            continue
        spec = header.signals[columns[0]]
        recording = part.add_recording(
            patient_id=job.mrn,
            visit_id=job.csn,
            start_time=pd.Timestamp(start).tz_localize("UTC"),
            fs=FS,
            leads=("II",),
            digital=signal.astype(np.int16),
            gain=[spec.adc_gain],
            baseline=[spec.baseline],
            extra={"source_path": job.path, "segment_number": job.segment},
        )
        part.add_segments(recording, starts, WINDOW_SAMPLES)


def build_mcmed_cohort(
    root: Path,
    out: Path,
    *,
    workers: int | None = None,
    per_part: int = 200,
    restart: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Read an MC-MED folder into a cohort store at ``out``; an interrupted run resumes."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise CohortError(f"{root} not found: point --root at the MC-MED folder (visits.csv, labs.csv, ...)")
    parameters = {"root": str(root), "per_part": per_part}
    writer = CohortWriter(
        out,
        name=f"mc-med-{Path(out).name}",
        source="mc-med",
        parameters=parameters,
        overwrite=overwrite,
        resume=not restart,
    )
    with writer:
        patients, visits = mcmed_tables.read_mcmed_visits(root, writer.quality)
        jobs = discover_waveforms(root, visits, writer.quality)
        run_parts(
            writer,
            split_into_parts(jobs, per_part),
            functools.partial(_ingest_waveforms, root=str(root)),
            workers=workers,
            progress=progress,
            unit="record",
        )
        writer.set_table("patients", patients)
        writer.set_table("visits", visits)
        labs = mcmed_tables.stream_mcmed_labs(root, writer.quality, visits, writer.scratch_folder("labs"))
        writer.stream_table("labs", labs)  # streamed to Parquet, as numerics: never gathered whole
        vitals = mcmed_tables.stream_mcmed_numerics(
            root, writer.quality, visits, writer.scratch_folder("vitals")
        )
        writer.stream_table("vitals", vitals)
        return writer.commit(extra={"mcmed": {"waveform_records": len(jobs)}})

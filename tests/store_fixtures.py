"""Builders of tiny cohort stores for tests: known int16 samples, non-trivial per-lead gains and baselines.

``write_store(path)`` writes the default store and returns a ``Written`` that knows, for every segment id,
which samples were written and what a reader must return for them. The default store has

- four 1-lead recordings (lead II, 250 Hz, 36-40 samples) and two 12-lead recordings (500 Hz, 24 samples),
  interleaved, written with ``max_shard_bytes=200`` so that shards roll over: shard 0 holds 1-lead
  recordings 0 and 1, shard 1 the 12-lead recording 2, shard 2 the 1-lead recordings 3 and 4, shard 3 the
  12-lead recording 5;
- overlapping segments: 20 samples at starts 0, 10, 20 (1-lead) and 16 samples at starts 0, 4, 8 (12-lead);
- labs, patients and visits tables with times in the year 2283 (beyond datetime64[ns]).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.writer import CohortWriter

LEADS_12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
TINY_SHARD_BYTES = 200


def samples(n_samples: int, n_leads: int, seed: int) -> np.ndarray:
    """Known int16 samples (samples x leads) covering the full range, extremes included."""
    rng = np.random.default_rng(seed)
    digital = rng.integers(-32768, 32768, size=(n_samples, n_leads), dtype=np.int16)
    digital[0, 0], digital[-1, -1] = -32768, 32767
    return digital


def physical(digital: np.ndarray, gain: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """The reader's contract: (digital - baseline) / gain in float64, cast to float32, leads x samples."""
    return ((digital.astype(np.float64) - baseline) / gain).astype(np.float32).T


@dataclass
class Rec:
    """One recording as handed to ``CohortWriter.add_recording``, with the segments to index in it."""

    patient_id: str
    visit_id: str | None
    start_time: Any
    fs: float
    leads: tuple[str, ...]
    digital: np.ndarray
    gain: np.ndarray
    baseline: np.ndarray
    segment_starts: tuple[int, ...]
    segment_length: int


@dataclass
class Seg:
    """One written segment and what a reader must return for it."""

    segment_id: int
    recording_id: int
    rec: Rec
    start: int
    length: int

    @property
    def digital(self) -> np.ndarray:
        return self.rec.digital[self.start : self.start + self.length]

    def waveform(self, leads: Sequence[str] | None = None) -> np.ndarray:
        leads = self.rec.leads if leads is None else leads
        columns = [self.rec.leads.index(lead) for lead in leads]
        return physical(self.digital[:, columns], self.rec.gain[columns], self.rec.baseline[columns])


@dataclass
class Written:
    path: Path
    recordings: list[Rec]
    segments: dict[int, Seg] = field(default_factory=dict)

    def ids(self, n_leads: int) -> list[int]:
        """Segment ids of the recordings with ``n_leads`` leads, in id order."""
        return [sid for sid, seg in self.segments.items() if len(seg.rec.leads) == n_leads]


def one_lead(patient: str, visit: str | None, start: Any, n_samples: int, seed: int) -> Rec:
    return Rec(
        patient_id=patient,
        visit_id=visit,
        start_time=start,
        fs=250.0,
        leads=("II",),
        digital=samples(n_samples, 1, seed),
        gain=np.array([200.0 + 13.7 * seed]),
        baseline=np.array([-5.0 * seed + 0.1]),
        segment_starts=(0, 10, n_samples - 20),
        segment_length=20,
    )


def twelve_lead(patient: str, visit: str | None, start: Any, seed: int) -> Rec:
    return Rec(
        patient_id=patient,
        visit_id=visit,
        start_time=start,
        fs=500.0,
        leads=LEADS_12,
        digital=samples(24, 12, seed),
        gain=np.linspace(150.0, 251.5, 12) + seed,
        baseline=np.arange(-6, 6) * 3.5 + seed / 3,
        segment_starts=(0, 4, 8),
        segment_length=16,
    )


def default_recordings(tz: str | None = None) -> list[Rec]:
    def at(text: str) -> pd.Timestamp:
        return pd.Timestamp(text, tz=tz)

    return [
        one_lead("p1", "v1", at("2283-03-01 12:00:00"), 40, seed=1),
        one_lead("p1", "v1", at("2283-03-01 12:05:00"), 40, seed=2),
        twelve_lead("p2", "v2", at("2019-06-30 23:59:59"), seed=3),
        one_lead("p2", None, at("2019-07-01 08:00:00"), 36, seed=4),
        one_lead("p3", "v3", at("2020-02-29 00:00:00"), 40, seed=5),
        twelve_lead("p3", "v3", at("2020-02-29 00:10:00"), seed=6),
    ]


def default_tables(tz: str | None = None) -> dict[str, pd.DataFrame]:
    def times(*texts: str) -> pd.Series:
        series = pd.Series([pd.Timestamp(text) for text in texts], dtype="datetime64[us]")
        return series.dt.tz_localize(tz) if tz else series

    labs = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p2", "p3"],
            "visit_id": ["v1", "v1", None, "v3"],
            "time": times("2283-03-01 12:30", "2283-12-31 23:59:59.123456", "2019-07-01 09:00", "2020-02-29"),
            "lab": ["potassium", "sodium", "potassium", "troponin"],
            "value": [4.25, 139.0, np.nan, 0.01],
            "censored": ["", "", "", "<"],
            "unit": ["mmol/L", "mmol/L", "mmol/L", "ng/mL"],
            "ref_low": [3.5, 135.0, 3.5, np.nan],
            "ref_high": [5.1, 145.0, 5.1, 0.04],
            "source_flag": ["", "", "missing", "L"],
        }
    )
    patients = pd.DataFrame({"patient_id": ["p1", "p2", "p3"], "sex": ["F", "M", "F"]})
    visits = pd.DataFrame(
        {
            "visit_id": ["v1", "v2", "v3"],
            "patient_id": ["p1", "p2", "p3"],
            "arrival_time": times("2283-03-01 11:00", "2019-06-30 22:00", "2020-02-28 23:30"),
        }
    )
    return {"labs": labs, "patients": patients, "visits": visits}


def fill(writer: CohortWriter, recordings: Iterable[Rec]) -> dict[int, Seg]:
    """Add ``recordings`` and their segments to ``writer``; return the expected segments by id."""
    segments: dict[int, Seg] = {}
    for rec in recordings:
        recording_id = writer.add_recording(
            patient_id=rec.patient_id,
            visit_id=rec.visit_id,
            start_time=rec.start_time,
            fs=rec.fs,
            leads=rec.leads,
            digital=rec.digital,
            gain=rec.gain,
            baseline=rec.baseline,
        )
        ids = writer.add_segments(recording_id, np.array(rec.segment_starts), rec.segment_length)
        for sid, start in zip(ids.tolist(), rec.segment_starts, strict=True):
            segments[sid] = Seg(sid, recording_id, rec, start, rec.segment_length)
    return segments


def write_store(
    path: Path,
    recordings: list[Rec] | None = None,
    *,
    tables: dict[str, pd.DataFrame] | None = None,
    max_shard_bytes: int = TINY_SHARD_BYTES,
    drops: Iterable[tuple[str, str, int, list[str]]] = (),
    **writer_kwargs: Any,
) -> Written:
    """Write a tiny store at ``path`` (the default one unless told otherwise) and commit it."""
    recordings = default_recordings() if recordings is None else recordings
    tables = default_tables() if tables is None else tables
    writer_kwargs = {"name": "tiny", "source": "tests", **writer_kwargs}
    with CohortWriter(path, max_shard_bytes=max_shard_bytes, **writer_kwargs) as writer:
        segments = fill(writer, recordings)
        for name, frame in tables.items():
            writer.set_table(name, frame)
        for stage, reason, count, examples in drops:
            writer.quality.drop(stage, reason, count, examples)
        writer.commit()
    return Written(path, recordings, segments)


def changed_sample(recordings: list[Rec], index: int, sample: int, lead: int) -> list[Rec]:
    """A deep copy of ``recordings`` in which one sample of one recording differs by one count."""
    changed = copy.deepcopy(recordings)
    digital = changed[index].digital
    digital[sample, lead] = digital[sample, lead] + (1 if digital[sample, lead] < 32767 else -1)
    return changed

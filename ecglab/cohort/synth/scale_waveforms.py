"""Waveforms of the scale cohorts at little disk cost: a small bank of real synthetic ECG, tiled.

The bank holds a few stretches, each one synthetic patient's ECG (rendered by :mod:`ecglab.cohort.synth.ecg`
with normal lab values) repeated end to end up to the longest recording. Every recording points at a
contiguous window of one stretch, so millions of segments share a few megabytes of samples and still read
back as plausible ECG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.cohort.errors import CohortError
from ecglab.cohort.parts import write_index_part
from ecglab.cohort.synth.ecg import render_recording
from ecglab.cohort.synth.physiology import beat_parameters, draw_patient_ecg

GAIN_PER_MV = 200.0
PHYSICAL_LIMIT_BYTES = 8 << 30


@dataclass(frozen=True)
class Bank:
    """Stretches of samples (stretches x samples x leads, int16), each ``stretch_samples`` long."""

    digital: np.ndarray
    leads: tuple[str, ...]
    fs: float

    @property
    def n_stretches(self) -> int:
        return self.digital.shape[0]

    @property
    def stretch_samples(self) -> int:
        return self.digital.shape[1]


def render_bank(
    rng: np.random.Generator,
    leads: tuple[str, ...],
    n_stretches: int,
    render_s: float,
    stretch_s: float,
    fs: float,
) -> Bank:
    """``n_stretches`` patients' ECG, ``render_s`` seconds each, tiled to ``stretch_s`` seconds."""
    render_n, stretch_n = round(render_s * fs), round(stretch_s * fs)
    out = np.empty((n_stretches, stretch_n, len(leads)), dtype=np.int16)
    for k in range(n_stretches):
        ecg = draw_patient_ecg(rng, float(rng.uniform(20, 85)), bool(rng.random() < 0.5))

        def params_at(seconds: np.ndarray, ecg: object = ecg) -> dict[str, np.ndarray]:
            normal = np.ones(len(seconds))
            return beat_parameters(ecg, 0.0, 4.2 * normal, 9.3 * normal, 2.0 * normal, 13.5 * normal)

        signal = render_recording(
            rng,
            render_s,
            fs,
            leads,
            params_at=params_at,
            axes={"qrs": ecg.qrs_axis_deg, "t": ecg.t_axis_deg},
            resp_hz=ecg.resp_hz,
            amplitude_scale=float(rng.normal(1.0, 0.08)),
            noise_level=float(rng.uniform(0.004, 0.02)),
        )
        digital = np.clip(np.round(signal * GAIN_PER_MV), -32768, 32767).astype(np.int16)
        out[k] = np.tile(digital, (-(-stretch_n // render_n), 1))[:stretch_n]
    return Bank(digital=out, leads=leads, fs=fs)


def within_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., n-1 for each group of ``counts`` (concatenated)."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum()), dtype=np.int64) - starts


def write_tiled_part(
    folder: Path,
    bank: Bank,
    rng: np.random.Generator,
    recordings: pd.DataFrame,
    segment_samples: int,
    physical: bool = False,
) -> None:
    """One part: ``recordings`` (patient_id, visit_id, start_us, n_segments) on windows of the bank, each cut
    into back-to-back segments of ``segment_samples``. With ``physical``, every recording's window is copied
    into the shard end to end (real bytes on disk, for cold-cache reads) instead of pointing into the bank."""
    n_seg = recordings.pop("n_segments").to_numpy(np.int64)
    length = n_seg * segment_samples
    if len(length) and length.max() > bank.stretch_samples:
        raise ValueError("a recording is longer than the waveform bank's stretches")
    stretch = rng.integers(0, bank.n_stretches, size=len(length))
    slack = bank.stretch_samples - length
    offset = stretch * bank.stretch_samples + (rng.random(len(length)) * (slack + 1)).astype(np.int64)
    n_leads = len(bank.leads)
    gain = np.full(n_leads, GAIN_PER_MV)
    recordings = recordings.assign(
        fs=bank.fs,
        offset=offset,
        length=length,
        gain=[gain] * len(length),
        baseline=[np.zeros(n_leads)] * len(length),
    )
    k = within_group(n_seg)
    rec = np.repeat(np.arange(len(n_seg)), n_seg)
    us_per_segment = round(segment_samples * 1e6 / bank.fs)
    segments = pd.DataFrame(
        {
            "recording": rec,
            "start_us": recordings["start_us"].to_numpy(np.int64)[rec] + k * us_per_segment,
            "offset": offset[rec] + k * segment_samples,
            "length": np.full(len(rec), segment_samples, dtype=np.int64),
        }
    )
    flat = bank.digital.reshape(-1, n_leads)
    if physical:
        flat, moved = physical_copy(flat, offset, length)
        segments["offset"] += (moved - offset)[rec]
        recordings["offset"] = moved
    write_index_part(folder, bank=flat, leads=bank.leads, recordings=recordings, segments=segments)


def physical_copy(flat: np.ndarray, offset: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The windows ``[offset, offset + length)`` of ``flat`` laid end to end, and where each now starts."""
    total_bytes = int(length.sum()) * flat.shape[1] * flat.itemsize
    if total_bytes > PHYSICAL_LIMIT_BYTES:
        raise CohortError(
            f"a physical scale store would hold {total_bytes / 2**30:.1f} GiB of samples (limit "
            f"{PHYSICAL_LIMIT_BYTES / 2**30:.0f} GiB): lower --fraction"
        )
    moved = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64) if len(length) else length
    out = np.empty((int(length.sum()), flat.shape[1]), dtype=flat.dtype)
    for source, target, n in zip(offset.tolist(), moved.tolist(), length.tolist(), strict=True):
        out[target : target + n] = flat[source : source + n]
    return out, moved

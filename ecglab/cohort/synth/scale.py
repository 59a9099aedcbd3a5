"""Scale cohorts: stores with the shape of MC-MED or MIMIC-IV(-ECG) at full size, written in minutes.

For measuring speed and memory, not for learning: the labs carry no ECG signal and the waveforms are a small
bank of synthetic ECG tiled across millions of segments (:mod:`ecglab.cohort.synth.scale_waveforms`). Every
count scales with ``fraction``; everything is vectorised NumPy, with no loop over patients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.errors import CohortError
from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.cohort.synth import scale_labs
from ecglab.cohort.synth.scale_waveforms import render_bank, within_group, write_tiled_part
from ecglab.cohort.writer import CohortWriter

SCALE_VERSION = "1"
US_PER_MIN = 60_000_000
US_PER_HOUR = 60 * US_PER_MIN
US_PER_DAY = 24 * US_PER_HOUR
EPOCH_US = int(np.datetime64("2110-01-01T00:00:00", "us").astype(np.int64))
SEGMENT_S = 10.0
FS = 500.0


@dataclass(frozen=True)
class ScaleShape:
    """Full-size counts of a dataset's shape."""

    name: str
    source: str
    leads: tuple[str, ...]
    patients: int
    visits: int
    waveform_visits: int  # MC-MED: visits with waveforms; MIMIC: unused
    segments: int  # MC-MED: 10-s segments; MIMIC: ECGs (one 10-s recording each)
    blood_tests: int  # MC-MED: blood tests; MIMIC: lab rows
    bank_stretches: int
    stretch_s: float  # longest recording


SHAPES = {
    "mcmed": ScaleShape("mcmed", "mc-med", ("II",), 70_500, 118_000, 83_600, 20_000_000, 270_000, 4, 5400.0),
    "mimic": ScaleShape(
        "mimic", "mimic-iv", STANDARD_LEADS, 160_000, 320_000, 0, 800_000, 30_000_000, 8, 60.0
    ),
}


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in (0, 1], or a one-line CohortError."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise CohortError(f"--fraction must be a number in (0, 1], got {fraction!r}") from None
    if not math.isfinite(value) or not 0 < value <= 1:
        raise CohortError(f"--fraction must be in (0, 1] (e.g. 0.1), got {fraction}")
    return value


def scaled(count: int, fraction: float) -> int:
    return max(1, round(count * fraction))


def _groups(
    rng: np.random.Generator, n_groups: int, total: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Members per group: one each, the rest spread at random (by ``weights``)."""
    extra = max(total - n_groups, 0)
    p = None if weights is None else weights / weights.sum()
    return 1 + np.bincount(rng.choice(n_groups, size=extra, p=p), minlength=n_groups)


def _visit_times(
    rng: np.random.Generator, per_patient: np.ndarray, gap_days: tuple[float, float]
) -> np.ndarray:
    """Arrival times (us) of each patient's visits, in order, months apart."""
    patient = np.repeat(np.arange(len(per_patient)), per_patient)
    base = EPOCH_US + (rng.random(len(per_patient)) * 80 * 365.25 * US_PER_DAY).astype(np.int64)
    gaps = (rng.uniform(*gap_days, size=len(patient)) * US_PER_DAY).astype(np.int64)
    gaps[within_group(per_patient) == 0] = 0
    cumulative = np.cumsum(gaps)
    first = np.repeat(cumulative[np.cumsum(per_patient) - per_patient], per_patient)
    return base[patient] + cumulative - first


def _ids(prefix: str, start: int, n: int) -> np.ndarray:
    return np.array([f"{prefix}{start + i}" for i in range(n)], dtype=object)


def _patients(rng: np.random.Generator, n: int, age_column: str, ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ids,
            "sex": np.where(rng.random(n) < 0.5, "F", "M").astype(object),
            age_column: np.round(rng.uniform(18, 91, n), 0 if age_column == "anchor_age" else 1),
        }
    )


def mcmed_tables(rng: np.random.Generator, shape: ScaleShape, fraction: float) -> dict[str, Any]:
    """Patients, visits (with triage vitals), recordings (per visit, with segment counts) and blood tests."""
    n_pat, n_vis = scaled(shape.patients, fraction), scaled(shape.visits, fraction)
    n_vis = max(n_vis, n_pat)
    per_patient = _groups(rng, n_pat, n_vis)
    visit_patient = np.repeat(np.arange(n_pat), per_patient)
    arrival = _visit_times(rng, per_patient, (5, 400))
    hours = np.minimum(2 + rng.gamma(2.0, 2.5, n_vis), 30.0)
    patient_ids, visit_ids = _ids("P", 1_000_000, n_pat), _ids("V", 50_000_000, n_vis)
    # recordings: 1 + Poisson(1) per visit with waveforms, back-to-back 10-s segments, gamma lengths
    n_wave = min(scaled(shape.waveform_visits, fraction), n_vis)
    wave_visits = np.sort(rng.choice(n_vis, size=n_wave, replace=False))
    rec_per_visit = 1 + rng.poisson(1.0, n_wave)
    rec_visit = np.repeat(wave_visits, rec_per_visit)
    mean_segments = scaled(shape.segments, fraction) / len(rec_visit)
    max_segments = int(shape.stretch_s / SEGMENT_S)
    n_seg = np.clip(np.round(rng.gamma(2.0, mean_segments / 2.0, len(rec_visit))), 1, max_segments).astype(
        np.int64
    )
    rec_hours = n_seg * SEGMENT_S / 3600
    need = np.bincount(np.searchsorted(wave_visits, rec_visit), weights=rec_hours, minlength=n_wave)
    hours[wave_visits] = np.maximum(hours[wave_visits], 1.3 * need + 0.5)
    slot = hours[rec_visit] / rec_per_visit.repeat(rec_per_visit)
    slot_start = within_group(rec_per_visit) * slot
    rec_start_h = slot_start + rng.random(len(rec_visit)) * np.maximum(slot - rec_hours, 0)
    rec_start = arrival[rec_visit] + (rec_start_h * US_PER_HOUR).astype(np.int64)
    recordings = pd.DataFrame(
        {
            "patient_id": patient_ids[visit_patient[rec_visit]],
            "visit_id": visit_ids[rec_visit],
            "start_us": rec_start,
            "n_segments": n_seg,
        }
    )
    # blood tests: at least one per visit, more in visits with waveforms; most near a recording
    weights = np.ones(n_vis)
    weights[wave_visits] = 1.5
    tests_per_visit = _groups(rng, n_vis, scaled(shape.blood_tests, fraction), weights)
    test_visit = np.repeat(np.arange(n_vis), tests_per_visit)
    test_h = rng.uniform(0.1, 1.0, len(test_visit)) * hours[test_visit]
    first_rec = np.full(n_vis, -1)
    first_rec[wave_visits] = np.cumsum(rec_per_visit) - rec_per_visit
    n_rec = np.zeros(n_vis, dtype=np.int64)
    n_rec[wave_visits] = rec_per_visit
    near = (first_rec[test_visit] >= 0) & (rng.random(len(test_visit)) < 0.7)
    pick = first_rec[test_visit[near]] + (rng.random(int(near.sum())) * n_rec[test_visit[near]]).astype(
        np.int64
    )
    test_h[near] = (
        rec_start_h[pick] + rng.uniform(-0.5, 0.5, len(pick)) + rng.random(len(pick)) * rec_hours[pick]
    )
    test_h = np.clip(test_h, 0.05, hours[test_visit])
    test_us = arrival[test_visit] + (test_h * US_PER_HOUR).astype(np.int64)
    visits = _mcmed_visits(rng, visit_ids, patient_ids[visit_patient], arrival, hours)
    labs = scale_labs.lab_rows(
        rng,
        scale_labs.lab_set(mimic=False),
        visit_patient[test_visit],
        test_visit,
        test_us,
        patient_ids,
        visit_ids,
        ("L", "H", ""),
    )
    patients = _patients(rng, n_pat, "age", patient_ids)
    return {"patients": patients, "visits": visits, "recordings": recordings, "labs": labs, "vitals": None}


def _mcmed_visits(
    rng: np.random.Generator,
    visit_ids: np.ndarray,
    patient_ids: np.ndarray,
    arrival: np.ndarray,
    hours: np.ndarray,
) -> pd.DataFrame:
    n = len(visit_ids)

    def vital(mean: float, sd: float, decimals: int) -> np.ndarray:
        values = np.round(rng.normal(mean, sd, n), decimals)
        return np.where(rng.random(n) < 0.05, np.nan, values)

    return pd.DataFrame(
        {
            "visit_id": visit_ids,
            "patient_id": patient_ids,
            "arrival_time": pd.Series(arrival.view("datetime64[us]")),
            "departure_time": pd.Series(
                (arrival + (hours * US_PER_HOUR).astype(np.int64)).view("datetime64[us]")
            ),
            "triage_hr": vital(84, 16, 0),
            "triage_rr": vital(17, 3, 0),
            "triage_spo2": np.minimum(vital(97, 2, 0), 100.0),
            "triage_sbp": vital(135, 20, 0),
            "triage_dbp": vital(80, 12, 0),
            "triage_temp": vital(36.9, 0.4, 1),
        }
    )


def mimic_tables(rng: np.random.Generator, shape: ScaleShape, fraction: float) -> dict[str, Any]:
    """Patients, admissions (as visits), one recording per ECG, lab rows around ECGs and admissions, omr."""
    n_pat = scaled(shape.patients, fraction)
    patient_ids = _ids("", 10_000_000, n_pat)
    activity = rng.gamma(0.7, 1.0, n_pat) + 0.05
    n_adm = scaled(shape.visits, fraction)
    adm_patient = np.sort(rng.choice(n_pat, size=n_adm, p=activity / activity.sum()))
    adm_per_patient = np.bincount(adm_patient, minlength=n_pat)
    admit = _visit_times(rng, adm_per_patient, (20, 700))
    adm_days = 0.5 + rng.gamma(1.5, 3.0, n_adm)
    visit_ids = _ids("", 20_000_000, n_adm)
    ecg_per_patient = _groups(rng, n_pat, scaled(shape.segments, fraction), activity)
    ecg_patient = np.repeat(np.arange(n_pat), ecg_per_patient)
    first_adm = np.cumsum(adm_per_patient) - adm_per_patient
    in_adm = (adm_per_patient[ecg_patient] > 0) & (rng.random(len(ecg_patient)) < 0.7)
    ecg_adm = np.full(len(ecg_patient), -1)
    ecg_adm[in_adm] = first_adm[ecg_patient[in_adm]] + (
        rng.random(int(in_adm.sum())) * adm_per_patient[ecg_patient[in_adm]]
    ).astype(np.int64)
    outside = EPOCH_US + (rng.random(len(ecg_patient)) * 80 * 365.25 * US_PER_DAY).astype(np.int64)
    inside = admit[np.maximum(ecg_adm, 0)] + (
        rng.random(len(ecg_patient)) * adm_days[np.maximum(ecg_adm, 0)] * US_PER_DAY
    )
    ecg_us = np.where(ecg_adm >= 0, inside.astype(np.int64), outside)
    recordings = pd.DataFrame(
        {
            "patient_id": patient_ids[ecg_patient],
            "visit_id": np.append(visit_ids, None).astype(object)[ecg_adm],
            "start_us": ecg_us,
            "n_segments": np.ones(len(ecg_patient), dtype=np.int64),
        }
    )
    labs = scale_labs.lab_set(mimic=True)
    n_draws = scaled(round(shape.blood_tests / 14.0), fraction)
    near_ecg = rng.random(n_draws) < 0.4 if n_adm else np.ones(n_draws, dtype=bool)
    draw_patient = np.empty(n_draws, dtype=np.int64)
    draw_adm = np.empty(n_draws, dtype=np.int64)
    draw_us = np.empty(n_draws, dtype=np.int64)
    ecg = rng.integers(0, len(ecg_patient), int(near_ecg.sum()))
    draw_patient[near_ecg], draw_adm[near_ecg] = ecg_patient[ecg], ecg_adm[ecg]
    draw_us[near_ecg] = ecg_us[ecg] + (rng.normal(0, 45, len(ecg)) * US_PER_MIN).astype(np.int64)
    adm = rng.integers(0, max(n_adm, 1), int((~near_ecg).sum()))
    draw_patient[~near_ecg], draw_adm[~near_ecg] = adm_patient[adm], adm
    draw_us[~near_ecg] = admit[adm] + (rng.random(len(adm)) * adm_days[adm] * US_PER_DAY).astype(np.int64)
    order = np.lexsort((draw_us, draw_patient))
    lab_table = scale_labs.lab_rows(
        rng,
        labs,
        draw_patient[order],
        draw_adm[order],
        draw_us[order],
        patient_ids,
        visit_ids,
        ("abnormal",) * 2 + ("",),
    )
    visits = pd.DataFrame(
        {
            "visit_id": visit_ids,
            "patient_id": patient_ids[adm_patient],
            "arrival_time": pd.Series(admit.view("datetime64[us]")),
            "dischtime": pd.Series((admit + (adm_days * US_PER_DAY).astype(np.int64)).view("datetime64[us]")),
        }
    )
    patients = _patients(rng, n_pat, "anchor_age", patient_ids)
    vitals = _omr_vitals(rng, patient_ids, ecg_patient, ecg_us)
    return {
        "patients": patients,
        "visits": visits,
        "recordings": recordings,
        "labs": lab_table,
        "vitals": vitals,
    }


def _omr_vitals(
    rng: np.random.Generator, patient_ids: np.ndarray, ecg_patient: np.ndarray, ecg_us: np.ndarray
) -> pd.DataFrame:
    """MIMIC-IV omr-like rows (Weight lb, Height in, BMI kg/m2) on days of ECGs, about two per ECG."""
    n = 2 * len(ecg_patient)
    ecg = rng.integers(0, len(ecg_patient), n)
    measure = rng.integers(0, 3, n)
    day_us = (ecg_us[ecg] // US_PER_DAY) * US_PER_DAY
    means, sds = np.array([180.0, 67.0, 28.0]), np.array([40.0, 4.0, 6.0])
    return pd.DataFrame(
        {
            "patient_id": patient_ids[ecg_patient[ecg]],
            "visit_id": np.full(n, None, dtype=object),
            "time": pd.Series(day_us.view("datetime64[us]")),
            "measure": np.array(["Weight", "Height", "BMI"], dtype=object)[measure],
            "value": np.round(np.maximum(rng.normal(means[measure], sds[measure]), 1.0), 1),
            "unit": np.array(["lb", "in", "kg/m2"], dtype=object)[measure],
            "source": np.full(n, "omr", dtype=object),
        }
    )


def scale_metadata(shape: ScaleShape, fraction: float, seed: int, physical: bool = False) -> dict[str, Any]:
    waveforms = "copied into the shard for every recording" if physical else "tiled across every recording"
    scale = {
        "shape": shape.name,
        "fraction": fraction,
        "seed": seed,
        "planted_signal": False,
        "note": (
            "scale cohort for speed and memory measurement: labs carry no ECG signal and waveforms are a "
            f"bank of {shape.bank_stretches} synthetic ECG stretches {waveforms}; results on it mean nothing"
        ),
    }
    if physical:
        scale["physical"] = True
    return {"scale": scale}


def build_scale_cohort(
    out: str | Path,
    shape: str,
    *,
    fraction: float = 1.0,
    seed: int = 0,
    overwrite: bool = False,
    physical: bool = False,
) -> Path:
    """Write a cohort store with the shape of ``shape`` (``mcmed`` or ``mimic``) scaled by ``fraction``; with
    ``physical`` every recording's samples are real bytes in the shard (for cold-cache reads)."""
    if shape not in SHAPES:
        raise CohortError(f"unknown scale shape {shape!r} (known: {', '.join(SHAPES)})")
    fraction = check_fraction(fraction)
    spec = SHAPES[shape]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    parameters = {"scale_version": SCALE_VERSION, "shape": shape, "fraction": fraction, "seed": seed}
    if physical:
        parameters["physical"] = True
    with CohortWriter(
        out,
        name=f"scale-{shape}-f{fraction:g}-seed{seed}",
        source=spec.source,
        source_version=f"scale-{SCALE_VERSION}",
        parameters=parameters,
        overwrite=overwrite,
    ) as writer:
        bank = render_bank(
            rng, spec.leads, spec.bank_stretches, min(600.0, spec.stretch_s), spec.stretch_s, FS
        )
        tables = mcmed_tables(rng, spec, fraction) if shape == "mcmed" else mimic_tables(rng, spec, fraction)
        recordings, samples = tables.pop("recordings"), round(SEGMENT_S * FS)
        write_tiled_part(writer.part_folder(0), bank, rng, recordings, samples, physical=physical)
        for name, frame in tables.items():
            if frame is not None:
                writer.set_table(name, frame)
        return writer.commit(extra=scale_metadata(spec, fraction, seed, physical))

"""Assembles the synthetic cohort: patients with ED-style visits, monitoring ECG bouts and lab draws."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.ingest import run_parts, split_into_parts
from ecglab.cohort.parts import PartWriter, micros_to_series
from ecglab.cohort.synth import labs as lab_model
from ecglab.cohort.synth.ecg import STANDARD_LEADS, render_recording
from ecglab.cohort.synth.physiology import PLANTED_EFFECTS, PatientECG, beat_parameters, draw_patient_ecg
from ecglab.cohort.synth.variants import LAB_CODINGS, SHIFTS, level_offsets, with_coding
from ecglab.cohort.writer import CohortWriter

SYNTH_VERSION = "1"
US_PER_HOUR = 3_600_000_000
EPOCH_US = int(np.datetime64("2100-01-01T00:00:00", "us").astype(np.int64))


@dataclass(frozen=True)
class SynthConfig:
    """Size and shape of a synthetic cohort. Equal configs give bit-identical stores."""

    n_patients: int = 200
    seed: int = 0
    leads: tuple[str, ...] = ("II",)
    fs: float = 500.0
    segment_seconds: float = 10.0
    gain_per_mv: float = 200.0
    mean_extra_visits: float = 0.6
    max_visits: int = 4
    visit_hours: tuple[float, float] = (3.0, 9.0)
    draws_per_visit: tuple[int, int] = (2, 4)
    ecg_per_draw_prob: float = 0.8
    extra_bouts: tuple[int, int] = (0, 1)
    bout_minutes: tuple[float, float] = (3.0, 12.0)
    lab_coding: str = "mcmed"  # or mimic-iv (ecglab.cohort.synth.variants)
    shift: str = "none"  # a population shift of ecglab.cohort.synth.variants.SHIFTS

    def __post_init__(self) -> None:
        if self.lab_coding not in LAB_CODINGS or self.shift not in SHIFTS:
            raise ValueError(f"lab_coding must be one of {LAB_CODINGS} and shift one of {sorted(SHIFTS)}")
        unknown = [lead for lead in self.leads if lead not in STANDARD_LEADS]
        if unknown or not self.leads:
            raise ValueError(f"leads must be names from {STANDARD_LEADS}, got {self.leads}")
        if self.n_patients < 1:
            raise ValueError("n_patients must be >= 1")

    def parameters(self) -> dict[str, Any]:
        """The config for cohort.json; the variants only where set (older stores keep their bytes)."""
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        for key, default in (("lab_coding", "mcmed"), ("shift", "none")):
            if values[key] == default:
                values.pop(key)
        return {"synth_version": SYNTH_VERSION, **values}


@dataclass
class _Patient:
    row: dict[str, Any]
    visits: list[dict[str, Any]] = field(default_factory=list)
    labs: list[dict[str, Any]] = field(default_factory=list)
    recordings: list[tuple[str, int, np.ndarray]] = field(default_factory=list)  # visit, start us, digital


def _patient_rng(config: SynthConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, index]))


def simulate_patient(config: SynthConfig, index: int) -> _Patient:
    """Everything about one patient, from that patient's own random stream (order-independent)."""
    rng, shift = _patient_rng(config, index), SHIFTS[config.shift]
    patient_id = f"P{index:06d}"
    female = bool(rng.random() < shift.female_prob)
    age = float(rng.uniform(*shift.age_range))
    ecg = draw_patient_ecg(rng, age, female)
    levels = lab_model.patient_levels(rng) + level_offsets(shift, tuple(m.lab for m in lab_model.LAB_MODELS))
    noise_level = float(rng.uniform(0.004, 0.02)) * shift.noise_scale
    patient = _Patient(row={"patient_id": patient_id, "sex": "F" if female else "M", "age": round(age, 1)})
    arrival_us = (
        EPOCH_US + int(rng.uniform(0, 190 * 365.25)) * 86_400_000_000 + int(rng.uniform(0, 24)) * US_PER_HOUR
    )
    n_visits = min(1 + int(rng.poisson(config.mean_extra_visits)), config.max_visits)
    for v in range(n_visits):
        visit_id = f"{patient_id}-V{v + 1}"
        _simulate_visit(config, rng, patient, visit_id, arrival_us, ecg, levels, noise_level)
        arrival_us += int(rng.uniform(5, 400) * 24 * US_PER_HOUR)
    return patient


def _simulate_visit(
    config: SynthConfig,
    rng: np.random.Generator,
    patient: _Patient,
    visit_id: str,
    arrival_us: int,
    ecg: PatientECG,
    levels: np.ndarray,
    noise_level: float,
) -> None:
    hours = float(rng.uniform(*config.visit_hours))
    grid, paths = lab_model.visit_trajectories(rng, levels, hours)
    hr_offset = float(rng.normal(0.0, 6.0))
    at = {name: lab_model.lab_index(name) for name in ("POTASSIUM", "CALCIUM", "MAGNESIUM", "HEMOGLOBIN")}

    def params_at(hours_into_visit: np.ndarray) -> dict[str, np.ndarray]:
        latent = lab_model.latent_at(grid, paths, hours_into_visit)
        return beat_parameters(
            ecg,
            hr_offset,
            latent[at["POTASSIUM"]],
            latent[at["CALCIUM"]],
            latent[at["MAGNESIUM"]],
            latent[at["HEMOGLOBIN"]],
        )

    triage = params_at(np.array([0.0]))
    patient.visits.append(
        _triage_row(
            rng,
            visit_id,
            patient.row["patient_id"],
            arrival_us,
            hours,
            float(triage["hr_bpm"][0]),
            patient.row["age"],
        )
    )
    draw_h = _draw_labs(config, rng, patient, visit_id, arrival_us, hours, grid, paths)
    for start_h, duration_s in _monitoring_bouts(config, rng, draw_h, hours):
        signal = render_recording(
            rng,
            duration_s,
            config.fs,
            config.leads,
            params_at=lambda seconds, start_h=start_h: params_at(start_h + seconds / 3600),
            axes={"qrs": ecg.qrs_axis_deg, "t": ecg.t_axis_deg},
            resp_hz=ecg.resp_hz,
            amplitude_scale=float(rng.normal(1.0, 0.08)) * SHIFTS[config.shift].amplitude_scale,
            noise_level=noise_level,
        )
        digital = np.clip(np.round(signal * config.gain_per_mv), -32768, 32767).astype(np.int16)
        patient.recordings.append((visit_id, arrival_us + round(start_h * US_PER_HOUR), digital))


def _monitoring_bouts(
    config: SynthConfig, rng: np.random.Generator, draw_h: np.ndarray, hours: float
) -> list[tuple[float, float]]:
    """(start hour, duration s) of ECG bouts: mostly around blood draws, sometimes at random times."""
    seg_s = config.segment_seconds
    starts = [h - float(rng.uniform(0.0, 0.4)) for h in draw_h if rng.random() < config.ecg_per_draw_prob]
    n_extra = int(rng.integers(config.extra_bouts[0], config.extra_bouts[1] + 1))
    starts += [float(rng.uniform(0.0, hours)) for _ in range(n_extra)]
    bouts, free_from = [], 0.0
    for start in sorted(starts):
        start = max(start, free_from)
        duration_s = max(round(float(rng.uniform(*config.bout_minutes)) * 60 / seg_s), 1) * seg_s
        if start + duration_s / 3600 > hours:
            continue
        bouts.append((start, duration_s))
        free_from = start + duration_s / 3600 + 1 / 60  # at least a minute between recordings
    return bouts


def _triage_row(
    rng: np.random.Generator,
    visit_id: str,
    patient_id: str,
    arrival_us: int,
    hours: float,
    hr_bpm: float,
    age: float,
) -> dict[str, Any]:
    def maybe(value: float, decimals: int) -> float:
        return float("nan") if rng.random() < 0.05 else round(value, decimals)

    return {
        "visit_id": visit_id,
        "patient_id": patient_id,
        "arrival_us": arrival_us,
        "departure_us": arrival_us + round(hours * US_PER_HOUR),
        "age": age,
        "triage_hr": maybe(hr_bpm + rng.normal(0, 5), 0),
        "triage_rr": maybe(rng.normal(17, 3), 0),
        "triage_spo2": maybe(min(rng.normal(97, 2), 100.0), 0),
        "triage_sbp": maybe(rng.normal(135, 20), 0),
        "triage_dbp": maybe(rng.normal(80, 12), 0),
        "triage_temp": maybe(rng.normal(36.9, 0.4), 1),
    }


def _draw_labs(
    config: SynthConfig,
    rng: np.random.Generator,
    patient: _Patient,
    visit_id: str,
    arrival_us: int,
    hours: float,
    grid: np.ndarray,
    paths: np.ndarray,
) -> np.ndarray:
    """Blood draws of one visit into ``patient.labs``; returns the draw times (hours into the visit)."""
    times = [float(rng.uniform(0.15, 0.9))]
    n_draws = int(rng.integers(config.draws_per_visit[0], config.draws_per_visit[1] + 1))
    while len(times) < n_draws and times[-1] + 1.0 < hours:
        times.append(min(times[-1] + float(rng.uniform(1.0, 3.0)), hours))
    draw_h = np.array(times)
    latent = lab_model.latent_at(grid, paths, draw_h)
    measured = lab_model.observe(rng, latent)
    hb = lab_model.lab_index("HEMOGLOBIN")
    hct = np.round(
        lab_model.HEMATOCRIT_PER_HEMOGLOBIN * latent[hb]
        + lab_model.HEMATOCRIT_NOISE_SD * rng.standard_normal(len(draw_h)),
        1,
    )
    for d, hour in enumerate(draw_h):
        time_us = arrival_us + round(hour * US_PER_HOUR)
        result_us = time_us + int(rng.uniform(20, 90) * 60_000_000)
        taken = rng.random(len(lab_model.LAB_MODELS))
        for i, model in enumerate(lab_model.LAB_MODELS):
            if taken[i] < model.measured_prob:
                patient.labs.append(
                    _lab_row(
                        patient,
                        visit_id,
                        time_us,
                        result_us,
                        model.lab,
                        measured[i, d],
                        model.unit,
                        model.ref_low,
                        model.ref_high,
                    )
                )
        if taken[hb] < lab_model.LAB_MODELS[hb].measured_prob:
            low, high = lab_model.HEMATOCRIT_REF
            patient.labs.append(
                _lab_row(patient, visit_id, time_us, result_us, lab_model.HEMATOCRIT, hct[d], "%", low, high)
            )
    return draw_h


def _lab_row(
    patient: _Patient,
    visit_id: str,
    time_us: int,
    result_us: int,
    lab: str,
    value: float,
    unit: str,
    ref_low: float,
    ref_high: float,
) -> dict[str, Any]:
    flag = "L" if value < ref_low else "H" if value > ref_high else ""
    return {
        "patient_id": patient.row["patient_id"],
        "visit_id": visit_id,
        "time_us": time_us,
        "result_us": result_us,
        "lab": lab,
        "value": float(value),
        "censored": "",
        "unit": unit,
        "ref_low": ref_low,
        "ref_high": ref_high,
        "source_flag": flag,
    }


def _frame(frame: pd.DataFrame, times: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    for micros_col, time_col in times.items():
        frame[time_col] = micros_to_series(frame.pop(micros_col).to_numpy(np.int64), None)
    return frame


def synthetic_metadata(config: SynthConfig | None = None) -> dict[str, Any]:
    """What cohort.json says of the synthetic cohort: its labs, planted effects and (where set) variants."""
    labs = {
        m.lab: {
            "unit": m.unit,
            "ref_low": m.ref_low,
            "ref_high": m.ref_high,
            "planted": m.lab in lab_model.PLANTED_LABS,
        }
        for m in lab_model.LAB_MODELS
    }
    low, high = lab_model.HEMATOCRIT_REF
    labs[lab_model.HEMATOCRIT] = {"unit": "%", "ref_low": low, "ref_high": high, "planted": True}
    meta: dict[str, Any] = {
        "synthetic": {
            "planted_labs": list(lab_model.PLANTED_LABS),
            "null_labs": list(lab_model.NULL_LABS),
            "planted_effects": list(PLANTED_EFFECTS),
            "labs": labs,
        }
    }
    if config is not None and config.lab_coding != "mcmed":
        meta["lab_coding"] = config.lab_coding
    if config is not None and config.shift != "none":
        meta["synthetic"]["shift"] = {"name": config.shift, **SHIFTS[config.shift].record()}
    return meta


# patients simulated and stored per part (an interrupted synth resumes by parts): about PARTS parts, so that
# workers finish together, of at most MAX_PATIENTS_PER_PART patients; set by the patient count alone
PARTS, MAX_PATIENTS_PER_PART = 32, 64


def default_patients_per_part(n_patients: int) -> int:
    """Patients per part for a cohort of ``n_patients`` (whatever the number of workers)."""
    return min(max(math.ceil(n_patients / PARTS), 1), MAX_PATIENTS_PER_PART)


_LAB_COLUMNS = [
    "patient_id",
    "visit_id",
    "time",
    "lab",
    "value",
    "censored",
    "unit",
    "ref_low",
    "ref_high",
    "source_flag",
    "result_time",
]


def _part_table(name: str) -> str:
    return f"synth-{name}.parquet"


def write_patients_part(part: PartWriter, items: Sequence[tuple[SynthConfig, int]]) -> None:
    """Simulate the patients ``items`` (config, index) into ``part``: their recordings and segments, and
    their patients, visits and labs rows as Parquet files of the part (read back at commit)."""
    rows: dict[str, list[dict[str, Any]]] = {"patients": [], "visits": [], "labs": []}
    for config, index in items:
        patient = simulate_patient(config, index)
        rows["patients"].append(patient.row)
        rows["visits"].extend(patient.visits)
        rows["labs"].extend(patient.labs)
        length = round(config.segment_seconds * config.fs)
        for visit_id, start_us, digital in patient.recordings:
            rec = part.add_recording(
                patient_id=patient.row["patient_id"],
                visit_id=visit_id,
                start_time=np.datetime64(start_us, "us"),
                fs=config.fs,
                leads=config.leads,
                digital=digital,
                gain=[config.gain_per_mv] * len(config.leads),
            )
            part.add_segments(rec, np.arange(0, digital.shape[0] - length + 1, length), length)
    for name, table in rows.items():
        pd.DataFrame(table).to_parquet(part.folder / _part_table(name), index=False)


def _part_tables(writer: CohortWriter, n_parts: int) -> dict[str, pd.DataFrame]:
    """The patients, visits and labs rows of every part, in part order."""
    tables = {}
    for name in ("patients", "visits", "labs"):
        frames = [pd.read_parquet(writer.part_folder(k) / _part_table(name)) for k in range(n_parts)]
        tables[name] = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return tables


def build_synthetic_cohort(
    out: str | Path,
    config: SynthConfig,
    *,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = True,
    restart: bool = False,
    patients_per_part: int | None = None,
) -> Path:
    """Simulate ``config`` and write it as a cohort store at ``out``; returns the store path.

    Patients are simulated ``patients_per_part`` to a part (default: :func:`default_patients_per_part`): a
    run interrupted before its commit leaves its finished parts, and a rerun with the same config continues
    from them (``restart`` discards them) and writes the same store as an uninterrupted run, whatever the
    number of workers."""
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    patients_per_part = patients_per_part or default_patients_per_part(config.n_patients)
    parts = split_into_parts([(config, i) for i in range(config.n_patients)], patients_per_part)
    with CohortWriter(
        out,
        name="-".join(
            [f"synthetic-{config.n_patients}p-seed{config.seed}"]
            + [v for v in (config.lab_coding, config.shift) if v not in ("mcmed", "none")]
        ),
        source="synthetic",
        source_version=SYNTH_VERSION,
        parameters={**config.parameters(), "patients_per_part": patients_per_part},
        overwrite=overwrite,
        resume=not restart,
    ) as writer:
        run_parts(writer, parts, write_patients_part, workers=workers, progress=progress, unit="patient")
        tables = _part_tables(writer, len(parts))
        writer.set_table("patients", tables["patients"])
        writer.set_table(
            "visits",
            _frame(tables["visits"], {"arrival_us": "arrival_time", "departure_us": "departure_time"}),
        )
        labs = _frame(tables["labs"], {"time_us": "time", "result_us": "result_time"})
        writer.set_table("labs", with_coding(labs[_LAB_COLUMNS], config.lab_coding))
        return writer.commit(extra=synthetic_metadata(config))

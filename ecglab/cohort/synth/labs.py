"""Lab values of the synthetic cohort: per-patient levels, per-visit offsets and drift within a visit.

Each lab's latent value in a visit is ``patient level + visit offset + linear drift + Ornstein-Uhlenbeck
wander``; a draw observes the latent value plus measurement noise, rounded like a real analyser. Because the
value moves within a visit, an ECG 15 minutes from a draw says more about it than one 60 minutes away, and a
value 2 hours ahead is harder to forecast than one 30 minutes ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabModel:
    """How one lab varies. Values are in ``unit``; with ``log_scale`` the model runs on log(value)."""

    lab: str  # MC-MED Component_name, the code the AnyECG-Lab panel uses
    unit: str
    center: float
    patient_sd: float
    visit_sd: float
    drift_sd_per_hour: float
    wander_sd: float
    wander_tau_hours: float
    noise_sd: float
    ref_low: float
    ref_high: float
    decimals: int
    measured_prob: float
    log_scale: bool = False
    floor: float = 0.0


LAB_MODELS: tuple[LabModel, ...] = (
    # planted: each drives ECG features (see ecglab.cohort.synth.physiology)
    LabModel("POTASSIUM", "mmol/L", 4.2, 0.42, 0.32, 0.16, 0.20, 1.5, 0.08, 3.5, 5.1, 1, 0.95, floor=1.8),
    LabModel("CALCIUM", "mg/dL", 9.3, 0.50, 0.30, 0.12, 0.18, 2.0, 0.08, 8.5, 10.5, 1, 0.80, floor=5.0),
    LabModel("MAGNESIUM", "mg/dL", 2.0, 0.22, 0.12, 0.05, 0.07, 2.0, 0.04, 1.7, 2.2, 1, 0.45, floor=0.6),
    LabModel("HEMOGLOBIN", "g/dL", 12.9, 1.70, 0.55, 0.15, 0.25, 3.0, 0.15, 12.0, 16.0, 1, 0.90, floor=4.0),
    # null: unrelated to the ECG and to every other lab
    LabModel("SODIUM", "mmol/L", 139.0, 2.8, 1.8, 0.6, 0.8, 2.0, 0.7, 135.0, 145.0, 0, 0.95, floor=110.0),
    LabModel(
        "GLUCOSE",
        "mg/dL",
        np.log(118.0),
        0.28,
        0.15,
        0.05,
        0.08,
        1.5,
        0.03,
        70.0,
        140.0,
        0,
        0.90,
        log_scale=True,
        floor=20.0,
    ),
    LabModel(
        "LIPASE",
        "U/L",
        np.log(38.0),
        0.75,
        0.25,
        0.03,
        0.05,
        3.0,
        0.05,
        13.0,
        60.0,
        0,
        0.35,
        log_scale=True,
        floor=3.0,
    ),
    LabModel(
        "ALT (SGPT)",
        "U/L",
        np.log(26.0),
        0.55,
        0.20,
        0.02,
        0.05,
        3.0,
        0.05,
        7.0,
        40.0,
        0,
        0.55,
        log_scale=True,
        floor=3.0,
    ),
)

# Derived labs: measured from a planted lab's latent value (hematocrit ~ 3 x hemoglobin).
HEMATOCRIT = "HEMATOCRIT (HCT)"
HEMATOCRIT_PER_HEMOGLOBIN = 3.0
HEMATOCRIT_NOISE_SD = 1.0
HEMATOCRIT_REF = (36.0, 50.0)

PLANTED_LABS = ("POTASSIUM", "CALCIUM", "MAGNESIUM", "HEMOGLOBIN", HEMATOCRIT)
NULL_LABS = ("SODIUM", "GLUCOSE", "LIPASE", "ALT (SGPT)")

GRID_MINUTES = 1.0


def patient_levels(rng: np.random.Generator) -> np.ndarray:
    """One level per lab for a patient (model scale)."""
    return np.array([m.center + m.patient_sd * rng.standard_normal() for m in LAB_MODELS])


def visit_trajectories(
    rng: np.random.Generator, levels: np.ndarray, hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """Latent values on a one-minute grid over a visit: (grid hours, labs x grid) on the model scale."""
    grid = np.arange(0.0, hours + GRID_MINUTES / 60, GRID_MINUTES / 60)
    step = GRID_MINUTES / 60
    paths = np.empty((len(LAB_MODELS), len(grid)))
    for i, model in enumerate(LAB_MODELS):
        offset = model.visit_sd * rng.standard_normal()
        slope = model.drift_sd_per_hour * rng.standard_normal()
        decay = np.exp(-step / model.wander_tau_hours)
        shocks = model.wander_sd * np.sqrt(1 - decay**2) * rng.standard_normal(len(grid))
        shocks[0] = model.wander_sd * rng.standard_normal()
        wander = _ar1(shocks, decay)
        paths[i] = levels[i] + offset + slope * grid + wander
    return grid, paths


def _ar1(shocks: np.ndarray, decay: float) -> np.ndarray:
    """x[k] = decay * x[k-1] + shocks[k], x[0] = shocks[0], without a Python loop."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -decay], shocks)


def to_unit_scale(values: np.ndarray) -> np.ndarray:
    """Model-scale latent values (labs x ...) to values in each lab's unit."""
    out = np.array(values, dtype=np.float64, copy=True)
    for i, model in enumerate(LAB_MODELS):
        if model.log_scale:
            out[i] = np.exp(out[i])
        out[i] = np.maximum(out[i], model.floor)
    return out


def latent_at(grid: np.ndarray, paths: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Latent values in unit scale at the given hours into the visit: labs x len(hours)."""
    model_scale = np.stack([np.interp(hours, grid, path) for path in paths])
    return to_unit_scale(model_scale)


def observe(rng: np.random.Generator, latent_unit: np.ndarray) -> np.ndarray:
    """Measured values (labs x draws) from latent unit-scale values: noise, floor and analyser rounding."""
    measured = np.empty_like(latent_unit)
    for i, model in enumerate(LAB_MODELS):
        value = latent_unit[i]
        noise = model.noise_sd * rng.standard_normal(value.shape)
        value = value * np.exp(noise) if model.log_scale else value + noise
        measured[i] = np.round(np.maximum(value, model.floor), model.decimals)
    return measured


def lab_index(name: str) -> int:
    return [m.lab for m in LAB_MODELS].index(name)

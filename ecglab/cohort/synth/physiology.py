"""How lab values shape the synthetic ECG: the planted couplings, grounded in known electrophysiology.

Every coupling is a smooth function of the latent (true) lab value at the time of the beat, on top of
per-patient random effects, so that the signal is present but realistic in strength:

- potassium high: taller, narrower (peaked) T wave; above 5.5 mmol/L a wider QRS.
- potassium low: flatter T wave, a growing U wave, a longer QT.
- calcium high: shorter QT (shorter ST segment); calcium low: longer QT.
- magnesium low: longer QT.
- hemoglobin low: faster heart rate (compensation for reduced oxygen-carrying capacity).
- sodium, glucose, lipase, ALT: no effect at all (null labs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLANTED_EFFECTS: tuple[dict[str, str], ...] = (
    {
        "lab": "POTASSIUM",
        "feature": "T-wave amplitude",
        "direction": "increases",
        "form": "x exp(0.55 (K - 4.2))",
    },
    {
        "lab": "POTASSIUM",
        "feature": "T-wave width",
        "direction": "decreases",
        "form": "x exp(-0.2 (K - 4.2))",
    },
    {
        "lab": "POTASSIUM",
        "feature": "QRS duration",
        "direction": "increases above 5.5 mmol/L",
        "form": "+ 20 ms per mmol/L above 5.5",
    },
    {
        "lab": "POTASSIUM",
        "feature": "U-wave amplitude",
        "direction": "increases below 4.0 mmol/L",
        "form": "+ 0.07 mV per mmol/L below 4.0",
    },
    {
        "lab": "POTASSIUM",
        "feature": "QTc",
        "direction": "increases below 4.0 mmol/L",
        "form": "+ 28 ms per mmol/L below 4.0",
    },
    {"lab": "CALCIUM", "feature": "QTc", "direction": "decreases", "form": "- 24 ms per mg/dL above 9.3"},
    {
        "lab": "MAGNESIUM",
        "feature": "QTc",
        "direction": "increases below 2.0 mg/dL",
        "form": "+ 60 ms per mg/dL below 2.0",
    },
    {
        "lab": "HEMOGLOBIN",
        "feature": "heart rate",
        "direction": "decreases",
        "form": "+ 3 bpm per g/dL below 13",
    },
    {
        "lab": "HEMATOCRIT (HCT)",
        "feature": "heart rate",
        "direction": "decreases",
        "form": "through hemoglobin (HCT ~ 3 x Hb)",
    },
)


@dataclass(frozen=True)
class PatientECG:
    """Per-patient random effects of ECG morphology (lead II scale), drawn once per patient."""

    hr_bpm: float
    qtc_ms: float
    qrs_ms: float
    pr_ms: float
    p_amp: float
    r_amp: float
    t_amp: float
    t_width_ms: float
    qrs_axis_deg: float
    t_axis_deg: float
    resp_hz: float


def draw_patient_ecg(rng: np.random.Generator, age: float, female: bool) -> PatientECG:
    return PatientECG(
        hr_bpm=rng.normal(76.0, 9.0),
        qtc_ms=rng.normal(405.0, 14.0) + (12.0 if female else 0.0),
        qrs_ms=rng.normal(88.0, 7.0) + 0.12 * max(age - 40.0, 0.0) - (4.0 if female else 0.0),
        pr_ms=rng.normal(158.0, 16.0) + 0.3 * max(age - 40.0, 0.0),
        p_amp=max(rng.normal(0.12, 0.03), 0.03),
        r_amp=float(np.exp(rng.normal(np.log(1.1), 0.25))),
        t_amp=float(np.exp(rng.normal(np.log(0.30), 0.28))),
        t_width_ms=rng.normal(46.0, 5.0),
        qrs_axis_deg=rng.normal(50.0, 20.0),
        t_axis_deg=rng.normal(45.0, 15.0),
        resp_hz=rng.uniform(0.2, 0.33),
    )


def beat_parameters(
    patient: PatientECG,
    hr_offset_bpm: float,
    potassium: np.ndarray,
    calcium: np.ndarray,
    magnesium: np.ndarray,
    hemoglobin: np.ndarray,
) -> dict[str, np.ndarray]:
    """Morphology parameters at given times from latent lab values (all arrays of the same shape)."""
    hr = patient.hr_bpm + hr_offset_bpm + 3.0 * (13.0 - hemoglobin)
    hr = np.clip(hr, 38.0, 160.0)
    rr_s = 60.0 / hr
    qtc = (
        patient.qtc_ms
        - 24.0 * (calcium - 9.3)
        + 28.0 * np.maximum(4.0 - potassium, 0.0)
        + 60.0 * np.maximum(2.0 - magnesium, 0.0)
    )
    qt_ms = qtc * np.sqrt(rr_s)  # Bazett
    return {
        "hr_bpm": hr,
        "qt_ms": np.clip(qt_ms, 240.0, 620.0),
        "qrs_ms": patient.qrs_ms + 20.0 * np.maximum(potassium - 5.5, 0.0),
        "pr_ms": np.full_like(hr, patient.pr_ms),
        "p_amp": np.full_like(hr, patient.p_amp),
        "r_amp": np.full_like(hr, patient.r_amp),
        "t_amp": patient.t_amp * np.exp(0.55 * (potassium - 4.2)),
        "t_width_ms": patient.t_width_ms * np.exp(-0.2 * (potassium - 4.2)),
        "u_amp": 0.015 + 0.07 * np.maximum(4.0 - potassium, 0.0),
    }

"""Synthetic ECG waveforms: Gaussian-sum P-QRS-T-U beats on a dipole model, heart-rate variability,
baseline wander, powerline and muscle noise.

Each wave is a Gaussian bump (the T wave asymmetric: slower rise than fall) carried by a 3-D heart vector;
a lead records the projection of that vector on its own axis, so the limb leads obey Einthoven's and
Goldberger's relations exactly (III = II - I, aVR = -(I + II) / 2, ...). Beats are placed by integrating an
instantaneous heart rate (with respiratory sinus arrhythmia and slow fluctuation) and added by overlap-add,
with one morphology per 10-s chunk taken from the lab values at that chunk's time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.signal import lfilter

from ecglab.cohort.schema import STANDARD_LEADS

_PROJECTED = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")  # the others derive from I and II
_PRECORDIAL_ANGLES_DEG = {"V1": 115.0, "V2": 95.0, "V3": 75.0, "V4": 55.0, "V5": 30.0, "V6": 5.0}

TEMPLATE_PRE_S = 0.45
TEMPLATE_POST_S = 0.85
CHUNK_S = 10.0
POWERLINE_HZ = 60.0


def lead_vector(lead: str) -> np.ndarray:
    """Axis of a projected lead in (left, down, anterior) coordinates."""
    if lead == "I":
        return np.array([1.0, 0.0, 0.0])
    if lead == "II":
        return np.array([np.cos(np.pi / 3), np.sin(np.pi / 3), 0.0])
    theta = np.deg2rad(_PRECORDIAL_ANGLES_DEG[lead])
    return 1.4 * np.array([np.cos(theta), 0.1, np.sin(theta)])


def wave_direction(frontal_deg: float, anterior: float) -> np.ndarray:
    phi = np.deg2rad(frontal_deg)
    planar = np.sqrt(1.0 - anterior**2)
    return np.array([planar * np.cos(phi), planar * np.sin(phi), anterior])


def derive_leads(projected: dict[str, np.ndarray], leads: Sequence[str]) -> np.ndarray:
    """Samples x leads for the requested leads; limb leads other than I and II from Einthoven/Goldberger."""
    lead_i, lead_ii = projected["I"], projected["II"]
    derived = {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }
    return np.stack([projected[lead] if lead in projected else derived[lead] for lead in leads], axis=1)


def _needed_projections(leads: Sequence[str]) -> tuple[str, ...]:
    unknown = [lead for lead in leads if lead not in STANDARD_LEADS]
    if unknown:
        raise ValueError(f"unknown leads {unknown}; synthetic ECG offers {STANDARD_LEADS}")
    limb = any(lead in ("I", "II", "III", "aVR", "aVL", "aVF") for lead in leads)
    return tuple(p for p in _PROJECTED if (p in ("I", "II") and limb) or p in leads)


def templates(
    params: dict[str, np.ndarray], axes: dict[str, float], fs: float, projections: Sequence[str]
) -> np.ndarray:
    """Beat templates, chunks x samples x projected leads, R peak at TEMPLATE_PRE_S."""
    tau = np.arange(-round(TEMPLATE_PRE_S * fs), round(TEMPLATE_POST_S * fs)) / fs
    qrs = params["qrs_ms"] / 1000
    qt = params["qt_ms"] / 1000
    t_fall = params["t_width_ms"] / 1000
    t_end = -qrs / 2 + qt
    t_center = t_end - 2.2 * t_fall
    # (center, rise sigma, fall sigma, amplitude, direction) per wave; arrays over chunks
    waves = [
        (-qrs / 2 - params["pr_ms"] / 1000 + 0.05, 0.022, 0.022, params["p_amp"], wave_direction(55.0, 0.2)),
        (
            -0.36 * qrs,
            0.08 * qrs,
            0.08 * qrs,
            0.12 * params["r_amp"],
            wave_direction(axes["qrs"] + 150.0, 0.5),
        ),
        (0 * qrs, 0.11 * qrs, 0.11 * qrs, params["r_amp"], wave_direction(axes["qrs"], -0.25)),
        (
            0.34 * qrs,
            0.09 * qrs,
            0.09 * qrs,
            0.28 * params["r_amp"],
            wave_direction(axes["qrs"] + 160.0, -0.45),
        ),
        (t_center, 1.5 * t_fall, t_fall, params["t_amp"], wave_direction(axes["t"], 0.35)),
        (t_end + 0.07, 0.035 + 0 * qrs, 0.035 + 0 * qrs, params["u_amp"], wave_direction(axes["t"], 0.35)),
    ]
    axes_matrix = np.stack([lead_vector(p) for p in projections], axis=1)  # 3 x leads
    out = np.zeros((len(qrs), len(tau), len(projections)))
    for center, rise, fall, amp, direction in waves:
        center, rise, fall = (np.broadcast_to(v, qrs.shape)[:, None] for v in (center, rise, fall))
        sigma = np.where(tau[None, :] < center, rise, fall)
        bump = np.exp(-0.5 * ((tau[None, :] - center) / sigma) ** 2)
        gain = np.asarray(amp)[:, None] * (direction @ axes_matrix)[None, :]  # chunks x leads
        out += bump[:, :, None] * gain[:, None, :]
    return out


def beat_times(
    rng: np.random.Generator, duration_s: float, hr_at: Callable[[np.ndarray], np.ndarray], resp_hz: float
) -> np.ndarray:
    """Beat times (s) from an instantaneous heart rate with respiratory sinus arrhythmia and slow drift."""
    dt = 0.01
    grid = np.arange(0.0, duration_s + dt, dt)
    decay = np.exp(-dt / 20.0)
    slow = lfilter([1.0], [1.0, -decay], rng.standard_normal(len(grid)) * 2.5 * np.sqrt(1 - decay**2))
    rsa = 0.04 * np.sin(2 * np.pi * resp_hz * grid + rng.uniform(0, 2 * np.pi))
    rate_hz = np.clip(hr_at(grid) * (1 + rsa) + slow, 30.0, 200.0) / 60.0
    phase = np.concatenate([[0.0], np.cumsum(rate_hz[:-1] * dt)]) + rng.uniform(0.0, 1.0)
    beats = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    return np.interp(beats, phase, grid)


def noise(rng: np.random.Generator, n: int, fs: float, resp_hz: float, level: float) -> np.ndarray:
    """Baseline wander, powerline interference, bursty muscle noise and sensor noise for one lead (mV)."""
    t = np.arange(n) / fs
    wander = 0.06 * np.sin(2 * np.pi * resp_hz * t + rng.uniform(0, 2 * np.pi))
    for _ in range(3):
        wander += rng.uniform(0.01, 0.12) * np.sin(
            2 * np.pi * rng.uniform(0.03, 0.4) * t + rng.uniform(0, 6.3)
        )
    powerline = rng.uniform(0.0, 0.015) * np.sin(2 * np.pi * POWERLINE_HZ * t + rng.uniform(0, 2 * np.pi))
    white = rng.standard_normal(n)
    box = max(int(0.04 * fs), 1)
    muscle = white - np.convolve(white, np.ones(box) / box, mode="same")  # high-pass: EMG band
    blocks = -(-n // int(fs))
    burst = np.where(rng.random(blocks) < 0.05, rng.uniform(2.0, 6.0, blocks), 1.0)
    envelope = np.repeat(burst, int(fs))[:n] * level
    return wander + powerline + muscle * envelope + 0.004 * rng.standard_normal(n)


def render_recording(
    rng: np.random.Generator,
    duration_s: float,
    fs: float,
    leads: Sequence[str],
    params_at: Callable[[np.ndarray], dict[str, np.ndarray]],
    axes: dict[str, float],
    resp_hz: float,
    amplitude_scale: float,
    noise_level: float,
) -> np.ndarray:
    """One contiguous recording in mV, samples x leads.

    ``params_at(seconds)`` gives the beat morphology (see physiology.beat_parameters) at those times.
    """
    n = round(duration_s * fs)
    projections = _needed_projections(leads)
    n_chunks = max(int(np.ceil(duration_s / CHUNK_S)), 1)
    chunk_centers = (np.arange(n_chunks) + 0.5) * CHUNK_S
    params = params_at(chunk_centers)
    shapes = templates(params, axes, fs, projections)

    def hr_at(seconds: np.ndarray) -> np.ndarray:
        return np.interp(seconds, chunk_centers, params["hr_bpm"])

    beats = beat_times(rng, duration_s, hr_at, resp_hz)
    chunk = np.minimum((beats // CHUNK_S).astype(np.int64), n_chunks - 1)
    scale = (
        amplitude_scale
        * (1 + 0.05 * np.sin(2 * np.pi * resp_hz * beats))
        * (1 + 0.015 * rng.standard_normal(len(beats)))
    )
    pre = round(TEMPLATE_PRE_S * fs)
    index = np.round(beats * fs).astype(np.int64)[:, None] - pre + np.arange(shapes.shape[1])[None, :]
    inside = (index >= 0) & (index < n)
    projected = {}
    for j, lead in enumerate(projections):
        weights = shapes[chunk, :, j] * scale[:, None]
        clean = np.bincount(index[inside], weights=weights[inside], minlength=n)
        projected[lead] = clean + noise(rng, n, fs, resp_hz, noise_level)
    return derive_leads(projected, leads)

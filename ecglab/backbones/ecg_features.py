"""Classical ECG features from a simple delineation of one lead: heart rate, QRS width, QT, T amplitude.

Used to check the synthetic cohort's planted couplings and by the classical-feature baseline. Per segment:
band-pass 0.5-40 Hz, QRS detection on smoothed slope energy, a median beat around the R peaks, then on the
median beat: the isoelectric level (PR segment), QRS onset/offset where the slope falls below 15 % of its
peak, the T peak, and the T end by the tangent method (steepest descent after the T peak meets the
isoelectric line). Segments where no rhythm can be found give NaN features and ``n_beats`` < 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import butter, find_peaks, sosfiltfilt

FEATURES = ("hr_bpm", "rr_sd_ms", "r_amp", "t_amp", "qrs_ms", "qt_ms", "qtc_ms", "n_beats")
_PRE_S, _POST_S = 0.30, 0.60


def bandpass(signals: np.ndarray, fs: float, low: float = 0.5, high: float = 40.0) -> np.ndarray:
    sos = butter(2, [low, high], btype="bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, signals, axis=-1)


def r_peaks(filtered: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of R peaks in one band-passed lead."""
    slope = np.diff(filtered, prepend=filtered[0])
    width = max(int(0.08 * fs), 1)
    energy = np.convolve(slope**2, np.ones(width) / width, mode="same")
    if not np.any(energy > 0):
        return np.zeros(0, dtype=np.int64)
    peaks, _ = find_peaks(energy, distance=int(0.3 * fs), height=0.3 * np.percentile(energy, 99))
    half = int(0.05 * fs)
    refined = [p - half + int(np.argmax(filtered[max(p - half, 0) : p + half])) for p in peaks if p >= half]
    return np.unique(np.asarray(refined, dtype=np.int64))


def _median_beat(filtered: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray | None:
    pre, post = int(_PRE_S * fs), int(_POST_S * fs)
    keep = peaks[(peaks >= pre) & (peaks + post < len(filtered))]
    if len(keep) < 2:
        return None
    return np.median(filtered[keep[:, None] + np.arange(-pre, post)[None, :]], axis=0)


def delineate(beat: np.ndarray, fs: float, rr_s: float) -> dict[str, float]:
    """Intervals and amplitudes of one median beat whose R peak is at ``_PRE_S``."""
    r = int(_PRE_S * fs)
    ms = 1000.0 / fs
    iso_window = beat[r - int(0.09 * fs) : r - int(0.055 * fs)]
    iso = float(np.median(iso_window))
    slope = np.abs(np.gradient(beat))
    qrs_zone = slope[r - int(0.08 * fs) : r + int(0.10 * fs)]
    threshold = 0.15 * qrs_zone.max()
    onset = r - int(0.08 * fs) + int(np.argmax(qrs_zone > threshold))
    after = slope[r + int(0.02 * fs) : r + int(0.14 * fs)] > threshold
    offset = r + int(0.02 * fs) + (len(after) - int(np.argmax(after[::-1]))) if after.any() else r
    t_lo = r + int(0.12 * fs)
    t_hi = min(r + int(min(0.55, 0.75 * rr_s) * fs), len(beat) - 1)
    t_zone = beat[t_lo:t_hi] - iso
    t_peak = t_lo + int(np.argmax(t_zone))
    t_amp = float(t_zone.max())
    down = np.gradient(beat)[t_peak : min(t_peak + int(0.2 * fs), len(beat) - 1)]
    steepest = t_peak + int(np.argmin(down))
    descent = float(np.gradient(beat)[steepest])
    t_end = steepest + (beat[steepest] - iso) / -descent if descent < 0 else np.nan
    qt_ms = (t_end - onset) * ms
    return {
        "r_amp": float(beat[r] - iso),
        "t_amp": t_amp,
        "qrs_ms": float((offset - onset) * ms),
        "qt_ms": float(qt_ms),
        "qtc_ms": float(qt_ms / np.sqrt(rr_s)),
    }


def ecg_features(signals: np.ndarray, fs: float) -> pd.DataFrame:
    """Features of each row of ``signals`` (segments x samples, one lead, mV)."""
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    filtered = bandpass(signals, fs)
    rows = []
    for trace in filtered:
        peaks = r_peaks(trace, fs)
        row = dict.fromkeys(FEATURES, np.nan)
        row["n_beats"] = float(len(peaks))
        beat = _median_beat(trace, peaks, fs) if len(peaks) >= 3 else None
        if beat is not None:
            rr = np.diff(peaks) / fs
            rr_s = float(np.median(rr))
            row.update(hr_bpm=60.0 / rr_s, rr_sd_ms=float(np.std(rr) * 1000), **delineate(beat, fs, rr_s))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(FEATURES))

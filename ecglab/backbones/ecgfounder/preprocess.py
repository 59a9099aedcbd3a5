"""ECGFounder's published preprocessing of one record: notch, band-pass, median baseline, one z-score.

As in the public ECGFounder code: 50 Hz IIR notch (Q=30) and a 4th-order Butterworth band-pass 0.67-40 Hz,
both applied forward-backward (filtfilt), minus a 201-sample (0.4 s + 1) median filter (baseline), then one
z-score over the whole (leads, samples) array. ``build(preprocess=True)`` applies it inside
``forward_features``; a data pipeline can instead call :func:`ecgfounder_preprocess` itself.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["ecgfounder_preprocess"]


@lru_cache(maxsize=8)
def _filters(fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from scipy import signal

    notch_b, notch_a = signal.iirnotch(50.0, 30.0, fs)
    band_b, band_a = signal.butter(4, [0.67, 40.0], btype="bandpass", fs=fs)
    return notch_b, notch_a, band_b, band_a


def ecgfounder_preprocess(x: np.ndarray, fs: float = 500.0) -> np.ndarray:
    """ECGFounder's preprocessing of one record (leads, samples) -> float32 (leads, samples).

    Per lead: 50 Hz IIR notch (Q=30) and 4th-order Butterworth band-pass 0.67-40 Hz, each applied with
    ``filtfilt``; minus the baseline, a median filter of ``int(0.4 * fs) + 1`` samples made odd (201 at
    500 Hz; ``scipy.signal.medfilt``, zero-padded ends). Then ONE z-score over the whole array,
    ``(x - mean) / (std + 1e-8)``, not per lead. Non-finite samples raise (the release's own loader replaced
    NaN with 0 beforehand; decide that upstream).
    """
    from scipy import signal

    data = np.asarray(x, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"ecgfounder_preprocess expects (leads, samples), got shape {data.shape}")
    if fs <= 100.0:
        raise ValueError(f"ecgfounder_preprocess needs fs > 100 Hz for its 50 Hz notch, got {fs}")
    bad = int(np.size(data) - np.isfinite(data).sum())
    if bad:
        raise ValueError(f"ecgfounder_preprocess: {bad} non-finite sample(s); replace them before filtering")
    kernel = int(0.4 * fs) + 1
    if kernel % 2 == 0:
        kernel += 1
    notch_b, notch_a, band_b, band_a = _filters(float(fs))
    data = signal.filtfilt(notch_b, notch_a, data, axis=-1)
    data = signal.filtfilt(band_b, band_a, data, axis=-1)
    data = data - np.stack([signal.medfilt(lead, kernel) for lead in data])
    return ((data - data.mean()) / (data.std() + 1e-8)).astype(np.float32)

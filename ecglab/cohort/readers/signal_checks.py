"""Checks every reader applies to a WFDB recording before it enters the store.

Each check returns a drop reason (a short, stable phrase counted in the data-quality report) or None.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# WFDB marks an invalid sample with the most negative value of the format (see the WFDB signal spec).
INVALID_SAMPLE = {
    "80": -(2**7),
    "508": -(2**7),
    "310": -(2**9),
    "311": -(2**9),
    "212": -(2**11),
    "16": -(2**15),
    "61": -(2**15),
    "160": -(2**15),
    "516": -(2**15),
    "24": -(2**23),
    "524": -(2**23),
    "32": -(2**31),
}


def lead_order(available: Sequence[str], wanted: Sequence[str]) -> list[int] | None:
    """Column of each wanted lead in ``available`` by name, ignoring case (``AVR`` is ``aVR``); None if a
    wanted lead is missing. Never by position: MIMIC-IV-ECG stores aVF before aVL."""
    index = {name.strip().lower(): i for i, name in enumerate(available)}
    columns = [index.get(lead.lower()) for lead in wanted]
    return None if any(c is None for c in columns) else [int(c) for c in columns]


def invalid_samples(digital: np.ndarray, formats: Sequence[str]) -> np.ndarray:
    """Boolean mask (samples x leads) of WFDB invalid-sample markers, per lead's storage format."""
    sentinels = np.array([INVALID_SAMPLE.get(fmt, np.iinfo(np.int64).min) for fmt in formats])
    return digital == sentinels[None, :]


def usable_windows(
    signal: np.ndarray, window: int, formats: Sequence[str]
) -> tuple[np.ndarray, dict[str, int]]:
    """Which consecutive whole windows of ``window`` samples (of samples x leads ``signal``) can be used.

    Returns the mask over windows and the number of windows refused per reason: invalid (NaN) samples, or a
    flat lead (no variation in 10 s: lead off).
    """
    n_windows = signal.shape[0] // window
    windows = signal[: n_windows * window].reshape(n_windows, window, signal.shape[1])
    sentinels = np.array([INVALID_SAMPLE.get(fmt, np.iinfo(np.int64).min) for fmt in formats])
    lowest, highest = windows.min(axis=1), windows.max(axis=1)  # per window and lead
    invalid = (lowest == sentinels).any(axis=1)  # the marker is the format's most negative value
    flat = (lowest == highest).any(axis=1) & ~invalid
    counts = {"invalid (NaN) samples": int(invalid.sum()), "a flat lead": int(flat.sum())}
    return ~(invalid | flat), counts

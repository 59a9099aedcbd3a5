"""Checks every reader applies to a WFDB recording before it enters the store.

Each check returns a drop reason (a short, stable phrase counted in the data-quality report) or None.
Two helpers make the checks cheap on the samples x leads arrays readers fill: ``lead_extremes`` (each
lead's least and greatest sample, computed over long contiguous rows instead of 12-wide ones) and
``reorder_leads`` (a lead order applied in place, moving only the leads that change place).
"""

from __future__ import annotations

import functools
import math
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


BLANK_LEAD = "blank lead name"
DUPLICATE_LEAD = "duplicate lead name"


def lead_name_problem(names: Sequence[str]) -> str | None:
    """``blank lead name`` when a signal has no name, ``duplicate lead name`` when two signals share one
    (ignoring case and surrounding blanks, as :func:`lead_order` matches them); None when every signal has
    its own name. A record failing this cannot be read by name, so readers skip it."""
    return _name_problem(tuple(names))


@functools.lru_cache(maxsize=256)
def _name_problem(names: tuple[str, ...]) -> str | None:
    folded = [name.strip().lower() for name in names]
    if "" in folded:
        return BLANK_LEAD
    return DUPLICATE_LEAD if len(set(folded)) < len(folded) else None


def lead_order(available: Sequence[str], wanted: Sequence[str]) -> list[int] | None:
    """Column of each wanted lead in ``available`` by name, ignoring case (``AVR`` is ``aVR``); None if a
    wanted lead is missing. Never by position: MIMIC-IV-ECG stores aVF before aVL."""
    columns = _lead_columns(tuple(available), tuple(wanted))
    return None if columns is None else list(columns)


@functools.lru_cache(maxsize=256)
def _lead_columns(available: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[int, ...] | None:
    """``lead_order`` for hashable arguments, memoised: a dataset's records mostly share their lead names."""
    index = {name.strip().lower(): i for i, name in enumerate(available)}
    columns = [index.get(lead.lower()) for lead in wanted]
    return None if any(c is None for c in columns) else tuple(int(c) for c in columns)


@functools.lru_cache(maxsize=256)
def invalid_markers(formats: tuple[str, ...]) -> np.ndarray:
    """The invalid-sample value of each lead's storage format (int64; the least int64 for a format
    without one, which no sample equals), memoised and read-only."""
    markers = np.array([INVALID_SAMPLE.get(fmt, np.iinfo(np.int64).min) for fmt in formats])
    markers.flags.writeable = False
    return markers


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


def lead_extremes(signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest value of each lead of ``signals`` (... x samples x leads, C-contiguous): arrays of
    shape ... x leads, equal to ``signals.min(axis=-2)`` and ``.max(axis=-2)``.

    Reducing over the samples axis directly walks rows as wide as the leads (12 values), which NumPy does
    slowly; the samples are first folded into rows of ``fold`` samples x leads (a reshape, no copy), reduced
    over those, then over the fold; a fold near the square root of the samples keeps both steps short."""
    *outer, n_samples, n_leads = signals.shape
    fold = _fold(n_samples)
    if fold == 1 or not signals.flags.c_contiguous:
        return signals.min(axis=-2), signals.max(axis=-2)
    rows = signals.reshape(*outer, n_samples // fold, fold * n_leads)
    low = rows.min(axis=-2).reshape(*outer, fold, n_leads).min(axis=-2)
    high = rows.max(axis=-2).reshape(*outer, fold, n_leads).max(axis=-2)
    return low, high


@functools.lru_cache(maxsize=64)
def _fold(n_samples: int) -> int:
    """The largest divisor of ``n_samples`` not above its square root (1 for a prime or for 0)."""
    return max((f for f in range(1, math.isqrt(n_samples) + 1) if n_samples % f == 0), default=1)


def reorder_leads(signals: np.ndarray, columns: Sequence[int]) -> None:
    """Reorder the last axis of ``signals`` in place so that lead j holds what lead ``columns[j]`` held
    (the same as ``signals[...] = signals[..., columns]``); ``columns`` must be a permutation. Leads that keep
    their place are not touched; each cycle of the permutation costs one spare lead."""
    n = signals.shape[-1]
    if sorted(columns) != list(range(n)):
        raise ValueError(f"lead order {list(columns)} is not a permutation of {n} leads")
    placed = [c == j for j, c in enumerate(columns)]
    for start in range(n):
        if placed[start]:
            continue
        spare = signals[..., start].copy()
        j = start
        while True:
            placed[j] = True
            source = columns[j]
            if source == start:
                signals[..., j] = spare
                break
            signals[..., j] = signals[..., source]
            j = source

"""Crops of stored samples in mV, as float32 (batch x leads x samples): the training loader's hot path.

Each crop is a contiguous run of rows of a shard (samples x leads, int16), copied by one slice, then
converted in place. The conversion ``(digital - baseline) / gain`` is computed in float32 when that gives
exactly what float64 then rounding to float32 gives: when every gain is a float32 number and every baseline
an integer below 2**23 (then ``digital - baseline`` is exact in float32 and one correctly rounded float32
division equals the float64 quotient rounded to float32, double rounding being innocuous for a single
division when 53 >= 2 * 24 + 2, Figueroa 1995). Otherwise it is computed in float64 as before.
"""

from __future__ import annotations

import numpy as np

FLOAT32_BASELINE_LIMIT = 2**23


def exact_in_float32(gain: np.ndarray, baseline: np.ndarray) -> bool:
    """Whether float32 arithmetic gives the float64 result rounded to float32 for these recordings."""
    gain = np.asarray(gain, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    return bool(
        np.all(gain.astype(np.float32).astype(np.float64) == gain)
        and np.all(np.isfinite(gain))
        and np.all(baseline == np.round(baseline))
        and np.all(np.abs(baseline) < FLOAT32_BASELINE_LIMIT)
    )


def copy_crops(shard: np.ndarray, starts: np.ndarray, length: int, columns: list[int]) -> np.ndarray:
    """``shard[start : start + length, columns]`` for every start, as (crops x samples x leads) int16."""
    all_leads = columns == list(range(shard.shape[1]))
    shard = shard.view(np.ndarray)  # a plain view: slicing a np.memmap costs a subclass object per crop
    out = np.empty((len(starts), length, len(columns)), dtype=shard.dtype)
    for i, start in enumerate(starts.tolist()):
        rows = shard[start : start + length]
        out[i] = rows if all_leads else rows[:, columns]
    return out


def crops_in_mv(
    shard: np.ndarray,
    starts: np.ndarray,
    length: int,
    columns: list[int],
    gain: np.ndarray,
    baseline: np.ndarray,
) -> np.ndarray:
    """The crops of :func:`copy_crops` converted by :func:`physical_crops` (crops x leads x samples, float32).
    On the float32 path each crop is cast while it is copied from the shard into the output, which is then
    converted in place in one pass over the batch."""
    if not exact_in_float32(gain, baseline):
        return physical_crops(copy_crops(shard, starts, length, columns), gain, baseline)
    all_leads = columns == list(range(shard.shape[1]))
    shard = shard.view(np.ndarray)
    out = np.empty((len(starts), len(columns), length), dtype=np.float32)
    by_sample = out.transpose(0, 2, 1)  # crops x samples x leads, a view of out
    for i, start in enumerate(starts.tolist()):
        rows = shard[start : start + length]
        by_sample[i] = rows if all_leads else rows[:, columns]  # int16 -> float32 on the copy (exact)
    baseline32 = baseline.astype(np.float32)[:, :, None]
    if baseline32.any():
        out -= baseline32
    out /= gain.astype(np.float32)[:, :, None]  # one contiguous pass over the batch
    return out


def physical_crops(digital: np.ndarray, gain: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """(crops x samples x leads) int16 with per-crop, per-lead gain and baseline -> (crops x leads x samples)
    float32 in mV."""
    gain, baseline = gain[:, None, :], baseline[:, None, :]
    if exact_in_float32(gain, baseline):
        values = digital.astype(np.float32)
        values -= baseline.astype(np.float32)
        values /= gain.astype(np.float32)
    else:
        values = ((digital.astype(np.float64) - baseline) / gain).astype(np.float32)
    return np.ascontiguousarray(values.transpose(0, 2, 1))

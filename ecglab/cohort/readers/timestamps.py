"""Strict, counted parsing of the time strings in source tables.

Policy
------
- Every time column is parsed with an explicit ``strptime`` format. A string matches only if it has exactly
  the shape of the format (two-digit months, no extra text or spaces) and names a real calendar time
  (no month 13, no 30 February, no 24:00). Nothing is guessed and nothing is coerced into a silent NaT.
  The time is computed from the checked fields (proleptic Gregorian calendar, as ``strptime`` reads it).
- Times come out as ``datetime64[us]``: MC-MED's shifted years (2100-2300) overflow ``datetime64[ns]``.
  A format ending in a literal ``Z`` (MC-MED: ``%Y-%m-%dT%H:%M:%SZ``) gives UTC-aware times; every other
  format gives naive times (MIMIC-IV's shifted local times).
- ``required=True`` (a row's key time, e.g. MIMIC ``charttime``, MC-MED ``Order_time``): a missing or
  unparseable value is counted in the :class:`~ecglab.cohort.quality.QualityReport` (reasons
  ``missing time (<where>)`` and ``unparseable time (<where>)``) and ``ok`` is False there, so that the
  caller drops the row.
- ``required=False`` (an attribute time, e.g. ``storetime``, ``dod``): missing is normal and not counted; an
  unparseable value is counted (``unparseable time (<where>; set to missing, row kept)``) and becomes NaT,
  and ``ok`` stays True: the row is kept.

Supported directives: ``%Y %m %d %H %M %S`` (fixed width, so the check is a vectorised regex plus numeric
range checks and arithmetic on the strings' bytes; no Python loop or object per row), ``%%`` and literal
ASCII text.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from ecglab.cohort.quality import MAX_EXAMPLES, QualityReport

# directive -> (width, lowest, highest); the day's upper bound is checked against the month separately
_FIELDS = {
    "Y": (4, 1, 9999),
    "m": (2, 1, 12),
    "d": (2, 1, 31),
    "H": (2, 0, 23),
    "M": (2, 0, 59),
    "S": (2, 0, 59),
}
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_SECONDS = {"H": 3600, "M": 60, "S": 1}


def _compile(fmt: str) -> tuple[str, dict[str, int], int, bool]:
    """The full-match regex of ``fmt``, each directive's offset, the string width, whether it ends in ``Z``.

    Digits are spelled ``[0-9]`` (ASCII only, and pyarrow's RE2 runs it without a per-row Python fallback).
    """
    if not fmt.isascii():
        raise ValueError(f"time format {fmt!r}: only ASCII formats are supported")
    pattern, offsets, position, i = [], {}, 0, 0
    while i < len(fmt):
        if fmt[i] == "%":
            code = fmt[i + 1 : i + 2]
            if code == "%":
                pattern.append("%")
                position += 1
            elif code in _FIELDS and code not in offsets:
                width = _FIELDS[code][0]
                pattern.append(f"[0-9]{{{width}}}")
                offsets[code] = position
                position += width
            else:
                raise ValueError(f"time format {fmt!r}: unsupported or repeated directive %{code}")
            i += 2
        else:
            pattern.append(re.escape(fmt[i]))
            position += 1
            i += 1
    if not {"Y", "m", "d"} <= offsets.keys():
        raise ValueError(f"time format {fmt!r} needs %Y, %m and %d")
    return "".join(pattern), offsets, position, fmt.endswith("Z") and not fmt.endswith("%Z")


def _digit_matrix(text: pd.Series, width: int) -> np.ndarray:
    """The bytes of strings that have the format's shape (so ASCII and ``width`` long, back to back in the
    Arrow buffer) as digits 0-9, one row per string, read straight from the buffer (no object per row)."""
    arrow = pa.array(text, type=pa.large_string())
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    start = int(np.frombuffer(arrow.buffers()[1], dtype=np.int64)[arrow.offset])
    data = np.frombuffer(arrow.buffers()[2], dtype=np.uint8)[start : start + width * len(arrow)]
    return data.reshape(len(arrow), width) - np.uint8(48)


def _calendar(text: pd.Series, offsets: dict[str, int], width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, microseconds since 1970)`` of strings that have the format's shape: range checks of each
    field, the day against its month, and the time computed from the fields (proleptic Gregorian)."""
    digits = _digit_matrix(text, width)
    fields = {}
    for code, start in offsets.items():
        value = np.zeros(len(text), dtype=np.int64)
        for position in range(start, start + _FIELDS[code][0]):
            value = value * 10 + digits[:, position]
        fields[code] = value
    ok = np.ones(len(text), dtype=bool)
    for code, value in fields.items():
        _, low, high = _FIELDS[code]
        ok &= (value >= low) & (value <= high)
    year, month, day = fields["Y"], fields["m"], fields["d"]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok &= day <= _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    shifted = year - (month <= 2)  # days from the civil date: H. Hinnant's algorithm
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    seconds = days * 86_400 + sum(fields.get(code, 0) * unit for code, unit in _SECONDS.items())
    return ok, seconds * 1_000_000


def _examples(values: pd.Series, mask: np.ndarray) -> list[str]:
    picked = values[mask].head(MAX_EXAMPLES)
    return [f"row {index}: {value!r}" for index, value in picked.items()]


def parse_times(
    values: pd.Series,
    fmt: str,
    where: str,
    quality: QualityReport,
    stage: str,
    *,
    required: bool = True,
) -> tuple[pd.Series, pd.Series]:
    """Parse ``values`` with ``fmt``; return ``(times, ok)``, both indexed like ``values``.

    ``times`` is ``datetime64[us]`` (``datetime64[us, UTC]`` when ``fmt`` ends in ``Z``), NaT where a value is
    missing or unparseable. ``ok`` is a boolean mask of the rows to keep (see the module docstring for what is
    counted under ``stage`` and which rows get ``ok`` False). Examples in the report read ``row <index>:
    <value>``: the table readers index rows by their 1-based data row in the source file.
    """
    regex, offsets, width, utc = _compile(fmt)
    text = values.astype("str")
    if text.isna().any():
        text = text.where(text.notna(), "")
    codes, uniques = pd.factorize(text)  # each distinct string is checked and parsed once
    distinct = pd.Series(uniques, dtype="str")
    missing = (distinct.str.strip() == "").to_numpy()
    shaped = distinct.str.fullmatch(regex).to_numpy(dtype=bool)
    valid = shaped.copy()
    times = np.full(len(distinct), np.datetime64("NaT"), dtype="datetime64[us]")
    if shaped.any():
        checked, micros = _calendar(distinct[shaped] if not shaped.all() else distinct, offsets, width)
        valid[shaped] = checked
        times[valid] = micros[checked].view("datetime64[us]")
    missing, valid, times = missing[codes], valid[codes], times[codes]
    bad = ~valid & ~missing
    result = pd.Series(times, index=values.index, name=values.name)
    if utc:
        result = result.dt.tz_localize("UTC")

    if required:
        quality.drop(stage, f"missing time ({where})", int(missing.sum()), _examples(values, missing))
        quality.drop(stage, f"unparseable time ({where})", int(bad.sum()), _examples(values, bad))
        ok = valid
    else:
        reason = f"unparseable time ({where}; set to missing, row kept)"
        quality.drop(stage, reason, int(bad.sum()), _examples(values, bad))
        ok = np.ones(len(values), dtype=bool)
    return result, pd.Series(ok, index=values.index, name="ok")

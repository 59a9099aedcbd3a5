"""Strict, counted parsing of the time strings in source tables.

Policy
------
- Every time column is parsed with an explicit ``strptime`` format. A string matches only if it has exactly
  the shape of the format (two-digit months, no extra text or spaces) and names a real calendar time
  (no month 13, no 30 February, no 24:00). Nothing is guessed and nothing is coerced into a silent NaT.
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
range checks on the strings' bytes; no Python loop per row), ``%%`` and literal ASCII text.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

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


def _valid_calendar(text: pd.Series, offsets: dict[str, int], width: int) -> np.ndarray:
    """Range checks of the fields of strings that have the format's shape (so are ASCII and fixed width)."""
    digits = (
        text.to_numpy(dtype=object).astype(f"S{width}").view(np.uint8).reshape(-1, width).astype(np.int64)
        - 48
    )
    fields = {}
    for code, start in offsets.items():
        size = _FIELDS[code][0]
        fields[code] = digits[:, start : start + size] @ (10 ** np.arange(size - 1, -1, -1))
    ok = np.ones(len(text), dtype=bool)
    for code, value in fields.items():
        _, low, high = _FIELDS[code]
        ok &= (value >= low) & (value <= high)
    year, month, day = fields["Y"], fields["m"], fields["d"]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok &= day <= _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    return ok


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
    text = values.astype("str").where(values.notna(), "")
    missing = (text.str.strip() == "").to_numpy()
    shaped = text.str.fullmatch(regex).to_numpy(dtype=bool)
    valid = shaped.copy()
    if shaped.any():
        valid[shaped] = _valid_calendar(text[shaped], offsets, width)
    bad = ~valid & ~missing

    times = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    if valid.any():
        strings = text[valid]
        if utc:  # parse the wall time, then mark it UTC
            strings, parse_fmt = strings.str.slice(0, -1), fmt[:-1]
        else:
            parse_fmt = fmt
        parsed = pd.to_datetime(strings, format=parse_fmt)  # errors="raise": the checks above make it safe
        times[valid] = parsed.to_numpy(dtype="datetime64[us]")
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

"""Parsing of lab result strings and other numeric fields, and the row policies shared by the lab readers.

Policy for a lab value (MIMIC-IV ``value`` where ``valuenum`` is missing, MC-MED ``Component_value``):

- a plain number (``"4.1"``, ``" 12 "``, ``"-3"``, ``".5"``, ``"1e3"``; ASCII digits, blanks = spaces or
  tabs around it) -> that value, ``censored`` ``""``;
- a number behind a comparison (``"<0.01"``, ``"<=0.01"``, ``"> 450"``, ``">=450"``, spaces allowed around
  the operator) -> the value at the bound and ``censored`` ``"<"`` (for ``<`` and ``<=``) or ``">"`` (for
  ``>`` and ``>=``). Censored values are kept, never dropped: a task decides what a bound means for its
  threshold;
- anything else (``"Negative"``, ``"See comment"``, ``""``, ``"___"``, ``"1,200"``, ``"3-5"``, ``"nan"``,
  ``"inf"``) -> no value: the reader drops the row and counts it with reason ``non-numeric value``
  (:data:`NON_NUMERIC`) and a few examples.

Numeric attribute fields (reference ranges, triage vitals, ages) take plain numbers only; a non-numeric entry
there is set to missing and counted (``non-numeric <column> (set to missing, row kept)``), the row is kept.

Duplicates (:func:`drop_duplicate_rows`): rows equal on a reader's key (patient, lab, time, value, censored,
unit) are the same result stored twice (MIMIC-IV: two specimens of one draw); the first in file order is kept,
the others are dropped with reason ``duplicate row``. Rows at the same (patient, lab, time) with *different*
values are all kept (they are distinct specimens; nothing says which is right) and counted as a note
(:func:`note_conflicts`, :meth:`QualityReport.note`), which never enters the drop totals.

Everything is vectorised: a full-match regex picks the plain numbers (converted in one ``astype``) and the
censored ones (only those few go through ``str.extract``); no Python loop per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglab.cohort.quality import MAX_EXAMPLES, QualityReport

NON_NUMERIC = "non-numeric value"
DUPLICATE = "duplicate row"
UNCENSORED, BELOW, ABOVE = "", "<", ">"

# ASCII digits and blanks spelled out: pyarrow's RE2 runs these (\s or \d would make pandas fall back to
# Python's re, row by row, and Python's \d also takes non-ASCII digits)
_BLANK = r"[ \t]*"
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN = rf"{_BLANK}{_NUMBER}{_BLANK}"
_CENSORED = rf"{_BLANK}(?P<op>[<>]=?){_BLANK}(?P<number>{_NUMBER}){_BLANK}"
_INTEGER = rf"{_BLANK}[+-]?[0-9]+{_BLANK}"


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as strings, missing as ``""``."""
    return values.astype("str").where(values.notna(), "")


def _to_float(numbers: pd.Series) -> pd.Series:
    """Strings already checked to be plain numbers -> float64, through pyarrow's (correctly rounded) cast."""
    return numbers.str.strip().astype("float64[pyarrow]").astype("float64")


def examples(values: pd.Series, mask: pd.Series | np.ndarray) -> list[str]:
    """Up to MAX_EXAMPLES ``row <index>: <value>`` strings for the rows in ``mask``."""
    picked = values[np.asarray(mask, dtype=bool)].head(MAX_EXAMPLES)
    return [f"row {index}: {value!r}" for index, value in picked.items()]


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Plain numbers only: ``(float64 values, ok)``; NaN and ok False for anything else (incl. missing)."""
    text = as_text(values)
    ok = text.str.fullmatch(_PLAIN).astype(bool)
    numbers = pd.Series(np.nan, index=values.index, dtype="float64", name=values.name)
    if ok.any():
        numbers[ok] = _to_float(text[ok])
    return numbers, ok


def parse_lab_values(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``(value float64, censored str, ok bool)`` per the module policy; nothing is reported here.

    The caller counts the rows with ``ok`` False (:func:`report_non_numeric`) and drops them.
    """
    text = as_text(values)
    numbers, plain = parse_numbers(text)
    censored = pd.Series(UNCENSORED, index=values.index, dtype="str", name="censored")
    bounded = ~plain & text.str.fullmatch(_CENSORED).astype(bool)
    if bounded.any():
        parts = text[bounded].str.extract(_CENSORED)
        numbers[bounded] = _to_float(parts["number"])
        censored[bounded] = parts["op"].str.slice(0, 1)
    return numbers, censored, plain | bounded


def report_non_numeric(
    quality: QualityReport, stage: str, values: pd.Series, ok: pd.Series | np.ndarray
) -> None:
    """Count the rows of ``values`` not ``ok`` under ``(stage, "non-numeric value")`` with examples."""
    bad = ~np.asarray(ok, dtype=bool)
    quality.drop(stage, NON_NUMERIC, int(bad.sum()), examples(values, bad))


def numeric_or_missing(values: pd.Series, quality: QualityReport, stage: str, column: str) -> pd.Series:
    """A numeric attribute: plain numbers kept, missing stays NaN, other text -> NaN, counted, row kept."""
    numbers, ok = parse_numbers(values)
    bad = ~ok & (as_text(values).str.strip() != "")
    reason = f"non-numeric {column} (set to missing, row kept)"
    quality.drop(stage, reason, int(bad.sum()), examples(values, bad))
    return numbers


def integer_or_missing(values: pd.Series, quality: QualityReport, stage: str, column: str) -> pd.Series:
    """Like :func:`numeric_or_missing` for whole numbers (``"12"``; ``"12.0"`` is not one).

    The result is float64 with NaN where missing, not nullable ``Int64``: the store's content hash and many
    consumers take plain numpy dtypes only.
    """
    text = as_text(values)
    ok = text.str.fullmatch(_INTEGER).astype(bool)
    bad = ~ok & (text.str.strip() != "")
    reason = f"non-integer {column} (set to missing, row kept)"
    quality.drop(stage, reason, int(bad.sum()), examples(values, bad))
    integers = pd.Series(np.nan, index=values.index, dtype="float64", name=values.name)
    if ok.any():
        integers[ok] = _to_float(text[ok])
    return integers


def _describe(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """A few rows as ``row N: col=value, ...`` (a loop over at most MAX_EXAMPLES rows)."""
    head = frame.head(MAX_EXAMPLES)
    return [
        f"row {row.get('source_row', index)}: " + ", ".join(f"{c}={row[c]}" for c in columns)
        for index, row in head.iterrows()
    ]


def drop_duplicate_rows(
    frame: pd.DataFrame, key: Sequence[str], quality: QualityReport, stage: str
) -> pd.DataFrame:
    """Drop rows equal to an earlier row on ``key``; count them as ``duplicate row``."""
    repeated = frame.duplicated(list(key), keep="first")
    quality.drop(stage, DUPLICATE, int(repeated.sum()), _describe(frame[repeated], key))
    return frame[~repeated]


def note_conflicts(
    frame: pd.DataFrame, key: Sequence[str], shown: Sequence[str], quality: QualityReport, stage: str
) -> int:
    """Count (as a note, nothing dropped) the rows sharing ``key`` with another row; return that count."""
    shared = frame.duplicated(list(key), keep=False)
    count = int(shared.sum())
    reason = f"rows sharing ({', '.join(key)}) with different values (all kept)"
    quality.note(stage, reason, count, _describe(frame[shared], [*key, *shown]))
    return count

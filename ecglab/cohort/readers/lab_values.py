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

Both are whole-table rules. :func:`check_rows` applies them to a table that arrives in chunks, in bounded
memory, with the same rows kept, in the same order, and the same counts and examples: one chunk is checked in
memory; more are spilled to Arrow files in a scratch folder, the whole chunks in file order and their key
columns split into buckets by a hash of one key column (rows equal on the key share it, so share a bucket);
each bucket is checked alone, then the chunks are read back in order without the dropped rows.

Everything is vectorised: a full-match regex picks the plain numbers (converted in one ``astype``) and the
censored ones (only those few go through ``str.extract``); no Python loop per row. Each distinct text is
parsed once (``pd.factorize``) and the results spread back to its rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ecglab.cohort.quality import MAX_EXAMPLES, QualityReport

NON_NUMERIC = "non-numeric value"
SPILL_BUCKETS = 64
_ROW = "__source_row__"  # the source row (the chunks' index) in the spill files
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
    text = values.astype("str")
    missing = text.isna()
    return text.where(~missing, "") if missing.any() else text


def _to_float(numbers: pd.Series) -> pd.Series:
    """Strings already checked to be plain numbers -> float64, through pyarrow's (correctly rounded) cast."""
    return numbers.str.strip().astype("float64[pyarrow]").astype("float64")


def examples(values: pd.Series, mask: pd.Series | np.ndarray) -> list[str]:
    """Up to MAX_EXAMPLES ``row <index>: <value>`` strings for the rows in ``mask``."""
    picked = values[np.asarray(mask, dtype=bool)].head(MAX_EXAMPLES)
    return [f"row {index}: {value!r}" for index, value in picked.items()]


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``(codes, distinct)``: the distinct texts of ``values`` (missing as ``""``) and each row's position
    among them. The parsers work on the distinct texts only (lab tables repeat values, units and ranges)."""
    codes, uniques = pd.factorize(as_text(values))
    return codes, pd.Series(uniques, dtype="str")


def _plain_numbers(distinct: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ok = distinct.str.fullmatch(_PLAIN).to_numpy(dtype=bool)
    numbers = np.full(len(distinct), np.nan)
    if ok.any():
        numbers[ok] = _to_float(distinct[ok]).to_numpy()
    return numbers, ok


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Plain numbers only: ``(float64 values, ok)``; NaN and ok False for anything else (incl. missing)."""
    codes, distinct = _distinct(values)
    numbers, ok = _plain_numbers(distinct)
    return (
        pd.Series(numbers[codes], index=values.index, dtype="float64", name=values.name),
        pd.Series(ok[codes], index=values.index, name=values.name),
    )


def parse_lab_values(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``(value float64, censored str, ok bool)`` per the module policy; nothing is reported here.

    The caller counts the rows with ``ok`` False (:func:`report_non_numeric`) and drops them.
    """
    codes, distinct = _distinct(values)
    numbers, plain = _plain_numbers(distinct)
    censored = pd.Series(UNCENSORED, index=distinct.index, dtype="str")
    bounded = ~plain & distinct.str.fullmatch(_CENSORED).to_numpy(dtype=bool)
    if bounded.any():
        parts = distinct[bounded].str.extract(_CENSORED)
        numbers[bounded] = _to_float(parts["number"]).to_numpy()
        censored[bounded] = parts["op"].str.slice(0, 1)
    index = values.index
    return (
        pd.Series(numbers[codes], index=index, dtype="float64", name=values.name),
        pd.Series(censored.array.take(codes), index=index, name="censored"),
        pd.Series((plain | bounded)[codes], index=index),
    )


def report_non_numeric(
    quality: QualityReport, stage: str, values: pd.Series, ok: pd.Series | np.ndarray
) -> None:
    """Count the rows of ``values`` not ``ok`` under ``(stage, "non-numeric value")`` with examples."""
    bad = ~np.asarray(ok, dtype=bool)
    quality.drop(stage, NON_NUMERIC, int(bad.sum()), examples(values, bad))


def numeric_or_missing(values: pd.Series, quality: QualityReport, stage: str, column: str) -> pd.Series:
    """A numeric attribute: plain numbers kept, missing stays NaN, other text -> NaN, counted, row kept."""
    codes, distinct = _distinct(values)
    numbers, ok = _plain_numbers(distinct)
    bad = (~ok & (distinct.str.strip() != "").to_numpy(dtype=bool))[codes]
    reason = f"non-numeric {column} (set to missing, row kept)"
    quality.drop(stage, reason, int(bad.sum()), examples(values, bad))
    return pd.Series(numbers[codes], index=values.index, dtype="float64", name=values.name)


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


def _conflict_reason(key: Sequence[str]) -> str:
    return f"rows sharing ({', '.join(key)}) with different values (all kept)"


def note_conflicts(
    frame: pd.DataFrame, key: Sequence[str], shown: Sequence[str], quality: QualityReport, stage: str
) -> int:
    """Count (as a note, nothing dropped) the rows sharing ``key`` with another row; return that count."""
    shared = frame.duplicated(list(key), keep=False)
    count = int(shared.sum())
    quality.note(stage, _conflict_reason(key), count, _describe(frame[shared], [*key, *shown]))
    return count


@dataclass(frozen=True)
class RowChecks:
    """A reader's whole-table rules: rows equal on ``key`` are dropped as ``duplicate row`` (the first kept);
    then, if ``conflict_key`` is given, rows sharing it are counted as a note with ``shown`` in the examples.
    ``partition`` is a column of ``key`` that spreads rows over spill buckets (e.g. the patient)."""

    stage: str
    key: tuple[str, ...]
    partition: str
    conflict_key: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.partition not in self.key or not set(self.conflict_key) <= set(self.key):
            raise ValueError(f"{self}: partition and conflict_key must be columns of key")

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys((*self.key, *self.shown)))


def check_rows(
    chunks: Iterable[pd.DataFrame],
    checks: RowChecks,
    quality: QualityReport,
    scratch: Path | None = None,
    buckets: int = SPILL_BUCKETS,
) -> Iterator[pd.DataFrame]:
    """The ``chunks`` (indexed by source row, in file order; at least one, empty for an empty table) less the
    rows :func:`drop_duplicate_rows` would drop from them whole, counted and noted as it and
    :func:`note_conflicts` would. More than one chunk is spilled under ``scratch`` (the system's temporary
    folder if None) and yielded once every chunk has been read."""
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        raise ValueError("check_rows needs at least one chunk (an empty one for an empty table)")
    second = next(chunks, None)
    if second is None:
        first = drop_duplicate_rows(first, checks.key, quality, checks.stage)
        if checks.conflict_key:
            note_conflicts(first, checks.conflict_key, checks.shown, quality, checks.stage)
        yield first
        return
    with tempfile.TemporaryDirectory(dir=scratch, prefix="rows-") as folder:
        spill = _Spill(Path(folder), checks, buckets)
        try:
            for chunk in chain([first, second], chunks):
                spill.add(chunk)
        finally:
            spill.close()
        dropped = spill.check_buckets(quality)
        yield from spill.replay(dropped)


class _Spill:
    """The spill files of :func:`check_rows`: ``rows.arrow`` (every chunk, one record batch each) and
    ``bucket-NNN.arrow`` (the key columns and source row of the rows whose partition hashes to NNN)."""

    def __init__(self, folder: Path, checks: RowChecks, buckets: int) -> None:
        self.folder, self.checks, self.buckets = folder, checks, buckets
        self.schema: pa.Schema | None = None
        self.rows: pa.RecordBatchFileWriter | None = None
        self.parts: dict[int, pa.RecordBatchFileWriter] = {}

    def _bucket(self, index: int) -> Path:
        return self.folder / f"bucket-{index:03d}.arrow"

    def add(self, chunk: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        table = table.append_column(_ROW, pa.array(chunk.index.to_numpy(dtype=np.int64)))
        if self.schema is None:
            self.schema = table.schema
            self.rows = pa.ipc.new_file(self.folder / "rows.arrow", self.schema)
        elif not table.schema.equals(self.schema):
            table = table.cast(self.schema)  # e.g. a chunk whose text column is all missing
        self.rows.write_table(table)
        hashed = pd.util.hash_pandas_object(chunk[self.checks.partition], index=False).to_numpy()
        bucket = (hashed % np.uint64(self.buckets)).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        keys = table.select([*self.checks.columns, _ROW]).take(pa.array(order))
        start = 0
        for index, count in enumerate(np.bincount(bucket, minlength=self.buckets)):
            if count:
                if index not in self.parts:
                    self.parts[index] = pa.ipc.new_file(self._bucket(index), keys.schema)
                self.parts[index].write_table(keys.slice(start, count))
                start += count

    def close(self) -> None:
        for writer in [self.rows, *self.parts.values()]:
            if writer is not None:
                writer.close()

    @staticmethod
    def _read(path: Path) -> pd.DataFrame:
        with pa.OSFile(str(path)) as source:  # not mapped: read pages would count as resident
            frame = pa.ipc.open_file(source).read_all().to_pandas()
        frame.index = pd.Index(frame.pop(_ROW).to_numpy(dtype=np.int64))
        return frame

    def check_buckets(self, quality: QualityReport) -> np.ndarray:
        """Apply the rules bucket by bucket; count and note them; return the dropped source rows, sorted."""
        checks = self.checks
        dropped, repeats, shares = [np.zeros(0, dtype=np.int64)], [], []
        n_repeated = n_shared = 0
        for index in sorted(self.parts):
            frame = self._read(self._bucket(index))
            repeated = frame.duplicated(list(checks.key), keep="first").to_numpy()
            n_repeated += int(repeated.sum())
            dropped.append(frame.index.to_numpy()[repeated])
            repeats.append(frame[repeated].head(MAX_EXAMPLES))
            if checks.conflict_key:
                kept = frame[~repeated] if repeated.any() else frame
                shared = kept.duplicated(list(checks.conflict_key), keep=False)
                n_shared += int(shared.sum())
                shares.append(kept[shared].head(MAX_EXAMPLES))
        quality.drop(checks.stage, DUPLICATE, n_repeated, _describe(_earliest(repeats), checks.key))
        if checks.conflict_key:
            shown = [*checks.conflict_key, *checks.shown]
            quality.note(
                checks.stage,
                _conflict_reason(checks.conflict_key),
                n_shared,
                _describe(_earliest(shares), shown),
            )
        return np.sort(np.concatenate(dropped))

    def replay(self, dropped: np.ndarray) -> Iterator[pd.DataFrame]:
        """Every chunk again, in order, without the ``dropped`` source rows."""
        with pa.OSFile(str(self.folder / "rows.arrow")) as source:
            reader = pa.ipc.open_file(source)
            for batch in range(reader.num_record_batches):
                table = pa.Table.from_batches([reader.get_batch(batch)])
                rows = table.column(_ROW).to_numpy()
                at = np.searchsorted(dropped, rows).clip(max=max(len(dropped) - 1, 0))
                gone = dropped[at] == rows if len(dropped) else np.zeros(len(rows), dtype=bool)
                if gone.any():
                    table = table.filter(pa.array(~gone))
                frame = table.to_pandas()
                frame.index = pd.Index(frame.pop(_ROW).to_numpy(dtype=np.int64))
                yield frame


def _earliest(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The first MAX_EXAMPLES rows by source row of the examples gathered bucket by bucket."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames).sort_index(kind="stable").head(MAX_EXAMPLES)

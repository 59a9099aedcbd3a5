"""Reading the readers' CSV (and Parquet) tables as text, with every unreadable file a one-line CohortError.

Shared by the MIMIC, MC-MED and generic readers. A table that cannot be read is a user error naming the file
and what is wrong, never a traceback: an empty file (not even a header row), a file that is not UTF-8 text,
a malformed row (too few or too many fields), a damaged ``.gz``, a file that cannot be opened. Columns are
checked by name: a required column that is missing, or (where a reader lists every column it takes) a column
it does not know, such as ``units`` for ``unit``, is a CohortError naming the expected columns, so that
nothing is silently left out.
"""

from __future__ import annotations

import difflib
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv

from ecglab.cohort.errors import CohortError

CSV_BLOCK_BYTES = 1 << 24
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


@contextmanager
def table_errors(path: Path) -> Iterator[None]:
    """Turn what pandas, pyarrow, gzip or the OS raise on an unreadable table into a CohortError naming
    ``path`` (the one-line message the command line prints)."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise CohortError(f"{path}: empty file (not even a header row)") from None
    except UnicodeDecodeError as err:
        raise CohortError(
            f"{path}: not UTF-8 text (byte {err.start}: {err.reason}): save the table as UTF-8"
        ) from None
    except pd.errors.ParserError as err:
        raise CohortError(f"{path}: not a readable CSV table ({_first_line(err)})") from None
    except pa.ArrowInvalid as err:
        if "UTF8" in str(err) or "UTF-8" in str(err):
            raise CohortError(f"{path}: not UTF-8 text ({_first_line(err)}): save it as UTF-8") from None
        raise CohortError(f"{path}: not a readable table ({_first_line(err)})") from None
    except (EOFError, zlib.error) as err:
        raise CohortError(f"{path}: damaged compressed file ({_first_line(err)})") from None
    except OSError as err:  # incl. gzip.BadGzipFile, a folder, no permission
        raise CohortError(f"{path}: cannot read the table: {err.strerror or _first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def read_text_csv(path: Path, **options: Any) -> pd.DataFrame:
    """``pd.read_csv(path, dtype=str, keep_default_na=False, **options)`` with :func:`table_errors`; rows
    with more fields than the header are an error (pandas would silently take the first as an index)."""
    with table_errors(path), warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False, **options)
        except pd.errors.ParserWarning:
            raise CohortError(
                f"{path}: not a readable CSV table (rows have more fields than the header; quote values "
                "that hold commas)"
            ) from None


def read_any_table(path: Path) -> pd.DataFrame:
    """A whole CSV (as text) or Parquet table, with :func:`table_errors`."""
    with table_errors(path):
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
    return read_text_csv(path)


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV table (its header row)."""
    return list(read_text_csv(path, nrows=0).columns)


def check_columns(
    path: Path, found: Sequence[str], required: Sequence[str], optional: Sequence[str] | None, what: str
) -> None:
    """A CohortError naming the expected columns when one of ``required`` is missing or, unless ``optional``
    is None (any other column allowed), when a column is neither required nor optional."""
    expected = f"the {what} table takes {', '.join(required)}" + (
        f" and optionally {', '.join(optional)}" if optional else ""
    )
    missing = [c for c in required if c not in found]
    if missing:
        raise CohortError(f"{path}: required column(s) {', '.join(missing)} missing ({expected})")
    if optional is None:
        return
    known = [*required, *optional]
    unknown = [c for c in found if c not in known]
    if unknown:
        close = {c: difflib.get_close_matches(c, known, 1) for c in unknown}
        hints = [f"{c!r} -> {match[0]!r}" for c, match in close.items() if match]
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise CohortError(f"{path}: unknown column(s) {', '.join(unknown)} ({expected}){hint}")


def find_table(folder: Path | str, name: str, hint: str) -> Path:
    """``folder/name.csv.gz`` or ``folder/name.csv``; a CohortError naming both and ``hint`` otherwise."""
    folder = Path(folder)
    candidates = [folder / f"{name}.csv.gz", folder / f"{name}.csv"]
    for path in candidates:
        if path.is_file():
            return path
    below = [folder / "hosp" / c.name for c in candidates if (folder / "hosp" / c.name).is_file()]
    found = f" (found {below[0]}: point at {below[0].parent})" if below else ""
    raise CohortError(f"{folder}: no {candidates[0].name} or {candidates[1].name}{found}; {hint}")


def csv_chunks(
    path: Path, columns: Sequence[str], chunk_rows: int | None, *, at_least_one: bool = False
) -> Iterator[pd.DataFrame]:
    """``columns`` of ``path`` as text (missing = ``""``), in chunks, indexed by 1-based data row; one empty
    chunk for a header-only file if ``at_least_one``."""
    header = csv_header(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise CohortError(f"{path}: no column(s) {', '.join(missing)} (found: {', '.join(header)})")
    if chunk_rows is None:
        chunk = read_text_csv(path, usecols=list(columns))
        chunk.index = chunk.index + 1
        yield chunk[list(columns)]
        return
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    text = dict.fromkeys(columns, pa.string())
    convert = pv.ConvertOptions(include_columns=list(columns), column_types=text, strings_can_be_null=False)
    pending, rows, start = [], 0, 0
    try:
        reader = pv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )
        for batch in reader:
            pending.append(batch)
            rows += len(batch)
            while rows >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield _text_frame(table.slice(0, chunk_rows), start)
                pending, rows = table.slice(chunk_rows).to_batches(), rows - chunk_rows
                start += chunk_rows
    except pa.ArrowInvalid as err:
        if "UTF8" in str(err):
            raise CohortError(f"{path}: not UTF-8 text ({_first_line(err)}): save it as UTF-8") from err
        raise CohortError(f"{path}: not a readable CSV table ({err})") from err
    except OSError as err:  # a damaged .gz
        raise CohortError(f"{path}: cannot read the table: {_first_line(err)}") from err
    if rows:
        yield _text_frame(pa.Table.from_batches(pending), start)
    elif at_least_one and not start:
        yield pd.DataFrame({c: pd.Series(dtype="str") for c in columns})


def _text_frame(table: pa.Table, start: int) -> pd.DataFrame:
    frame = table.to_pandas(types_mapper=lambda _: _TEXT)
    frame.index = pd.RangeIndex(start + 1, start + 1 + len(frame))
    return frame


def read_csv_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """A whole (small) table, as :func:`csv_chunks` reads it."""
    return next(csv_chunks(path, columns, None))

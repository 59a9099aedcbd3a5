"""Content hashes that do not depend on file-format details (Parquet writer version, compression, row groups).

:func:`hash_frame` hashes a table in memory; :func:`hash_parquet` gives the same digest for a Parquet file
(``hash_frame(pd.read_parquet(path))``) while holding one column of one row group at a time, so a table far
larger than memory is hashed as it would be whole.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK_BYTES = 1 << 24
SPOOL_BYTES = 1 << 26  # what one column's later byte streams may hold in memory before going to disk
# the kinds whose first byte stream is the value offsets (relative to the first value, one more than values)
_OFFSET_KINDS = (b"text", b"list")


def content_hash(tables: dict[str, dict[str, Any]], shards: list[dict[str, Any]]) -> str:
    """A store's content hash from its tables' and shards' recorded hashes (``cohort.json``'s ``tables`` and
    ``shards``): what the writer records and what opening a store checks, without reading any data."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        digest.update(f"{name}:{tables[name]['hash']}\n".encode())
    for shard in shards:
        digest.update(f"{shard['file']}:{shard['dtype']}:{shard['sha256']}\n".encode())
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _column_parts(series: pd.Series) -> tuple[bytes, list]:
    """A column's kind tag and its byte streams (bytes-like, the offsets of text and lists as int64)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        tz = str(series.dt.tz) if series.dt.tz is not None else "naive"
        values = series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series
        micros = values.dt.as_unit("us").to_numpy().view(np.int64)
        return f"time[{tz}]".encode(), [micros.astype("<i8").tobytes()]
    if pd.api.types.is_bool_dtype(series):
        return b"bool", [series.to_numpy(dtype=bool).tobytes()]
    if pd.api.types.is_integer_dtype(series):
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype="<i8", na_value=0)
        return b"int", [values.tobytes(), missing.tobytes()]
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="<f8")
        values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
        return b"float", [values.tobytes()]
    if isinstance(series.dtype, pd.StringDtype):
        return b"text", _text_streams(pa.array(series, type=pa.large_string()))
    return _arrow_parts(series)


def _text_streams(array: pa.Array | pa.ChunkedArray) -> list:
    """Offsets (from 0), missing mask and concatenated UTF-8 of a string array, with missing values empty."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    missing = array.is_null().to_numpy(zero_copy_only=False)
    if array.null_count:
        array = pc.fill_null(array, "")  # a missing slot may hold bytes in Arrow; it counts as empty here
    offsets = np.frombuffer(array.buffers()[1], dtype="<i8")[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    content = b"" if data is None else memoryview(data)[offsets[0] : offsets[-1]]
    return [(offsets - offsets[0]).tobytes(), missing.tobytes(), content]


def _arrow_parts(series: pd.Series) -> tuple[bytes, list]:
    """Text or lists of numbers in object columns: value offsets, the missing mask and the values."""
    values = series.tolist()
    if not any(isinstance(v, (list, tuple, np.ndarray)) for v in values[:1000]):
        nan_as_null = [None if isinstance(v, float) and np.isnan(v) else v for v in values]
        return b"text", _text_streams(pa.array(nan_as_null, type=pa.large_string()))
    array = pa.array(
        [None if v is None else np.asarray(v, dtype="<f8") for v in values],
        type=pa.large_list(pa.float64()),
    )
    flat = array.flatten().to_numpy(zero_copy_only=False).astype("<f8")
    content = np.where(np.isnan(flat), np.nan, flat).tobytes()
    offsets = np.asarray(array.offsets, dtype="<i8")
    missing = array.is_null().to_numpy(zero_copy_only=False)
    return b"list", [(offsets - offsets[0]).tobytes(), missing.tobytes(), content]


def hash_frame(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, kinds and values, in row and column order."""
    digest = hashlib.sha256()
    digest.update(len(frame).to_bytes(8, "little"))
    for column in frame.columns:
        digest.update(b"\x01" + str(column).encode("utf-8") + b"\x02")
        tag, streams = _column_parts(frame[column])
        digest.update(tag)
        for stream in streams:
            digest.update(stream)
    return digest.hexdigest()


def _row_group_parts(file: pq.ParquetFile, group: int, name: str) -> tuple[bytes, list]:
    """``_column_parts`` of one row group's column as ``pd.read_parquet`` would give it (text straight from
    Arrow, without a detour through pandas)."""
    table = file.read_row_group(group, columns=[name])
    array = table.column(0)
    if array.null_count and (pa.types.is_integer(array.type) or pa.types.is_boolean(array.type)):
        raise ValueError(f"column {name!r}: missing values in an integer or boolean column cannot be hashed")
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return b"text", _text_streams(array.cast(pa.large_string()))
    return _column_parts(table.to_pandas()[name])


def _hash_column(file: pq.ParquetFile, name: str, digest: Any, scratch: str) -> None:
    """Feed one column's kind and byte streams, in hash_frame's order, one row group at a time (the next one
    read in a second thread meanwhile): the first stream straight into ``digest``, the later ones through
    spooled temporary files."""
    tag, spools, base = None, [], 0
    with ExitStack() as files, ThreadPoolExecutor(1) as reader:
        ahead = reader.submit(_row_group_parts, file, 0, name)
        for group in range(file.num_row_groups):
            kind, streams = ahead.result()
            if group + 1 < file.num_row_groups:
                ahead = reader.submit(_row_group_parts, file, group + 1, name)
            if tag is None:
                tag = kind
                digest.update(tag)
                spools = [
                    files.enter_context(tempfile.SpooledTemporaryFile(SPOOL_BYTES, dir=scratch))
                    for _ in streams[1:]
                ]
            elif kind != tag:
                raise ValueError(f"column {name!r} is {tag!r} in one row group and {kind!r} in another")
            first = streams[0]
            if tag in _OFFSET_KINDS:
                offsets = np.frombuffer(first, dtype="<i8")
                first = (offsets[0 if group == 0 else 1 :] + base).tobytes()
                base += int(offsets[-1])
            digest.update(first)
            for spool, stream in zip(spools, streams[1:], strict=True):
                spool.write(stream)
        for spool in spools:
            spool.seek(0)
            while block := spool.read(CHUNK_BYTES):
                digest.update(block)


def hash_parquet(path: Path, scratch: Path | None = None) -> str:
    """``hash_frame(pd.read_parquet(path))`` in bounded memory, for a file without stored index columns;
    ``scratch`` is where a column's later byte streams spill (the system's temporary folder if None)."""
    file = pq.ParquetFile(path)
    if file.num_row_groups == 0:
        return hash_frame(pd.read_parquet(path))
    pandas_meta = file.schema_arrow.pandas_metadata or {}
    if pandas_meta.get("index_columns"):
        raise ValueError(
            f"{path}: stores index columns {pandas_meta['index_columns']}; hash_frame it instead"
        )
    digest = hashlib.sha256()
    digest.update(file.metadata.num_rows.to_bytes(8, "little"))
    folder = tempfile.mkdtemp(dir=scratch)
    try:
        for name in file.schema_arrow.names:
            digest.update(b"\x01" + name.encode("utf-8") + b"\x02")
            _hash_column(file, name, digest, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return digest.hexdigest()

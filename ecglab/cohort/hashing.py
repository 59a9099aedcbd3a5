"""Content hashes that do not depend on file-format details (Parquet writer version, compression)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

CHUNK_BYTES = 1 << 24


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _column_bytes(series: pd.Series) -> list[bytes]:
    if pd.api.types.is_datetime64_any_dtype(series):
        tz = str(series.dt.tz) if series.dt.tz is not None else "naive"
        values = series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series
        micros = values.dt.as_unit("us").to_numpy().view(np.int64)
        return [f"time[{tz}]".encode(), micros.astype("<i8").tobytes()]
    if pd.api.types.is_bool_dtype(series):
        return [b"bool", series.to_numpy(dtype=bool).tobytes()]
    if pd.api.types.is_integer_dtype(series):
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype="<i8", na_value=0)
        return [b"int", values.tobytes(), missing.tobytes()]
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="<f8")
        values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
        return [b"float", values.tobytes()]
    return _arrow_bytes(series)


def _arrow_bytes(series: pd.Series) -> list[bytes]:
    """Text or lists of numbers: value offsets, the concatenated values and the missing mask (vectorised)."""
    values = series.tolist()
    is_list = any(isinstance(v, (list, tuple, np.ndarray)) for v in values[:1000])
    if is_list:
        array = pa.array(
            [None if v is None else np.asarray(v, dtype="<f8") for v in values],
            type=pa.large_list(pa.float64()),
        )
        flat = array.flatten().to_numpy(zero_copy_only=False).astype("<f8")
        content = np.where(np.isnan(flat), np.nan, flat).tobytes()
    else:
        nan_as_null = [None if isinstance(v, float) and np.isnan(v) else v for v in values]
        array = pa.array(nan_as_null, type=pa.large_string())
        offsets = np.frombuffer(array.buffers()[1], dtype="<i8")[array.offset : array.offset + len(array) + 1]
        data = array.buffers()[2]
        content = b"" if data is None else data.to_pybytes()[offsets[0] : offsets[-1]]
    offsets = np.asarray(array.offsets if is_list else offsets, dtype="<i8")
    offsets = offsets - offsets[0]
    missing = array.is_null().to_numpy(zero_copy_only=False)
    return [b"list" if is_list else b"text", offsets.tobytes(), missing.tobytes(), content]


def hash_frame(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, kinds and values, in row and column order."""
    digest = hashlib.sha256()
    digest.update(len(frame).to_bytes(8, "little"))
    for column in frame.columns:
        digest.update(b"\x01" + str(column).encode("utf-8") + b"\x02")
        for part in _column_bytes(frame[column]):
            digest.update(part)
    return digest.hexdigest()

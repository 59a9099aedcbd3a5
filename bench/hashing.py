"""Content hashes that do not depend on file-format details (Parquet writer version, compression)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

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
    # text or lists: every value with its length, so that no separator can be ambiguous
    parts: list[bytes] = [b"object"]
    for value in series.tolist():
        if value is None or (isinstance(value, float) and np.isnan(value)):
            encoded = b"\x00null"
        elif isinstance(value, str):
            encoded = b"s" + value.encode("utf-8")
        else:
            encoded = b"a" + np.asarray(value, dtype="<f8").tobytes()
        parts.append(len(encoded).to_bytes(8, "little") + encoded)
    return parts


def hash_frame(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, kinds and values, in row and column order."""
    digest = hashlib.sha256()
    digest.update(len(frame).to_bytes(8, "little"))
    for column in frame.columns:
        digest.update(b"\x01" + str(column).encode("utf-8") + b"\x02")
        for part in _column_bytes(frame[column]):
            digest.update(part)
    return digest.hexdigest()

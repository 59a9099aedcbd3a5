"""The tables of a cohort store: required columns and their kinds, checked on write and on read.

Tables may carry more columns than listed (e.g. a source's own vitals); the listed ones are the contract
that every reader writes and every task relies on.
"""

from __future__ import annotations

import pandas as pd

from ecglab.cohort.errors import CohortError

# The 12 standard leads in the order the store, the tasks and the backbones use (MIMIC-IV-ECG files store
# aVF before aVL: readers reorder by name).
STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

FORMAT_NAME = "ecglab-cohort"
FORMAT_VERSION = 1

# kind -> (description, predicate on a pandas Series)
_KINDS = {
    "str": ("text", lambda s: pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)),
    "int": ("integer", pd.api.types.is_integer_dtype),
    "float": ("floating point", pd.api.types.is_float_dtype),
    "time": ("datetime", pd.api.types.is_datetime64_any_dtype),
    "list": ("list of numbers", pd.api.types.is_object_dtype),
}

TABLES: dict[str, dict[str, str]] = {
    "recordings": {
        "recording_id": "int",
        "patient_id": "str",
        "visit_id": "str",
        "start_time": "time",
        "fs": "float",
        "leads": "str",
        "shard": "int",
        "offset": "int",
        "length": "int",
        "gain": "list",
        "baseline": "list",
    },
    "segments": {
        "segment_id": "int",
        "recording_id": "int",
        "patient_id": "str",
        "visit_id": "str",
        "start_time": "time",
        "fs": "float",
        "leads": "str",
        "shard": "int",
        "offset": "int",
        "length": "int",
    },
    "labs": {
        "patient_id": "str",
        "visit_id": "str",
        "time": "time",
        "lab": "str",
        "value": "float",
        "censored": "str",
        "unit": "str",
        "ref_low": "float",
        "ref_high": "float",
        "source_flag": "str",
    },
    "patients": {"patient_id": "str", "sex": "str"},
    "visits": {"visit_id": "str", "patient_id": "str", "arrival_time": "time"},
    # time-stamped vital signs and biometrics (MC-MED numerics, MIMIC-IV omr); empty where a source has none
    "vitals": {
        "patient_id": "str",
        "visit_id": "str",
        "time": "time",
        "measure": "str",
        "value": "float",
        "unit": "str",
        "source": "str",
    },
}

OPTIONAL_TABLES = ("vitals",)

_EMPTY_DTYPES = {"str": object, "int": "int64", "float": "float64", "time": "datetime64[us]", "list": object}


def empty_table(name: str) -> pd.DataFrame:
    """A table with the required columns of ``name`` and no rows."""
    return pd.DataFrame({col: pd.Series(dtype=_EMPTY_DTYPES[kind]) for col, kind in TABLES[name].items()})


def table_file(name: str) -> str:
    return f"{name}.parquet"


def validate_table(name: str, frame: pd.DataFrame, where: str) -> None:
    """Raise CohortError if ``frame`` lacks a required column of table ``name`` or has the wrong kind."""
    if name not in TABLES:
        raise CohortError(f"unknown cohort table {name!r} (known: {', '.join(TABLES)})")
    for column, kind in TABLES[name].items():
        if column not in frame.columns:
            raise CohortError(
                f"{where}: table {name!r} has no column {column!r} "
                f"(required: {', '.join(TABLES[name])}); the store is not in ecglab's format"
            )
        description, predicate = _KINDS[kind]
        if len(frame) and not predicate(frame[column]):
            raise CohortError(
                f"{where}: column {name}.{column} should be {description}, found dtype {frame[column].dtype}"
            )

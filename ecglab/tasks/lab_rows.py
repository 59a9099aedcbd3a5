"""The lab rows of a cohort indexed by lab code, converted once: which rows hold a lab (no scan of the whole
table per lab), and their patients, times in microseconds, values and censoring as arrays. The label
builders of :mod:`ecglab.tasks.labels` take a lab's rows from here; a task with many labs over tens of
millions of rows otherwise spends its time scanning and converting the same columns once per lab."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def times_us(times: pd.Series) -> np.ndarray:
    """Microseconds since the epoch, for naive or tz-aware datetimes of any year."""
    if times.dt.tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    values = times.dt.as_unit("us").to_numpy()
    if np.isnat(values).any():
        raise ValueError("missing times (NaT) cannot be labelled; the readers drop and count them")
    return values.view(np.int64)


def censoring(censored: pd.Series) -> np.ndarray:
    """The ``censored`` column ("<", ">" or empty) as a one-character string array."""
    below = censored.eq("<").to_numpy(dtype=bool, na_value=False)
    above = censored.eq(">").to_numpy(dtype=bool, na_value=False)
    return np.where(below, "<", np.where(above, ">", "")).astype("U1")


@dataclass(frozen=True)
class LabRows:
    """A labs table's rows grouped by lab code (row numbers ascending within a code) and its columns as
    arrays."""

    order: np.ndarray  # row numbers, by lab code then row number
    bounds: dict[str, tuple[int, int]]  # lab code -> [start, stop) into order
    patient: pd.Series  # the table's own column: no Python string per row
    time: np.ndarray  # int64 microseconds
    values: np.ndarray  # float64
    censored: np.ndarray  # "<", ">" or "" as one-character strings (4 bytes a row, not a Python object)

    @classmethod
    def of(cls, labs: pd.DataFrame) -> LabRows:
        code, names = pd.factorize(labs["lab"].astype(str).to_numpy(dtype=object))
        order = np.argsort(code, kind="stable")
        starts = np.searchsorted(code[order], np.arange(len(names) + 1))
        bounds = {str(name): (int(starts[i]), int(starts[i + 1])) for i, name in enumerate(names)}
        return cls(
            order=order,
            bounds=bounds,
            patient=labs["patient_id"],
            time=times_us(labs["time"]),
            values=labs["value"].to_numpy(np.float64),
            censored=censoring(labs["censored"]),
        )

    def rows(self, lab_codes: Sequence[str]) -> np.ndarray:
        """The row numbers (ascending) of the rows of any of ``lab_codes``."""
        parts = [
            self.order[slice(*self.bounds[c])] for c in dict.fromkeys(map(str, lab_codes)) if c in self.bounds
        ]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))

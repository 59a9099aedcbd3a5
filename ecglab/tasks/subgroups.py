"""Subgroups of a task's anchors, for results by subgroup (TRIPOD+AI): which group of each subgroup column
an anchor belongs to.

A task names its subgroups in ``subgroups`` (default ``sex`` and ``age_band``). ``age_band`` is derived from
the patient's age at the anchor: the anchor's visit's ``age`` (MC-MED, the synthetic cohorts), else the
patient's ``age``, else MIMIC-IV's ``anchor_age`` plus the years from ``anchor_year`` to the anchor's year;
bands :data:`AGE_BANDS` (``<40``, ``40-64`` = 40 to under 65, ``>=65``). Any other name is a column of the
cohort's ``patients`` or ``visits`` table: ``patients.<column>``, ``visits.<column>``, or a bare name looked
up in ``patients`` first, then ``visits``. A column must be a category: at most :data:`MAX_GROUPS` distinct
values. A missing value (or empty text) is the group :data:`MISSING`. The names are checked against the
cohort when the task is built or loaded, before any training (:func:`resolve_subgroups`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.store import Cohort
from ecglab.tasks.errors import TaskError
from ecglab.tasks.spec import SUBGROUP_TABLES, TaskSpec

AGE_BAND = "age_band"
AGE_BAND_EDGES = (40.0, 65.0)
AGE_BANDS = ("<40", "40-64", ">=65")
MISSING = "(missing)"
MAX_GROUPS = 20


@dataclass(frozen=True)
class Subgroup:
    """One subgroup column: its name as the task gives it, and where its values come from (``table`` is
    ``patients`` or ``visits``; empty for the derived ``age_band``)."""

    name: str
    table: str
    column: str


def _tables(cohort: Cohort) -> dict[str, pd.DataFrame]:
    return {"patients": cohort.patients, "visits": cohort.visits}


def _resolve(name: str, tables: dict[str, pd.DataFrame], task: str) -> Subgroup:
    table, _, column = name.rpartition(".")
    if table:
        found = table if column in tables[table].columns else None
    else:
        found = next((t for t in SUBGROUP_TABLES if column in tables[t].columns), None)
    if found is None:
        where = f"the {table} table" if table else "the patients or visits table"
        known = "; ".join(f"{t}: {', '.join(map(str, tables[t].columns))}" for t in SUBGROUP_TABLES)
        raise TaskError(
            f"task {task!r}: subgroups: no column {column!r} in {where} of the cohort "
            f"({known}; or {AGE_BAND})"
        )
    distinct = tables[found][column].map(group_label)
    count = distinct[distinct != MISSING].nunique()
    if count > MAX_GROUPS:
        raise TaskError(
            f"task {task!r}: subgroups: {found}.{column} has {count} distinct values; a subgroup column must "
            f"be a category of at most {MAX_GROUPS} (age is banded by {AGE_BAND})"
        )
    return Subgroup(name, found, column)


def resolve_subgroups(spec: TaskSpec, cohort: Cohort) -> list[Subgroup]:
    """The task's subgroups on ``cohort``; TaskError (one line, naming the columns there are) for a column
    neither table has or one with more than :data:`MAX_GROUPS` values."""
    tables = _tables(cohort) if any(name != AGE_BAND for name in spec.subgroups) else {}
    return [
        Subgroup(name, "", "age") if name == AGE_BAND else _resolve(name, tables, spec.name)
        for name in spec.subgroups
    ]


def group_label(value: Any) -> str:
    """A column value as a group's name: missing values and empty text are :data:`MISSING`, whole numbers
    are written without a decimal point."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return MISSING
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
    text = str(value)
    return text if text.strip() else MISSING


def _floats(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values).astype("Float64").to_numpy(np.float64, na_value=np.nan)


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and pd.api.types.is_numeric_dtype(frame[column])


def age_at_anchor(anchors: pd.DataFrame, patients: pd.DataFrame, visits: pd.DataFrame) -> np.ndarray:
    """Age in years at each anchor (NaN where unknown): the visit's ``age``, else the patient's ``age``,
    else ``anchor_age`` + (the anchor's year - ``anchor_year``) (MIMIC-IV; ``anchor_age`` alone without
    ``anchor_year``)."""
    age = np.full(len(anchors), np.nan)
    if _numeric(visits, "age"):
        by_visit = visits.set_index("visit_id")["age"]
        age = _floats(by_visit.reindex(anchors["visit_id"]).reset_index(drop=True))
    person = patients.set_index("patient_id")
    ids = anchors["patient_id"]
    fill = np.full(len(anchors), np.nan)
    if _numeric(person, "age"):
        fill = _floats(person["age"].reindex(ids).reset_index(drop=True))
    elif _numeric(person, "anchor_age"):
        fill = _floats(person["anchor_age"].reindex(ids).reset_index(drop=True))
        if _numeric(person, "anchor_year"):
            year = _floats(anchors["time"].dt.year.reset_index(drop=True))
            fill = fill + year - _floats(person["anchor_year"].reindex(ids).reset_index(drop=True))
    return np.where(np.isnan(age), fill, age)


def age_bands(age: np.ndarray) -> np.ndarray:
    """The :data:`AGE_BANDS` name of each age (:data:`MISSING` for NaN)."""
    low, high = AGE_BAND_EDGES
    return np.select([age < low, age < high, age >= high], list(AGE_BANDS), default=MISSING).astype(object)


def anchor_groups(subgroup: Subgroup, anchors: pd.DataFrame, cohort: Cohort) -> np.ndarray:
    """The group name of each anchor (rows of ``anchors``: patient_id, visit_id, time) in ``subgroup``."""
    if not subgroup.table:
        return age_bands(age_at_anchor(anchors, cohort.patients, cohort.visits))
    key = "patient_id" if subgroup.table == "patients" else "visit_id"
    table = _tables(cohort)[subgroup.table]
    values = table.set_index(key)[subgroup.column].reindex(anchors[key])
    return np.array([group_label(v) for v in values], dtype=object)


def group_order(subgroup: Subgroup, groups: np.ndarray) -> list[str]:
    """The groups present in ``groups`` in reporting order: age bands young to old, other values sorted,
    :data:`MISSING` last."""
    present = set(groups.tolist())
    named = [g for g in AGE_BANDS if g in present] if not subgroup.table else sorted(present - {MISSING})
    return named + ([MISSING] if MISSING in present else [])

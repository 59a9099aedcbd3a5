"""Panels resolve a task's targets on a cohort: which lab codes, which direction, which threshold.

- ``anyecg_lab``: the 108 AnyECG-Lab targets with their fixed thresholds. Lab codes are MC-MED component names
  (MC-MED, the synthetic cohort and generic data named that way) or the mapped MIMIC-IV itemids.
- ``cardiolab``: two targets (low, high) per lab label that the authors' filters keep (0/0 reference ranges,
  labs named H/I/L, minority fluids and units, labs with fewer than ``panel.min_lab_rows`` rows dropped:
  :mod:`ecglab.tasks.cardiolab_panel`); thresholds are the medians of the lower and upper bounds over the
  training patients' rows only.
- ``csv``: a user's file with ``target``, ``lab`` (codes separated by ``;``), ``direction`` (low|high),
  ``threshold`` and optionally ``unit``.
A target is positive when the value is strictly below (low) or above (high) its threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.tasks.cardiolab_panel import cardiolab_targets, row_drops, select_rows
from ecglab.tasks.catalogue import anyecg_lab_panel
from ecglab.tasks.errors import TaskError
from ecglab.tasks.spec import PanelSpec

TARGET_COLUMNS = ("target", "lab", "lab_codes", "direction", "threshold", "unit")


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*TARGET_COLUMNS, "drop_reason"])


def panel_lab_rows(panel: PanelSpec, labs: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """The lab rows the panel labels from, and the rows it removes by reason: the CardioLab panel drops
    rows of a 0/0 reference range and of minority fluids and units (:mod:`ecglab.tasks.cardiolab_panel`);
    the other panels label from every row."""
    if panel.kind != "cardiolab":
        return labs, []
    selection = select_rows(labs, panel.min_lab_rows)
    return labs[selection.keep].reset_index(drop=True), row_drops(selection)


def resolve_panel(
    panel: PanelSpec, coding: str, labs: pd.DataFrame, train_patients: Iterable[str] | None
) -> pd.DataFrame:
    """Targets with their lab codes; ``drop_reason`` is set (non-empty) for targets that cannot be built.
    ``coding``: how the store names its labs (``Cohort.lab_coding``: ``mimic-iv`` itemids or ``mcmed``)."""
    measured = set(labs["lab"].unique())
    if panel.kind == "anyecg_lab":
        rows = []
        for t in anyecg_lab_panel():
            codes = tuple(str(i) for i in t.mimic_itemids) if coding == "mimic-iv" else (t.mcmed_component,)
            reason = ""
            if not codes:
                reason = f"no equivalent in {coding}"
            elif not measured & set(codes):
                reason = "lab not measured in this cohort"
            rows.append(
                {
                    "target": t.target,
                    "lab": t.lab,
                    "lab_codes": codes,
                    "direction": t.direction,
                    "threshold": t.threshold,
                    "unit": t.unit,
                    "drop_reason": reason,
                }
            )
        return _frame(rows)
    if panel.kind == "cardiolab":
        return cardiolab_targets(labs, train_patients, panel.min_lab_rows)
    return _csv_targets(Path(panel.path or ""), measured)


def _number(value: object) -> float:
    """A threshold cell as a float; NaN (refused with its row) where it is not a number."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _csv_targets(path: Path, measured: set[str]) -> pd.DataFrame:
    if not path.is_file():
        raise TaskError(f"{path}: panel CSV not found (columns: target, lab, direction, threshold)")
    try:
        raw = pd.read_csv(path, dtype={"target": str, "lab": str, "direction": str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TaskError(f"{path}: unreadable panel CSV ({' '.join(str(err).split())})") from err
    missing = {"target", "lab", "direction", "threshold"} - set(raw.columns)
    if missing:
        raise TaskError(f"{path}: panel CSV lacks columns {sorted(missing)}")
    if raw.empty:
        raise TaskError(f"{path}: the panel CSV names no targets")
    threshold = raw["threshold"].map(_number).to_numpy(np.float64)
    bad = ~raw["direction"].isin(["low", "high"]) | ~np.isfinite(threshold) | raw["lab"].isna()
    if bad.any():
        raise TaskError(
            f"{path}: rows {list(raw.index[bad] + 2)} need a lab, direction low|high and a number"
        )
    if raw["target"].isna().any() or raw["target"].duplicated().any():
        raise TaskError(
            f"{path}: duplicated target ids {sorted(raw.loc[raw['target'].duplicated(), 'target'])}"
        )
    rows = []
    for row in raw.itertuples(index=False):
        codes = tuple(code.strip() for code in row.lab.split(";"))
        reason = "" if measured & set(codes) else "lab not measured in this cohort"
        rows.append(
            {
                "target": row.target,
                "lab": row.lab,
                "lab_codes": codes,
                "direction": row.direction,
                "threshold": float(row.threshold),
                "unit": getattr(row, "unit", ""),
                "drop_reason": reason,
            }
        )
    return _frame(rows)

"""The CardioLab panel: which labs make targets, following the authors' own filters (CardioLab's
``src/preprocessing.py``), then thresholds from the training split.

The authors' rules, in their order (the facts, re-implemented here):

1. labs are keyed by their **label** (MIMIC-IV ``d_labitems.label``: one label may have several itemids, e.g.
   ``Glucose`` in blood chemistry and blood gas); a cohort without a ``lab_name`` column is keyed by lab code;
   rows whose itemid has no label are dropped (the authors drop rows with a missing label);
2. rows whose reference range is **0/0** (``ref_low == 0`` and ``ref_high == 0``) are dropped: no label can be
   made from them (on the MIMIC-IV demo 2,002 rows, e.g. every ``Metamyelocytes`` row);
3. labs named ``other``, ``H``, ``I`` or ``L`` are dropped (MIMIC-IV's H, I and L are the serum hemolysis,
   icterus and lipemia indices, undocumented in the authors' words; no MIMIC-IV label is ``other``);
4. a label measured in several **fluids** keeps its majority fluid (most rows; ties: the first fluid
   alphabetically, as the authors' ``idxmax``); the minority fluids' rows are dropped (``Hematocrit`` in
   ascites or pleural fluid);
5. within the kept fluid, a label measured in several **units** keeps its majority unit (the authors dropped
   the two such cases by hand: ``Absolute Lymphocyte Count`` in ``#/uL`` and ``D-Dimer`` in ``ng/mL DDU``;
   units that are one unit spelled two ways are already one unit in the cohort store);
6. labels with fewer than ``min_rows`` remaining rows over the whole cohort are dropped (the authors: 200;
   ``panel.min_lab_rows``).

Each label that survives gives two targets, ``<label>_low`` and ``<label>_high``: positive when the value is
below the median lower bound (above the median upper bound) of the kept rows. Unlike the authors, who took the
medians over every patient, the medians come from the training patients only. The authors keep a class only
where it occurs; here the panel's count rules (anchors and patients per split) decide. Every dropped label,
fluid and unit is a row of the targets table with its ``drop_reason``; the rows removed inside a kept label
(0/0 ranges, minority fluids and units) are counted by :func:`row_drops`.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglab.tasks.errors import TaskError

EXCLUDED_LABELS = ("other", "H", "I", "L")
TARGET_FIELDS = ("target", "lab", "lab_codes", "direction", "threshold", "unit")
AUTHORS_MIN_ROWS = 200


def target_key(label: str) -> str:
    """A label as a target id stem: lower case, every run of other characters ``_`` (``Urea Nitrogen`` ->
    ``urea_nitrogen``), as the published CardioLab rows are named."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "lab"


@dataclass(frozen=True)
class Selection:
    """What the authors' filters keep: ``keep`` (one bool per lab row), ``key_of_code`` (lab code -> label),
    ``groups`` (one row per label, fluid and unit with its rows, ``n_zero`` 0/0 rows and ``drop_reason``)."""

    keep: np.ndarray
    key_of_code: pd.Series
    groups: pd.DataFrame
    keyed_by_label: bool


_LAST: tuple[weakref.ref, int, int, Selection] | None = None


def _filled(values: pd.Series) -> pd.Series:
    """Text cells of a small table with missing as ``""``."""
    return values.astype(object).where(values.notna(), "")


def _ids(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer ids of a text column (0 for missing or empty) and the names of the ids ("" first)."""
    ids, uniques = pd.factorize(values)
    names = np.array(["", *(str(u) for u in uniques)], dtype=object)
    ids = ids + 1
    empty = np.flatnonzero(names == "")
    return (np.where(np.isin(ids, empty), 0, ids), names) if len(empty) > 1 else (ids, names)


def select_rows(labs: pd.DataFrame, min_rows: int = AUTHORS_MIN_ROWS) -> Selection:
    """Apply the authors' filters (module docstring) to the cohort's lab rows: counted by integer ids of
    lab code, fluid and unit (no text column of the rows is copied or compared row by row). The last
    selection is kept for the same (unchanged) table: a task build asks for it three times."""
    global _LAST
    if _LAST is not None and _LAST[0]() is labs and _LAST[1:3] == (len(labs), min_rows):
        return _LAST[3]
    selection = _select_rows(labs, min_rows)
    _LAST = (weakref.ref(labs), len(labs), min_rows, selection)
    return selection


def _select_rows(labs: pd.DataFrame, min_rows: int) -> Selection:
    keyed = "lab_name" in labs.columns
    zero = ((labs["ref_low"] == 0) & (labs["ref_high"] == 0)).to_numpy()
    lab_ids, lab_names = _ids(labs["lab"])
    fluid_ids, fluid_names = _ids(labs["fluid"]) if "fluid" in labs.columns else (lab_ids * 0, np.array([""]))
    unit_ids, unit_names = _ids(labs["unit"])
    shape = (len(lab_names), len(fluid_names), len(unit_names))
    flat = np.ravel_multi_index((lab_ids, fluid_ids, unit_ids), shape)
    if np.prod(shape) <= 1 << 24:  # a count per cell, no sort of the rows
        n_all = np.bincount(flat, minlength=int(np.prod(shape)))
        present = np.flatnonzero(n_all)
        n_all, n_zero = n_all[present], np.bincount(flat[zero], minlength=int(np.prod(shape)))[present]
    else:
        present, inverse = np.unique(flat, return_inverse=True)
        n_all = np.bincount(inverse, minlength=len(present))
        n_zero = np.bincount(inverse[zero], minlength=len(present))
    lab_of, fluid_of, unit_of = np.unravel_index(present, shape)
    names = labs.drop_duplicates("lab").set_index("lab")
    codes = pd.Index(names.index.astype(object))
    key_of_code = pd.Series(
        _filled(names["lab_name"]).to_numpy() if keyed else codes.to_numpy(), index=codes, dtype=object
    )
    counts = pd.DataFrame(
        {
            "lab": lab_names[lab_of],
            "fluid": fluid_names[fluid_of],
            "unit": unit_names[unit_of],
            "n_rows": n_all - n_zero,
            "n_zero": n_zero,
        }
    )
    counts["key"] = counts["lab"].map(key_of_code)
    groups = (
        counts.groupby(["key", "fluid", "unit"], sort=True)
        .agg(n_rows=("n_rows", "sum"), n_zero=("n_zero", "sum"), codes=("lab", lambda c: tuple(sorted(c))))
        .reset_index()
    )
    records = groups.assign(drop_reason="", level="label").to_dict("records")
    by_key: dict[str, list[dict]] = {}
    for record in records:
        by_key.setdefault(str(record["key"]), []).append(record)
    for label_groups in by_key.values():
        _judge_label(label_groups, min_rows, keyed)
    groups = pd.DataFrame(records, columns=[*groups.columns, "drop_reason", "level"])
    kept = set(zip(groups["key"], groups["fluid"], groups["unit"], groups["drop_reason"] == "", strict=True))
    kept_cells = [  # the (lab, fluid, unit) cells whose rows are kept, as flat ids
        cell
        for cell, key, fluid, unit in zip(
            present, counts["key"], counts["fluid"], counts["unit"], strict=True
        )
        if (key, fluid, unit, True) in kept
    ]
    keep = np.isin(flat, np.asarray(kept_cells, dtype=flat.dtype)) & ~zero
    return Selection(keep, key_of_code, groups, keyed)


def _largest(counts: dict[str, int]) -> str:
    """The name with the most rows; ties: the first alphabetically (the authors' ``idxmax`` on sorted
    groups)."""
    return min(counts, key=lambda name: (-counts[name], name))


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _judge_label(groups: list[dict], min_rows: int, keyed: bool) -> None:
    """Set ``drop_reason`` (and ``level``: label, fluid or unit) on the groups of one label, in the authors'
    order: no label, 0/0 ranges only, excluded names, minority fluids, minority units, too few rows."""
    key = groups[0]["key"]
    reason = ""
    if keyed and key == "":
        reason = "no label (itemid not in d_labitems)"
    elif sum(g["n_rows"] for g in groups) == 0:
        reason = f"every row has a 0/0 reference range ({_rows(sum(g['n_zero'] for g in groups))})"
    elif key in EXCLUDED_LABELS:
        reason = f"lab named {key!r} (CardioLab drops labs named {', '.join(EXCLUDED_LABELS)})"
    if reason:
        for g in groups:
            g["drop_reason"] = reason
        return
    by_fluid: dict[str, int] = {}
    for g in groups:
        if g["n_rows"]:
            by_fluid[g["fluid"]] = by_fluid.get(g["fluid"], 0) + g["n_rows"]
    fluid = _largest(by_fluid)
    by_unit: dict[str, int] = {}
    for g in groups:
        if g["fluid"] == fluid and g["n_rows"]:
            by_unit[g["unit"]] = by_unit.get(g["unit"], 0) + g["n_rows"]
    unit = _largest(by_unit)
    for g in groups:
        if g["n_rows"] == 0:
            g["level"] = "fluid" if g["fluid"] != fluid else "unit"
            g["drop_reason"] = f"every row has a 0/0 reference range ({_rows(g['n_zero'])})"
        elif g["fluid"] != fluid:
            g["level"] = "fluid"
            g["drop_reason"] = (
                f"minority fluid: {_rows(by_fluid[g['fluid']])} in {g['fluid'] or 'no fluid'}, {key} is kept "
                f"in {fluid or 'no fluid'} ({_rows(by_fluid[fluid])})"
            )
        elif g["unit"] != unit:
            g["level"] = "unit"
            g["drop_reason"] = (
                f"minority unit: {_rows(by_unit[g['unit']])} in {g['unit'] or 'no unit'}, {key} is kept in "
                f"{unit or 'no unit'} ({_rows(by_unit[unit])})"
            )
        elif by_unit[unit] < min_rows:
            g["drop_reason"] = f"{_rows(by_unit[unit])} (< {min_rows}, panel.min_lab_rows)"


def row_drops(selection: Selection) -> list[tuple[str, int]]:
    """Rows the filters remove from the labels they keep, by reason (0/0 ranges, minority fluids, units)."""
    groups = selection.groups
    kept_keys = set(groups.loc[groups["drop_reason"] == "", "key"])
    inside = groups[groups["key"].isin(kept_keys)]
    out = [("CardioLab: row with a 0/0 reference range", int(inside["n_zero"].sum()))]
    for level in ("fluid", "unit"):
        mine = inside[(inside["level"] == level) & (inside["drop_reason"] != "")]
        out.append((f"CardioLab: row in a minority {level} of its lab", int(mine["n_rows"].sum())))
    return [(reason, n) for reason, n in out if n]


def cardiolab_targets(
    labs: pd.DataFrame, train_patients: Iterable[str] | None, min_rows: int = AUTHORS_MIN_ROWS
) -> pd.DataFrame:
    """The panel's targets on ``labs`` (columns of :data:`ecglab.tasks.panels.TARGET_COLUMNS` and
    ``drop_reason``): two per label the filters keep, thresholds from ``train_patients``' kept rows (all
    patients when None), and two per dropped label, fluid or unit, with the reason."""
    train = None
    if train_patients is not None:
        patients = set(train_patients)
        train = labs["patient_id"].isin(patients).to_numpy(dtype=bool, na_value=False)
        if not train.any():
            raise TaskError(
                f"no training patient has a lab result ({len(patients)} training patients): the CardioLab "
                "thresholds come from the training split; use a larger cohort or another split.fractions"
            )
    selection = select_rows(labs, min_rows)
    by_key = _thresholds(labs, selection, train)
    rows: list[dict] = []
    for (_, stem, name, reason), group in _merged_groups(selection).groupby(
        ["dropped", "stem", "key", "drop_reason"], sort=True
    ):
        codes = tuple(sorted({str(code) for codes_ in group["codes"] for code in codes_}))
        unit = str(group.sort_values("n_rows", ascending=False, kind="stable")["unit"].iloc[0])
        for direction in ("low", "high"):
            value, why = float("nan"), str(reason)
            if not why:
                value = by_key.get(name, {}).get(direction, value)
                why = "" if np.isfinite(value) else f"no {direction} reference bound in the training split"
            rows.append(
                {
                    "target": f"{stem}_{direction}",
                    "lab": str(name),
                    "lab_codes": codes,
                    "direction": direction,
                    "threshold": value,
                    "unit": unit,
                    "drop_reason": why,
                }
            )
    return _unique_ids(pd.DataFrame(rows, columns=[*TARGET_FIELDS, "drop_reason"]))


def _thresholds(
    labs: pd.DataFrame, selection: Selection, train: np.ndarray | None
) -> dict[str, dict[str, float]]:
    """Per label the median lower (``low``) and upper (``high``) bound over the kept rows of the training
    patients (``train``: one bool per row; None: every patient), missing bounds left out (the rule of
    :func:`ecglab.tasks.catalogue.cardiolab_thresholds`, keyed by label; rows grouped by integer codes)."""
    use = selection.keep if train is None else selection.keep & train
    codes, uniques = pd.factorize(labs["lab"])
    key_ids, keys = pd.factorize(selection.key_of_code.reindex(pd.Index(uniques).astype(object)))
    frame = pd.DataFrame(
        {
            "key": key_ids[codes[use]],
            "low": labs["ref_low"].to_numpy(np.float64)[use],
            "high": labs["ref_high"].to_numpy(np.float64)[use],
        }
    )
    medians = frame.groupby("key", sort=True)[["low", "high"]].median()
    return {
        str(keys[i]): {"low": float(row.low), "high": float(row.high)}
        for i, row in zip(medians.index, medians.itertuples(index=False), strict=True)
    }


def _merged_groups(selection: Selection) -> pd.DataFrame:
    """The groups with their target id stem (a dropped fluid or unit adds its name) and ``dropped``, so that
    the groups of one target (a label dropped whole, over all its fluids) are merged by ``groupby``."""
    groups = selection.groups
    stems = []
    for key, level, fluid, unit in zip(
        groups["key"], groups["level"], groups["fluid"], groups["unit"], strict=True
    ):
        stem = target_key(str(key)) if selection.keyed_by_label else str(key)
        if level == "fluid":
            stem += "_" + target_key(str(fluid) or "no fluid")
        elif level == "unit":
            stem += "_" + target_key(str(unit) or "no unit")
        stems.append(stem)
    return groups.assign(stem=stems, dropped=groups["drop_reason"] != "")


def _unique_ids(targets: pd.DataFrame) -> pd.DataFrame:
    """Target ids made unique: a later repeat (two labels of one stem, ``Urine Creatinine`` and ``Urine
    Creatinine`` with two spaces; a minority fluid named like another label) gets its first lab code."""
    if targets.empty:
        return targets
    ids = targets["target"].tolist()
    seen: set[str] = set()
    for i, (target, codes, direction) in enumerate(
        zip(ids, targets["lab_codes"], targets["direction"], strict=True)
    ):
        candidate, n = target, 1
        while candidate in seen:
            base = target.removesuffix(f"_{direction}")
            candidate = f"{base}_{codes[0]}_{direction}" if n == 1 else f"{base}_{codes[0]}_{n}_{direction}"
            n += 1
        seen.add(candidate)
        ids[i] = candidate
    return targets.assign(target=ids)

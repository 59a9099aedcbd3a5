"""Harmonise a trained task's targets onto another cohort store: the lab codes of each target there and the
factor from the training side's unit to the external store's unit.

For each kept target of the training task (its targets table: ``target``, ``lab``, ``lab_codes``,
``direction``, ``threshold``, ``unit``), in order:

1. a ``lab_map`` row for it (see below) decides the external codes (and the factor, when given);
2. else, when both stores code labs the same way (``Cohort.lab_coding``), the codes are the same;
3. else the AnyECG-Lab catalogue (``ecglab/tasks/catalogues/anyecg_lab.csv``) maps MC-MED component names to
   MIMIC-IV itemids and back: the target's codes are looked up on its own side (a CardioLab target keyed by
   a MIMIC-IV label maps through its itemids; one keyed by an MC-MED component through that name). No
   catalogue lab, or one without an equivalent (``IRON>TIBC RATIO`` has no MIMIC-IV itemid), leaves the
   target unmatched: ``no equivalent of IRON>TIBC RATIO in mimic-iv``.

The external unit is the unit of most of the external store's rows of those codes (a store keeps one unit
per code: :mod:`ecglab.cohort.readers.units`); codes in another unit are left out. No row at all:
``ALBUMIN is not measured in the external cohort``. The factor (external value = training value x factor)
is 1 for one unit (or two spellings the catalogue pairs for the lab: ``mmol/L`` and MIMIC's ``mEq/L`` for
potassium), else the exact factor of :func:`ecglab.cohort.readers.units.unit_factor` (``g/dL`` -> ``g/L``:
10); none known leaves the target unmatched: ``no exact factor from ug/mL FEU to ng/mL``. A unit missing on
one side only is not guessed: unmatched, and a ``lab_map`` factor settles it.

The lab map (optional, a CSV file) adds or overrides equivalences, one row per training lab:

- ``source_lab``: a target id (``potassium_high``) or a training lab (``POTASSIUM``, a CardioLab label);
  a row for the target id wins over one for its lab;
- ``external_lab``: the external store's lab codes, separated by ``;``; empty: the target is left out
  (``left out by the lab map``);
- ``factor`` (optional column, may be empty): external value = training value x factor; empty: from the
  units as above.

The table returned has one row per target: ``target``, ``lab``, ``direction``, ``lab_codes`` (external),
``unit`` (external), ``threshold`` (the training threshold x factor, for labelling external values),
``source_lab_codes``, ``source_unit``, ``source_threshold``, ``factor``, ``matched_by`` (``lab map``,
``same coding``, ``catalogue``) and ``drop_reason`` (empty when matched).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecglab.cohort.readers.units import unit_factor
from ecglab.tasks.catalogue import Target, anyecg_lab_panel
from ecglab.tasks.errors import TaskError

LAB_MAP_COLUMNS = ("source_lab", "external_lab")
HARMONISED_COLUMNS = (
    "target",
    "lab",
    "direction",
    "lab_codes",
    "unit",
    "threshold",
    "source_lab_codes",
    "source_unit",
    "source_threshold",
    "factor",
    "matched_by",
    "drop_reason",
)


@dataclass(frozen=True)
class LabMapRow:
    """One equivalence of a lab map: the external codes (empty: leave the target out) and the factor."""

    codes: tuple[str, ...]
    factor: float | None


@dataclass(frozen=True)
class LabMap:
    """A user's lab map (module docstring): rows by ``source_lab`` and the file's content digest."""

    rows: dict[str, LabMapRow]
    digest: str

    def row_for(self, target: str, lab: str) -> LabMapRow | None:
        """The row for a target id, else for its lab, else None."""
        return self.rows.get(target, self.rows.get(lab))


def _factor_cell(value: object, where: str) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return None
    try:
        factor = float(str(value))
    except ValueError as err:
        raise TaskError(f"{where}: factor {value!r} is not a number") from err
    if not math.isfinite(factor) or factor <= 0:
        raise TaskError(f"{where}: factor {value!r} must be a positive number")
    return factor


def read_lab_map(path: str | Path) -> LabMap:
    """Read a lab map CSV (columns ``source_lab``, ``external_lab``, optional ``factor``); TaskError naming
    the problem for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"{path}: lab map not found (columns: source_lab, external_lab, factor)")
    content = path.read_bytes()
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TaskError(f"{path}: unreadable lab map ({' '.join(str(err).split())})") from err
    missing = [c for c in LAB_MAP_COLUMNS if c not in raw.columns]
    if missing:
        raise TaskError(
            f"{path}: lab map lacks columns {missing} (columns: source_lab, external_lab, factor)"
        )
    names = raw["source_lab"].str.strip()
    if (names == "").any() or names.duplicated().any():
        raise TaskError(f"{path}: empty or repeated source_lab {sorted(set(names[names.duplicated()]))}")
    rows = {}
    for i, row in enumerate(raw.to_dict("records"), start=2):
        codes = tuple(c.strip() for c in str(row["external_lab"]).split(";") if c.strip())
        rows[str(row["source_lab"]).strip()] = LabMapRow(
            codes, _factor_cell(row.get("factor"), f"{path} row {i}")
        )
    return LabMap(rows, hashlib.sha256(content).hexdigest())


def _catalogue_labs(codes: tuple[str, ...], coding: str) -> list[Target]:
    """One catalogue target per lab whose codes on the ``coding`` side meet ``codes`` (catalogue order)."""
    wanted = set(map(str, codes))
    found: dict[str, Target] = {}
    for t in anyecg_lab_panel():
        side = {str(i) for i in t.mimic_itemids} if coding == "mimic-iv" else {t.mcmed_component}
        if side & wanted:
            found.setdefault(t.lab, t)
    return list(found.values())


def _same_unit(a: str, b: str) -> bool:
    return " ".join(a.split()).lower() == " ".join(b.split()).lower()


def _external_units(labs: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """Per external lab code: its unit (of most rows) and its row count."""
    if labs.empty:
        return {}
    unit = labs["unit"].astype(object).where(labs["unit"].notna(), "").astype(str)
    counts = labs.groupby([labs["lab"].astype(str), unit], sort=True).size()
    out: dict[str, tuple[str, int]] = {}
    for (code, name), n in counts.items():  # one unit per code in a store: a loop over the codes
        if code not in out or n > out[code][1]:
            out[str(code)] = (str(name), int(n))
    return out


@dataclass
class _Match:
    codes: tuple[str, ...] = ()
    unit: str = ""
    factor: float = float("nan")
    matched_by: str = ""
    reason: str = ""


def _codes_on_external(
    row: pd.Series, source_coding: str, external_coding: str, lab_map: LabMap | None
) -> tuple[_Match, float | None, tuple[str, str] | None, str]:
    """The external codes (or the reason there are none), a lab map factor, the catalogue's unit pair
    (training side, external side) and the lab name the unit factors know."""
    entry = lab_map.row_for(str(row["target"]), str(row["lab"])) if lab_map is not None else None
    if entry is not None:
        if not entry.codes:
            return _Match(matched_by="lab map", reason="left out by the lab map"), None, None, str(row["lab"])
        return _Match(codes=entry.codes, matched_by="lab map"), entry.factor, None, str(row["lab"])
    codes = tuple(map(str, row["lab_codes"]))
    if source_coding == external_coding:
        return _Match(codes=codes, matched_by="same coding"), None, None, str(row["lab"])
    labs = _catalogue_labs(codes, source_coding)
    if len(labs) > 1:
        names = ", ".join(t.lab for t in labs)
        return (
            _Match(reason=f"{row['lab']} meets several catalogue labs ({names})"),
            None,
            None,
            str(row["lab"]),
        )
    if not labs or (external_coding == "mimic-iv" and not labs[0].mimic_itemids):
        name = labs[0].lab if labs else row["lab"]
        return _Match(reason=f"no equivalent of {name} in {external_coding}"), None, None, str(row["lab"])
    t = labs[0]
    external = (
        tuple(str(i) for i in t.mimic_itemids) if external_coding == "mimic-iv" else (t.mcmed_component,)
    )
    pair = (t.unit, t.mimic_unit) if external_coding == "mimic-iv" else (t.mimic_unit, t.unit)
    return _Match(codes=external, matched_by="catalogue"), None, pair, t.lab


def _factor(
    match: _Match, source_unit: str, given: float | None, pair: tuple[str, str] | None, name: str
) -> None:
    """Set the match's factor, or its reason when no exact one is known."""
    if given is not None:
        match.factor = given
        return
    unit = match.unit
    if _same_unit(source_unit, unit):
        match.factor = 1.0
    elif not source_unit.strip() or not unit.strip():
        match.reason = (
            f"unit of {name} not stated ({source_unit or '?'} -> {unit or '?'}); give a factor in the lab map"
        )
    elif pair is not None and _same_unit(source_unit, pair[0]) and _same_unit(unit, pair[1]):
        match.factor = 1.0  # the catalogue pairs them: one unit spelt as each source spells it
    else:
        factor = unit_factor(name, source_unit, unit)
        if factor is None:
            match.reason = f"no exact factor from {source_unit} to {unit}"
        else:
            match.factor = factor


def harmonise(
    targets: pd.DataFrame,
    source_coding: str,
    external_coding: str,
    external_labs: pd.DataFrame,
    lab_map: LabMap | None = None,
) -> pd.DataFrame:
    """The training ``targets`` (rows of a targets table, in order) on the external store whose lab rows are
    ``external_labs`` (``lab``, ``unit``; the rows its panel labels from) and codes ``external_coding``
    (module docstring: columns of :data:`HARMONISED_COLUMNS`)."""
    units = _external_units(external_labs)
    rows = []
    for _, row in targets.reset_index(drop=True).iterrows():
        match, given, pair, name = _codes_on_external(row, source_coding, external_coding, lab_map)
        if not match.reason:
            measured = [c for c in match.codes if c in units]
            if not measured:
                match.reason = f"{row['lab']} is not measured in the external cohort"
            else:
                by_rows = pd.Series({c: units[c][1] for c in measured})
                by_unit = pd.Series([units[c][0] for c in measured], index=measured)
                main = str(by_rows.groupby(by_unit).sum().sort_index().idxmax())
                match.codes, match.unit = tuple(c for c in measured if units[c][0] == main), main
                _factor(match, str(row["unit"] if isinstance(row["unit"], str) else ""), given, pair, name)
        factor = match.factor if not match.reason else float("nan")
        rows.append(
            {
                "target": row["target"],
                "lab": row["lab"],
                "direction": row["direction"],
                "lab_codes": match.codes if not match.reason else (),
                "unit": match.unit,
                "threshold": float(row["threshold"]) * factor,
                "source_lab_codes": tuple(map(str, row["lab_codes"])),
                "source_unit": row["unit"] if isinstance(row["unit"], str) else "",
                "source_threshold": float(row["threshold"]),
                "factor": factor,
                "matched_by": match.matched_by,
                "drop_reason": match.reason,
            }
        )
    return pd.DataFrame(rows, columns=list(HARMONISED_COLUMNS))


def unmatched_reasons(harmonised: pd.DataFrame) -> list[str]:
    """``target: reason`` for every unmatched target."""
    gone = harmonised[harmonised["drop_reason"] != ""]
    return [f"{t}: {r}" for t, r in zip(gone["target"], gone["drop_reason"], strict=True)]


def guess_coding(targets: pd.DataFrame) -> str:
    """The lab coding of a task built before it recorded one: ``mimic-iv`` when every code is an itemid."""
    codes = [str(c) for row in targets["lab_codes"] for c in row]
    return "mimic-iv" if codes and all(c.isdigit() for c in codes) else "mcmed"


def factors_of(harmonised: pd.DataFrame) -> dict[str, float]:
    """The factor of every matched target."""
    matched = harmonised[harmonised["drop_reason"] == ""]
    return {str(t): float(f) for t, f in zip(matched["target"], matched["factor"], strict=True)}


__all__ = [
    "HARMONISED_COLUMNS",
    "LabMap",
    "factors_of",
    "guess_coding",
    "harmonise",
    "read_lab_map",
    "unmatched_reasons",
]

"""Lab units and impossible values: one unit per lab in a store, and no negative concentration.

Units. A lab (one ``lab`` code of a source: a MIMIC-IV itemid, an MC-MED Component_name, a generic ``lab``)
whose rows come in more than one unit is kept in its *main unit*: the unit of most of its rows (ties: the
first in text order; a blank unit is not a unit and never counts). A row in another unit is

- converted when :data:`UNIT_FACTORS` knows the factor between the two units for that lab (or for any lab):
  value (a censored value's bound too), ``ref_low`` and ``ref_high`` multiplied, ``unit`` set to the main
  unit, counted as a note (``converted to the lab's main unit``);
- else dropped and counted (:data:`OTHER_UNIT`), the kept unit named in the examples.

Each lab in more than one unit is listed once in a note (``lab in more than one unit``) with its main unit
and what happened to the others. Rows without a unit are kept as they are. The factors are few on purpose:
only exact ones, the same quantity in a scaled unit (g/dL = 10 g/L), one unit spelt two ways (IU/L = U/L,
mEq/L = mmol/L for a monovalent ion) and the molar masses of five small molecules and ions. A factor that
depends on the assay (D-dimer FEU vs DDU: about 2, not exactly) is not one.

Impossible values. A negative value of a lab that is a concentration, a count or a fraction
(:data:`NON_NEGATIVE`, by name: MC-MED's Component_name or MIMIC-IV's label, ignoring case) is dropped and
counted (:data:`NEGATIVE`). Labs that can be negative (base excess, anion and osmolal gaps) are not listed.

Everything is vectorised: names are looked up once per distinct lab (``pd.factorize``), units counted by a
group-by, and only the rows of labs in more than one unit are touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecglab.cohort.quality import MAX_EXAMPLES, QualityReport
from ecglab.cohort.readers.lab_values import as_text

OTHER_UNIT = "unit other than the lab's main unit, no known factor"
CONVERTED = "converted to the lab's main unit"
MIXED = "lab in more than one unit (each listed with its main unit)"
NEGATIVE = "negative value of a lab that cannot be negative"
ANY_LAB = "*"

# (lab, from unit, to unit) -> factor: value in ``to`` = value in ``from`` x factor (the inverse is implied).
UNIT_FACTORS: dict[tuple[str, str, str], float] = {
    (ANY_LAB, "IU/L", "U/L"): 1.0,  # the same enzyme-activity unit
    (ANY_LAB, "g/dL", "g/L"): 10.0,
    (ANY_LAB, "mg/dL", "mg/L"): 10.0,
    (ANY_LAB, "ng/mL", "ug/L"): 1.0,
    (ANY_LAB, "pg/mL", "ng/L"): 1.0,
    (ANY_LAB, "ng/mL", "ng/L"): 1000.0,
    (ANY_LAB, "log10 cop/mL", "log10 copies/mL"): 1.0,  # MIMIC-IV spells HIV viral load both ways
    ("SODIUM", "mEq/L", "mmol/L"): 1.0,  # monovalent ions: one equivalent is one mole
    ("POTASSIUM", "mEq/L", "mmol/L"): 1.0,
    ("CHLORIDE", "mEq/L", "mmol/L"): 1.0,
    ("CO2", "mEq/L", "mmol/L"): 1.0,  # bicarbonate
    ("GLUCOSE", "mmol/L", "mg/dL"): 18.016,  # molar mass 180.16 g/mol
    ("CREATININE", "mg/dL", "umol/L"): 88.4,  # 113.12 g/mol
    ("BLOOD UREA NITROGEN (BUN)", "mmol/L", "mg/dL"): 2.8014,  # urea's two nitrogen atoms, 28.014 g/mol
    ("CALCIUM", "mmol/L", "mg/dL"): 4.008,  # 40.078 g/mol
    ("MAGNESIUM", "mmol/L", "mg/dL"): 2.4305,  # 24.305 g/mol
    ("MCHC", "%", "g/dL"): 1.0,  # the older spelling: g per 100 mL of red cells
    ("PROTEIN/CREATININE RATIO", "mg/mg", "Ratio"): 1.0,  # a mass ratio is a plain ratio
}

# Labs that cannot be negative, by MC-MED Component_name (upper case) ...
NON_NEGATIVE = frozenset(
    {
        *(
            "ALBUMIN",
            "ALKALINE PHOSPHATASE",
            "ALT (SGPT)",
            "AMMONIA, PLASMA",
            "AST (SGOT)",
            "BILIRUBIN, TOTAL",
        ),
        *("BLOOD UREA NITROGEN (BUN)", "BNP, NT-PRO", "CALCIUM", "CALCIUM, IONIZED", "CHLORIDE", "CK, TOTAL"),
        *(
            "CO2",
            "CREATININE",
            "FERRITIN",
            "GLUCOSE",
            "HEMATOCRIT (HCT)",
            "HEMOGLOBIN",
            "LIPASE",
            "MAGNESIUM",
        ),
        *("HIGH SENSITIVITY TROPONIN", "LACTATE.WHOLE BLD", "MCHC", "PHOSPHORUS", "PLATELET COUNT (PLT)"),
        *("POTASSIUM", "PROTEIN, TOTAL", "SODIUM", "TROPONIN I", "TROPONIN T", "WHITE BLOOD CELLS (WBC)"),
    }
)
# ... and the MIMIC-IV labels (upper case) of the same labs, where they differ.
LAB_ALIASES = {
    "ALANINE AMINOTRANSFERASE (ALT)": "ALT (SGPT)",
    "ASPARATE AMINOTRANSFERASE (AST)": "AST (SGOT)",
    "AMMONIA": "AMMONIA, PLASMA",
    "UREA NITROGEN": "BLOOD UREA NITROGEN (BUN)",
    "NTPROBNP": "BNP, NT-PRO",
    "CALCIUM, TOTAL": "CALCIUM",
    "FREE CALCIUM": "CALCIUM, IONIZED",
    "CREATINE KINASE (CK)": "CK, TOTAL",
    "BICARBONATE": "CO2",
    "HEMATOCRIT": "HEMATOCRIT (HCT)",
    "LACTATE": "LACTATE.WHOLE BLD",
    "PHOSPHATE": "PHOSPHORUS",
    "PLATELET COUNT": "PLATELET COUNT (PLT)",
    "WHITE BLOOD CELLS": "WHITE BLOOD CELLS (WBC)",
    "WBC COUNT": "WHITE BLOOD CELLS (WBC)",
}


def canonical_lab(name: str) -> str:
    """The name :data:`UNIT_FACTORS` and :data:`NON_NEGATIVE` use for a lab named ``name``."""
    upper = " ".join(str(name).split()).upper()
    return LAB_ALIASES.get(upper, upper)


def unit_factor(name: str, unit: str, main: str) -> float | None:
    """The factor from ``unit`` to ``main`` for the lab named ``name``, or None when none is known."""
    for lab in (canonical_lab(name), ANY_LAB):
        if (lab, unit, main) in UNIT_FACTORS:
            return UNIT_FACTORS[lab, unit, main]
        if (lab, main, unit) in UNIT_FACTORS:
            return 1.0 / UNIT_FACTORS[lab, main, unit]
    return None


def _names(labs: pd.Series, names: Mapping[str, str] | None) -> tuple[np.ndarray, pd.Index, list[str]]:
    """Each row's position among the distinct labs, the distinct labs, and their names."""
    codes, distinct = pd.factorize(as_text(labs))
    named = [str(names.get(lab, lab)) if names is not None else str(lab) for lab in distinct]
    return codes, pd.Index(distinct), named


def drop_negative(
    frame: pd.DataFrame, quality: QualityReport, stage: str, names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """``frame`` less the rows whose ``value`` is negative for a lab in :data:`NON_NEGATIVE`, counted.
    ``names`` maps a ``lab`` code to its name (MIMIC-IV's itemid -> label); the code itself otherwise."""
    negative = (frame["value"] < 0).to_numpy()
    if not negative.any():
        return frame
    codes, _, named = _names(frame["lab"], names)
    impossible = np.array([canonical_lab(n) in NON_NEGATIVE for n in named], dtype=bool)[codes] & negative
    if not impossible.any():
        return frame
    picked = frame[impossible].head(MAX_EXAMPLES)
    shown = [
        f"row {i}: {lab}={value:g}"
        for i, lab, value in zip(picked.index, picked["lab"], picked["value"], strict=True)
    ]
    quality.drop(stage, NEGATIVE, int(impossible.sum()), shown)
    return frame[~impossible]


@dataclass
class UnitCounts:
    """Rows per (lab, non-blank unit) of a table that may arrive in chunks; ``plan`` decides the units once
    every chunk is counted (``finish``)."""

    parts: list[pd.Series] = field(default_factory=list)
    finished: bool = False

    def add(self, frame: pd.DataFrame) -> None:
        unit = as_text(frame["unit"])
        given = (unit.str.strip() != "").to_numpy()
        pairs = pd.DataFrame({"lab": as_text(frame["lab"])[given], "unit": unit[given]})
        self.parts.append(pairs.groupby(["lab", "unit"], sort=False).size())

    def finish(self) -> None:
        self.finished = True

    def plan(self, quality: QualityReport, stage: str, names: Mapping[str, str] | None = None) -> UnitPlan:
        """The main unit and factors of each lab in more than one unit, each listed in a note."""
        if not self.finished:
            raise RuntimeError("UnitCounts.plan before every chunk was counted")
        if not self.parts:
            return UnitPlan({}, {})
        counts = pd.concat(self.parts).groupby(level=[0, 1]).sum()
        units_per_lab = counts.groupby(level=0).size()
        mixed = units_per_lab.index[units_per_lab > 1]
        main, factors, listed = {}, {}, []
        for lab in sorted(mixed):  # a loop over the few labs in more than one unit, not over rows
            per_unit = counts.loc[lab].sort_index()
            main[lab] = kept = str(per_unit.idxmax())
            name = str(names.get(lab, lab)) if names is not None else str(lab)
            fates = []
            for unit, rows in per_unit.items():
                if unit == kept:
                    continue
                factor = unit_factor(name, str(unit), kept)
                if factor is not None:
                    factors[f"{lab}\x1f{unit}"] = factor
                fate = "dropped (no known factor)" if factor is None else f"converted (x {factor:g})"
                fates.append(f"{unit!r}: {rows} rows {fate}")
            label = f"{lab} ({name})" if name != lab else str(lab)
            listed.append(f"{label}: kept {kept!r} ({per_unit[kept]} rows); " + "; ".join(fates))
        quality.note(stage, MIXED, len(listed), listed)
        return UnitPlan(main, factors)


@dataclass(frozen=True)
class UnitPlan:
    """What :meth:`UnitCounts.plan` decided: ``main`` unit per lab in more than one unit, and the factor
    of each (lab, other unit) that is converted, keyed ``lab\\x1funit``; other units are dropped."""

    main: dict[str, str]
    factors: dict[str, float]

    def apply(self, frame: pd.DataFrame, quality: QualityReport, stage: str) -> pd.DataFrame:
        """``frame`` with every row of a lab in more than one unit in that lab's main unit, or dropped;
        counted (see the module docstring)."""
        if not self.main or frame.empty:
            return frame
        lab_codes, labs = pd.factorize(as_text(frame["lab"]))
        unit_codes, units = pd.factorize(as_text(frame["unit"]))
        position = {unit: i for i, unit in enumerate(units)}
        blank = np.array([str(unit).strip() == "" for unit in units] + [True], dtype=bool)
        # per distinct lab: the position of its main unit among the units (-1: not mixed or not here)
        main_of = np.array([position.get(self.main.get(lab, "\x00"), -1) for lab in labs], dtype=np.int64)
        mixed = np.array([lab in self.main for lab in labs], dtype=bool)
        other = mixed[lab_codes] & ~blank[unit_codes] & (unit_codes != main_of[lab_codes])
        if not other.any():
            return frame
        pairs = lab_codes[other].astype(np.int64) * (len(units) + 1) + unit_codes[other]
        distinct, back = np.unique(pairs, return_inverse=True)
        keys = [f"{labs[p // (len(units) + 1)]}\x1f{units[p % (len(units) + 1)]}" for p in distinct]
        factor = np.array([self.factors.get(key, np.nan) for key in keys], dtype=np.float64)[back]
        known = ~np.isnan(factor)
        drop, converted = other.copy(), other.copy()
        drop[other], converted[other] = ~known, known
        main_units = np.array([self.main.get(lab, "") for lab in labs], dtype=object)[lab_codes]
        if drop.any():
            picked = np.flatnonzero(drop)[:MAX_EXAMPLES]
            shown = [
                f"row {frame.index[i]}: {labs[lab_codes[i]]}: {units[unit_codes[i]]} (kept {main_units[i]})"
                for i in picked
            ]
            quality.drop(stage, OTHER_UNIT, int(drop.sum()), shown)
        if converted.any():
            rows = np.flatnonzero(converted)
            frame = _convert(frame, rows, factor[known], main_units[rows], quality, stage)
        return frame[~drop] if drop.any() else frame


def _convert(
    frame: pd.DataFrame,
    rows: np.ndarray,
    scale: np.ndarray,
    main: np.ndarray,
    quality: QualityReport,
    stage: str,
) -> pd.DataFrame:
    """``frame`` with the values, bounds and unit of the ``rows`` (positions) converted by ``scale`` to the
    ``main`` units; counted as a note."""
    frame = frame.copy()
    before = frame["value"].to_numpy()[rows]
    for column in ("value", "ref_low", "ref_high"):
        if column in frame:
            values = frame[column].to_numpy(dtype=np.float64, copy=True)
            values[rows] *= scale
            frame[column] = values
    after = frame["value"].to_numpy()[rows]
    shown = [
        f"row {frame.index[i]}: {frame['lab'].iat[i]}: {b:g} {frame['unit'].iat[i]} -> {a:g} {m}"
        for i, b, a, m in zip(
            rows[:MAX_EXAMPLES], before[:MAX_EXAMPLES], after[:MAX_EXAMPLES], main[:MAX_EXAMPLES], strict=True
        )
    ]
    unit = frame["unit"].copy()
    unit.iloc[rows] = main
    frame["unit"] = unit
    quality.note(stage, CONVERTED, len(rows), shown)
    return frame

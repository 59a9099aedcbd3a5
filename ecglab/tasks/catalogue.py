"""Target catalogues: the AnyECG-Lab panel (packaged CSV) and the CardioLab threshold rule.

AnyECG-Lab panel (``ecglab/tasks/catalogues/anyecg_lab.csv``, regenerated and re-checked by
``ecglab/tasks/catalogues/build_anyecg_lab.py``): 108 targets over 66 MC-MED labs, as published in AnyECG-Lab
Table 2. A target is one lab and one direction: ``low`` means value < threshold, ``high`` value > threshold
(the paper prints ``<`` and ``>``). Target ids are the lab name in lower case with every run of
non-alphanumeric characters replaced by ``_``, then ``_low`` or ``_high`` (``POTASSIUM`` low ->
``potassium_low``, ``IRON>TIBC RATIO`` high -> ``iron_tibc_ratio_high``).

Each target also carries its MIMIC-IV equivalent: hosp ``itemid``s measuring the same quantity in blood in
the same unit (empty where MIMIC-IV has none; ``mimic_note`` says why), with their fluid, category, labels
and the MIMIC unit string.

CardioLab rule: per lab, low threshold = median of ``ref_low`` and high threshold = median of ``ref_high``
over the training rows (:func:`cardiolab_thresholds`, per lab code). The CardioLab panel of a task applies the
same rule per lab *label*, after the authors' filters (0/0 ranges, labs named H/I/L, minority fluids and
units, a row minimum): :mod:`ecglab.tasks.cardiolab_panel`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

DIRECTIONS = ("low", "high")
N_TARGETS = 108
N_LABS = 66
PANEL_COLUMNS = (
    "target",
    "lab",
    "direction",
    "threshold",
    "unit",
    "mcmed_component",
    "mimic_itemids",
    "mimic_fluid",
    "mimic_category",
    "mimic_label",
    "mimic_unit",
    "mimic_note",
)
LABS_COLUMNS = ("patient_id", "lab", "ref_low", "ref_high")


@dataclass(frozen=True)
class Target:
    """One binary target: ``lab`` below (``low``) or above (``high``) ``threshold`` (in ``unit``)."""

    target: str
    lab: str
    direction: str
    threshold: float
    unit: str
    mcmed_component: str
    mimic_itemids: tuple[int, ...]
    mimic_fluid: str
    mimic_category: str
    mimic_label: str
    mimic_unit: str
    mimic_note: str

    def is_positive(self, value: float) -> bool:
        """True when ``value`` is in the abnormal class (strict); NaN gives False, so mask missing first."""
        return value < self.threshold if self.direction == "low" else value > self.threshold


def _parse_itemids(text: str, where: str) -> tuple[int, ...]:
    if text == "":
        return ()
    parts = text.split(";")
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"{where}: mimic_itemids {text!r} is not a ';'-separated list of integers")
    return tuple(int(p) for p in parts)


def _parse_threshold(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise ValueError(f"{where}: threshold {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise ValueError(f"{where}: threshold {text!r} is not finite")
    return value


def parse_panel(
    csv_text: str, expected_targets: int = N_TARGETS, expected_labs: int = N_LABS
) -> list[Target]:
    """Parse and validate a panel CSV; raise ValueError naming the first problem found."""
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    missing = [c for c in PANEL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"panel CSV lacks columns {missing}")
    targets = []
    for i, row in enumerate(frame.to_dict("records"), start=2):
        where = f"panel row {i} ({row['target']!r})"
        if row["direction"] not in DIRECTIONS:
            raise ValueError(f"{where}: direction {row['direction']!r} is not one of {DIRECTIONS}")
        if row["mcmed_component"] != row["lab"]:
            raise ValueError(f"{where}: mcmed_component {row['mcmed_component']!r} != lab {row['lab']!r}")
        itemids = _parse_itemids(row["mimic_itemids"], where)
        if itemids and not (row["mimic_fluid"] and row["mimic_unit"] and row["mimic_label"]):
            raise ValueError(f"{where}: mapped itemids need mimic_fluid, mimic_label and mimic_unit")
        if not itemids and not row["mimic_note"]:
            raise ValueError(f"{where}: no MIMIC itemids and no mimic_note saying why")
        values = {c: row[c] for c in PANEL_COLUMNS}
        values.update(threshold=_parse_threshold(row["threshold"], where), mimic_itemids=itemids)
        targets.append(Target(**values))
    _check_panel(targets, expected_targets, expected_labs)
    return targets


def _check_panel(targets: list[Target], expected_targets: int, expected_labs: int) -> None:
    if len(targets) != expected_targets:
        raise ValueError(f"panel has {len(targets)} targets, expected {expected_targets}")
    ids = [t.target for t in targets]
    duplicated = sorted({t for t in ids if ids.count(t) > 1})
    if duplicated:
        raise ValueError(f"duplicated target ids: {duplicated}")
    by_lab: dict[str, dict[str, Target]] = {}
    for t in targets:
        if t.direction in by_lab.setdefault(t.lab, {}):
            raise ValueError(f"lab {t.lab!r} has two {t.direction!r} targets")
        by_lab[t.lab][t.direction] = t
    if len(by_lab) != expected_labs:
        raise ValueError(f"panel has {len(by_lab)} labs, expected {expected_labs}")
    for lab, pair in by_lab.items():
        if len({t.mimic_itemids for t in pair.values()}) > 1:
            raise ValueError(f"lab {lab!r}: low and high targets map to different MIMIC itemids")
        if len(pair) == 2 and not pair["low"].threshold < pair["high"].threshold:
            raise ValueError(
                f"lab {lab!r}: low threshold {pair['low'].threshold} >= high {pair['high'].threshold}"
            )


@lru_cache(maxsize=1)
def _packaged_panel() -> tuple[Target, ...]:
    text = (resources.files("ecglab.tasks") / "catalogues" / "anyecg_lab.csv").read_text(encoding="utf-8")
    return tuple(parse_panel(text))


def anyecg_lab_panel() -> list[Target]:
    """The 108 AnyECG-Lab targets (66 MC-MED labs), in catalogue order (lab, then low before high)."""
    return list(_packaged_panel())


def read_panel(path: Path) -> list[Target]:
    """Read and validate a panel CSV from a file (same checks as the packaged one)."""
    return parse_panel(Path(path).read_text(encoding="utf-8"))


def mimic_itemids(target_or_lab: Target | str) -> tuple[int, ...]:
    """MIMIC-IV hosp itemids of a Target, a target id (``potassium_high``) or an MC-MED lab (``POTASSIUM``).

    Returns () for labs without a MIMIC-IV equivalent; raises KeyError for an unknown name.
    """
    if isinstance(target_or_lab, Target):
        return target_or_lab.mimic_itemids
    for t in _packaged_panel():
        if target_or_lab in (t.target, t.lab):
            return t.mimic_itemids
    raise KeyError(f"{target_or_lab!r} is neither an AnyECG-Lab target id nor an MC-MED lab name")


def labs_without_mimic_equivalent() -> list[str]:
    """MC-MED lab names of the panel that have no MIMIC-IV itemid (sorted)."""
    return sorted({t.lab for t in _packaged_panel() if not t.mimic_itemids})


def cardiolab_thresholds(labs: pd.DataFrame, patient_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """CardioLab thresholds per lab code: medians of the reference-range bounds over the training rows.

    ``labs`` follows the cohort-store labs schema (needs ``patient_id``, ``lab``, ``ref_low``, ``ref_high``).
    When ``patient_ids`` is given (the training split), only those patients' rows are used, so validation and
    test never inform the thresholds. Returns one row per lab code present in ``labs`` (all of them, sorted):
    ``lab``, ``low_threshold`` (median of non-missing ``ref_low``), ``high_threshold`` (median of non-missing
    ``ref_high``), ``n_rows`` (rows used), ``n_rows_with_range`` (rows with at least one bound),
    ``no_range`` (True when no bound was available: thresholds are NaN) and ``issue`` (why, or "").
    A lab without any range is reported, never dropped.
    """
    missing = [c for c in LABS_COLUMNS if c not in labs.columns]
    if missing:
        raise ValueError(f"labs table lacks columns {missing}")
    if labs["lab"].isna().any():
        raise ValueError(f"labs table has {int(labs['lab'].isna().sum())} rows without a lab code")
    for column in ("ref_low", "ref_high"):
        if not pd.api.types.is_numeric_dtype(labs[column]):
            raise ValueError(f"labs column {column!r} must be numeric, got {labs[column].dtype}")
    used = labs
    if patient_ids is not None:
        if isinstance(patient_ids, str):
            raise TypeError("patient_ids must be a collection of ids, not a single string")
        wanted = set(patient_ids)
        if not wanted:
            raise ValueError("patient_ids is empty: thresholds need at least one training patient")
        used = labs[labs["patient_id"].isin(wanted)]
        if used.empty:
            raise ValueError(f"none of the {len(wanted)} patient_ids occur in the labs table")
    all_labs = pd.Index(sorted(labs["lab"].unique()), name="lab")
    grouped = used.groupby("lab", sort=True)
    has_range = used["ref_low"].notna() | used["ref_high"].notna()
    out = pd.DataFrame(
        {
            "low_threshold": grouped["ref_low"].median().reindex(all_labs),
            "high_threshold": grouped["ref_high"].median().reindex(all_labs),
            "n_rows": used["lab"].value_counts().reindex(all_labs, fill_value=0).astype("int64"),
            "n_rows_with_range": used.loc[has_range, "lab"]
            .value_counts()
            .reindex(all_labs, fill_value=0)
            .astype("int64"),
        },
        index=all_labs,
    )
    out["no_range"] = out["low_threshold"].isna() & out["high_threshold"].isna()
    out["issue"] = [
        _threshold_issue(n, low, high)
        for n, low, high in zip(out["n_rows"], out["low_threshold"], out["high_threshold"], strict=True)
    ]
    return out.reset_index()


def _threshold_issue(n_rows: int, low: float, high: float) -> str:
    if n_rows == 0:
        return "no rows for this lab in the selected patients"
    if math.isnan(low) and math.isnan(high):
        return "no reference range in any row"
    if math.isnan(low):
        return "no lower bound in any row: no low target"
    if math.isnan(high):
        return "no upper bound in any row: no high target"
    if low > high:
        return "median lower bound > median upper bound"
    return ""

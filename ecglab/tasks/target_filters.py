"""Which targets a built task keeps: counts of positive and negative anchors and patients per split, and the
panel's minimums applied to the evaluated splits (val and test), each dropped target with its reason.

Counts per target and split (columns of the task's targets table): ``positives_<split>`` and
``negatives_<split>`` (anchors labelled 1 and 0), ``positive_patients_<split>`` and
``negative_patients_<split>`` (patients with at least one anchor labelled 1, or 0; a patient with both counts
in both). A target is dropped at the first count below its minimum, in this order: val before test, and in
each split positive anchors, negative anchors, positive patients, negative patients; its ``drop_reason``
names the count, the split and the minimum: ``3 positive patients in test (< 10)``.

Why patients, and why 10 by default (``panel.min_positive_patients`` / ``min_negative_patients``): anchors
of one patient are not independent (many ECG segments or blood tests per patient), so a target with 10
positive anchors from two patients has two positive observations, not ten. The patient bootstrap and the
clustered AUROC variance resample or sum over patients: their interval is only as trustworthy as the number
of patients in each class. With 10 patients a class's variance term has 9 degrees of freedom (the standard
error of an SD estimate is then about a quarter of the SD; a third with 5), and no single patient holds more
than a tenth of the class; with fewer, intervals under-cover and swing with one patient, as the demo's null
lipase target did, with 17 positive anchors from a handful of patients and an interval excluding 0.5. 10 is
a floor for an interval worth printing, not a sample size for a validation study (which wants 100 events or
more); a small cohort lowers it in its task spec, and says so there.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ecglab.cohort.quality import QualityReport
from ecglab.tasks.spec import PanelSpec
from ecglab.tasks.splits import SPLITS

EVALUATED = ("val", "test")
# (column prefix, label value, wording of the reason, PanelSpec field of the minimum), in the order checked
COUNTS = (
    ("positives", 1, "positives", "min_positives"),
    ("negatives", 0, "negatives", "min_negatives"),
    ("positive_patients", 1, "positive patients", "min_positive_patients"),
    ("negative_patients", 0, "negative patients", "min_negative_patients"),
)

_COUNT_REASON = re.compile(rf"^\d+ ({'|'.join(words for _, _, words, _ in COUNTS)}) in (\w+) \(< (\d+)\)$")
_ROWS_REASON = re.compile(r"^\d+ rows? \(< (\d+), panel\.min_lab_rows\)$")
_PANEL_RULES = {  # reason prefix (ecglab.tasks.cardiolab_panel) -> rule
    "minority fluid:": "minority fluid",
    "minority unit:": "minority unit",
    "every row has a 0/0 reference range": "every row has a 0/0 reference range",
    "lab named ": "lab named other, H, I or L",
}


def is_count_reason(reason: str) -> bool:
    """True for a reason of a count below its minimum (``3 positive patients in test (< 10)``)."""
    return _COUNT_REASON.match(reason) is not None


def drop_rule(reason: str) -> str:
    """The rule behind a target's drop reason: ``7 positives in val (< 10)`` -> ``fewer than 10 positives in
    val``, ``3 positive patients in test (< 10)`` -> ``fewer than 10 positive patients in test``, ``43 rows
    (< 200, panel.min_lab_rows)`` -> ``fewer than 200 rows (panel.min_lab_rows)``, a CardioLab minority fluid
    or unit or 0/0 range without its counts; other reasons (a lab not measured) are their own rule."""
    match = _COUNT_REASON.match(reason)
    if match:
        return f"fewer than {match[3]} {match[1]} in {match[2]}"
    match = _ROWS_REASON.match(reason)
    if match:
        return f"fewer than {match[1]} rows (panel.min_lab_rows)"
    for prefix, rule in _PANEL_RULES.items():
        if reason.startswith(prefix):
            return rule
    return reason


def count_targets(targets: pd.DataFrame, anchors: pd.DataFrame, matrix: np.ndarray) -> pd.DataFrame:
    """``targets`` with the count columns of every split (0 for targets dropped before labelling);
    ``matrix`` holds the labels of the usable targets (``drop_reason == ""``), rows aligned with
    ``anchors``."""
    table = targets.copy()
    columns = np.flatnonzero((targets["drop_reason"] == "").to_numpy())
    patients = pd.factorize(anchors["patient_id"].to_numpy(dtype=object))[0]
    n_patients = int(patients.max()) + 1 if len(patients) else 0
    for split in SPLITS:
        rows = (anchors["split"] == split).to_numpy()
        for prefix, value, _, _ in COUNTS:
            counts = np.zeros(len(table), dtype=np.int64)
            hits = matrix[rows] == value
            if prefix.endswith("_patients"):
                seen = np.zeros((n_patients, hits.shape[1]), dtype=bool)
                np.logical_or.at(seen, patients[rows], hits)
                counts[columns] = seen.sum(axis=0)
            else:
                counts[columns] = hits.sum(axis=0)
            table[f"{prefix}_{split}"] = counts
    return table


def drop_reasons(table: pd.DataFrame, panel: PanelSpec, evaluated: tuple[str, ...] = EVALUATED) -> pd.Series:
    """Each target's drop reason: the one it had (a lab not measured, a panel filter), else the first count
    of an ``evaluated`` split (val and test; an external task: test only) below the panel's minimum, else
    ``""``."""
    reasons = table["drop_reason"].copy()
    for split in evaluated:
        for prefix, _, words, field in COUNTS:
            need = int(getattr(panel, field))
            short = (table[f"{prefix}_{split}"] < need) & (reasons == "")
            reasons[short] = table.loc[short, f"{prefix}_{split}"].map(
                lambda n, s=split, w=words, k=need: f"{n} {w} in {s} (< {k})"
            )
    return reasons


def filter_targets(
    panel: PanelSpec,
    targets: pd.DataFrame,
    anchors: pd.DataFrame,
    matrix: np.ndarray,
    report: QualityReport,
    stage: str,
    evaluated: tuple[str, ...] = EVALUATED,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The targets table with counts, ``drop_reason`` and ``kept``, and the label matrix of the kept targets;
    the drops are counted by rule (:func:`drop_rule`) as notes of ``stage`` in ``report``, with examples.
    ``evaluated``: the splits whose counts the minimums apply to."""
    table = count_targets(targets, anchors, matrix)
    reasons = drop_reasons(table, panel, evaluated)
    table["drop_reason"] = reasons
    table["kept"] = reasons == ""
    dropped = reasons[reasons != ""]
    for rule, count in dropped.map(drop_rule).value_counts().items():
        examples = table.loc[dropped.index[dropped.map(drop_rule) == rule], "target"].head(3)
        report.note(stage, f"target dropped: {rule}", int(count), [str(t) for t in examples])
    columns = np.flatnonzero((targets["drop_reason"] == "").to_numpy())
    position_in_matrix = {c: i for i, c in enumerate(columns)}
    kept_positions = np.flatnonzero(table["kept"].to_numpy())
    return table, matrix[:, [position_in_matrix[c] for c in kept_positions]]

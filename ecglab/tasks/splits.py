"""Splits of patients into train / val / test: never by visit or ECG (a patient on both sides leaks identity).

- ``patient``: seeded iterative stratification (Sechidis et al., 2011) on which targets each patient has a
  positive label for, so that rare targets get positives in every split in proportion.
- ``source``: a split the cohort gives per visit (MC-MED's ``split_random``, ``split_chrono``), used as is;
  patients that the source puts on several sides are reported.
- ``temporal``: patients ordered by a column of the patients table (e.g. MIMIC-IV's ``anchor_year_group``;
  times themselves are shifted per patient and say nothing about calendar order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglab.tasks.errors import TaskError
from ecglab.tasks.spec import SplitSpec

SPLITS = ("train", "val", "test")


def stratified_patient_split(
    patients: np.ndarray, positives: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> np.ndarray:
    """Split name per patient. ``positives`` is patients x targets, True where the patient has a positive."""
    rng = np.random.default_rng(seed)
    n = len(patients)
    fractions_arr = np.asarray(fractions, dtype=np.float64)
    want_patients = fractions_arr * n
    want_labels = fractions_arr[:, None] * positives.sum(axis=0)[None, :].astype(np.float64)
    assigned = np.full(n, -1, dtype=np.int64)
    remaining = positives.copy()
    while remaining.any():
        counts = remaining.sum(axis=0)
        target = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
        carriers = np.flatnonzero(remaining[:, target])
        for p in rng.permutation(carriers):
            need = want_labels[:, target]
            best = np.flatnonzero(need == need.max())
            if len(best) > 1:
                best = best[want_patients[best] == want_patients[best].max()]
            split = int(rng.choice(best))
            assigned[p] = split
            want_labels[split] -= positives[p]
            want_patients[split] -= 1
            remaining[p] = False
    for p in rng.permutation(np.flatnonzero(assigned < 0)):
        split = int(np.argmax(want_patients))
        assigned[p] = split
        want_patients[split] -= 1
    return np.asarray(SPLITS, dtype=object)[assigned]


def temporal_patient_split(keys: pd.Series, fractions: tuple[float, float, float], seed: int) -> np.ndarray:
    """Earliest patients to train, then val, then test; ties broken by a seeded shuffle."""
    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(len(keys))
    order = np.lexsort((tiebreak, keys.to_numpy()))
    bounds = np.round(np.cumsum(fractions) * len(keys)).astype(int)
    split = np.empty(len(keys), dtype=object)
    split[order] = np.asarray(SPLITS, dtype=object)[
        np.searchsorted(bounds, np.arange(len(keys)), side="right")
    ]
    return split


def source_split(
    split: SplitSpec, visits: pd.DataFrame, anchors: pd.DataFrame, where: str
) -> tuple[np.ndarray, int]:
    """Each anchor's split from its visit's ``split.column`` (None where the source gives none), and the
    number of patients the source puts in several splits."""
    table = visits.set_index("visit_id")
    if split.column not in table.columns:
        raise TaskError(
            f"{where}: visits have no column {split.column!r} for a source split (split.column; "
            f"visits have {list(table.columns)})"
        )
    values = table[split.column].reindex(anchors["visit_id"]).to_numpy(dtype=object)
    per_patient = pd.DataFrame({"p": anchors["patient_id"], "s": values}).dropna().groupby("p")["s"].nunique()
    return values, int((per_patient > 1).sum())


def temporal_split(split: SplitSpec, patients: pd.DataFrame, anchors: pd.DataFrame, where: str) -> np.ndarray:
    """Each anchor's split from its patient's place in the order of the patients' ``split.column``."""
    table = patients.set_index("patient_id")
    if split.column is None or split.column not in table.columns:
        raise TaskError(
            f"{where}: a temporal split needs split.column, a patients column (have {list(table.columns)})"
        )
    ids, patient_of_anchor = np.unique(anchors["patient_id"].to_numpy(dtype=object), return_inverse=True)
    keys = table[split.column].reindex(ids)
    if keys.isna().any():
        raise TaskError(
            f"{where}: temporal split: {int(keys.isna().sum())} patients have no {split.column!r}; "
            f"e.g. {list(keys[keys.isna()].index[:3])}"
        )
    names = temporal_patient_split(keys.reset_index(drop=True), split.fractions, split.seed)
    return names[patient_of_anchor]

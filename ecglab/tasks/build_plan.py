"""How an external task's build departs from the spec's own (:func:`ecglab.tasks.build.build_planned`).

The steps are those of :mod:`ecglab.tasks.build` with three changes: the targets table is given (panel
columns and ``drop_reason``; thresholds as given, a CardioLab panel's too, never re-resolved on the cohort);
every kept anchor is in ``test``, of every patient (scope ``all``) or of the patients the spec's own task on
the cohort (as :func:`ecglab.tasks.build.build_task` builds it) puts in test (scope ``test``); and the
panel's minimums apply to test only. The CardioLab row filters (0/0 ranges, minority fluids and units)
apply, its label-level row minimum (``panel.min_lab_rows``, a rule about the training data) does not. No
tabular side inputs are built: the caller imputes them with the training side's medians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SCOPES = ("all", "test")
SCOPE_DROP = "anchor of a patient the cohort's own task does not put in test (scope test)"


@dataclass(frozen=True)
class BuildPlan:
    """The given targets table, the scope (``all`` or ``test``) and, for ``test``, the patients the spec's
    own task on the cohort puts in test."""

    targets: pd.DataFrame
    scope: str = "all"
    test_patients: frozenset[str] | None = None

    @property
    def evaluated(self) -> tuple[str, ...]:
        """The splits the panel's minimums apply to."""
        return ("test",)

    def splits(self, patients: pd.Series) -> tuple[np.ndarray, int]:
        """Each anchor's split (``test``, or None: dropped) from its patient, and how many are dropped."""
        if self.scope == "all":
            return np.full(len(patients), "test", dtype=object), 0
        if self.test_patients is None:
            raise ValueError("scope test needs the test patients of the cohort's own task")
        inside = patients.isin(self.test_patients).to_numpy()
        return np.where(inside, "test", None).astype(object), int((~inside).sum())

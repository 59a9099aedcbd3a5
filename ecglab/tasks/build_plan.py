"""How an external task's build departs from the spec's own (:func:`ecglab.tasks.build.build_planned`).

The steps are those of :mod:`ecglab.tasks.build` with three changes: the targets table is given (panel
columns and ``drop_reason``; thresholds as given, a CardioLab panel's too, never re-resolved on the cohort);
every kept anchor is in ``test``, of every patient (scope ``all``) or of the patients the spec's own split of
the cohort puts in test (scope ``test``); and the panel's minimums apply to test only. The CardioLab row
filters (0/0 ranges, minority fluids and units) apply, its label-level row minimum (``panel.min_lab_rows``,
a rule about the training data) does not. No tabular side inputs are built: the caller imputes them with the
training side's medians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SCOPES = ("all", "test")
SCOPE_DROP = "anchor of a train or val patient of the cohort's own split (scope test)"


@dataclass(frozen=True)
class BuildPlan:
    """The given targets table and the scope (``all`` or ``test``)."""

    targets: pd.DataFrame
    scope: str = "all"

    @property
    def evaluated(self) -> tuple[str, ...]:
        """The splits the panel's minimums apply to."""
        return ("test",)

    def splits(self, spec_split: np.ndarray | None, n_anchors: int) -> tuple[np.ndarray, int]:
        """Each anchor's split (None: dropped) and how many are dropped, from the spec's own split of the
        cohort (``spec_split``; needed for scope ``test`` only)."""
        if self.scope == "all":
            return np.full(n_anchors, "test", dtype=object), 0
        if spec_split is None:
            raise ValueError("scope test needs the spec's own split of the cohort")
        other = pd.Series(spec_split).isin(["train", "val"]).to_numpy()
        return np.where(other, None, spec_split).astype(object), int(other.sum())

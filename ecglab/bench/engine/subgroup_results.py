"""Per-subgroup AUROC of a run's test predictions (sex, age band, columns the task names), written to the
run folder's ``subgroups.parquet``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecglab.bench.config import RunConfig
from ecglab.cohort.store import Cohort
from ecglab.tasks.build import TaskData


def write_subgroups(
    task: TaskData, cohort: Cohort, scores: np.ndarray, config: RunConfig, run_dir: Path
) -> None:
    """Write ``subgroups.parquet`` for the test rows of ``scores`` (anchors x kept targets)."""
    del task, cohort, scores, config, run_dir  # stub: filled in by the subgroup work

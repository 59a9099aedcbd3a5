"""Calibration of a run's test probabilities: Brier score, expected calibration error and reliability bins
per target, written to the run folder's ``calibration.parquet``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecglab.bench.config import RunConfig
from ecglab.tasks.build import TaskData


def write_calibration(task: TaskData, scores: np.ndarray, config: RunConfig, run_dir: Path) -> None:
    """Write ``calibration.parquet`` for the evaluated splits of ``scores`` (anchors x kept targets)."""
    del task, scores, config, run_dir  # stub: filled in by the calibration work

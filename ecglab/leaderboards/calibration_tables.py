"""The calibration tables of a leaderboard: per entry and target the Brier score and expected calibration
error of the test probabilities (``calibration``), and the reliability diagram's bins (``reliability``), read
from the run folders' ``calibration.parquet`` (written by ``ecglab.bench.engine.calibration_results``)."""

from __future__ import annotations

import pandas as pd

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import CALIBRATION_COLUMNS, RELIABILITY_COLUMNS


def calibration_tables(runs: dict[str, list[tuple[str, RunResult]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration, reliability) of ``runs``: per task, the (entry name, run) pairs scored on it."""
    del runs  # stub: filled in by the calibration work
    return pd.DataFrame(columns=CALIBRATION_COLUMNS), pd.DataFrame(columns=RELIABILITY_COLUMNS)

"""The regression table of a leaderboard: per entry trained on lab values (a regression task option) and
target lab, the MAE and rank correlation of the predicted values, read from the run folders'
``regression.parquet``."""

from __future__ import annotations

import pandas as pd

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import REGRESSION_COLUMNS


def regression_table(runs: dict[str, list[tuple[str, RunResult]]]) -> pd.DataFrame:
    """The regression rows of ``runs``: per task, the (entry name, run) pairs scored on it."""
    del runs  # stub: filled in by the regression work
    return pd.DataFrame(columns=REGRESSION_COLUMNS)

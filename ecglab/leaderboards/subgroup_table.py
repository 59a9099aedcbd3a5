"""The subgroup table of a leaderboard: per entry, target and subgroup of patients (sex, age band, a column
the task names) the AUROC with its interval, read from the run folders' ``subgroups.parquet`` (written by
``ecglab.bench.engine.subgroup_results``); groups below the patient minimum are listed with the reason."""

from __future__ import annotations

import pandas as pd

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import SUBGROUP_COLUMNS


def subgroup_table(runs: dict[str, list[tuple[str, RunResult]]]) -> pd.DataFrame:
    """The subgroup rows of ``runs``: per task, the (entry name, run) pairs scored on it."""
    del runs  # stub: filled in by the subgroup work
    return pd.DataFrame(columns=SUBGROUP_COLUMNS)

"""The lead-ablation table of a leaderboard: the single-lead variants of a task side by side."""

from __future__ import annotations

import pandas as pd

from ecglab.leaderboards.tables import LEAD_COLUMNS
from ecglab.leaderboards.task_info import TaskInfo


def lead_table(targets: pd.DataFrame, infos: dict[str, TaskInfo]) -> pd.DataFrame:
    """Per base task, entry and target, the AUROC of each single-lead variant (being written)."""
    return pd.DataFrame(columns=LEAD_COLUMNS)

"""The external-validation table of a leaderboard: internal and external AUROC side by side."""

from __future__ import annotations

import pandas as pd

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import EXTERNAL_COLUMNS


def external_table(runs: dict[str, list[tuple[str, RunResult]]]) -> pd.DataFrame:
    """Per task, entry and target, internal and external test AUROC and the drop (being written)."""
    return pd.DataFrame(columns=EXTERNAL_COLUMNS)

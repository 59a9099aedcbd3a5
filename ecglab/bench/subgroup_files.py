"""The run folder's subgroup file, as ``ecglab.bench.engine.subgroup_results`` writes it and the leaderboard
reads it: its name and columns (a module without torch, for the leaderboard)."""

from __future__ import annotations

SUBGROUPS_FILE = "subgroups.parquet"
# per target x subgroup x group of the test anchors
SUBGROUP_FILE_COLUMNS = [
    "target",
    "subgroup",
    "group",
    "n",
    "n_pos",
    "n_patients",
    "n_pos_patients",
    "n_neg_patients",
    "auroc",
    "auroc_low",
    "auroc_high",
    "ci_method",
    "refused_reason",
]

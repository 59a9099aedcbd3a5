"""The leaderboard's tables: their columns, the ``Leaderboard`` record that holds them (floats as floats;
formatting happens only when rendering), and the typing of rows into a table.

``summary`` has one row per entry x task, ``targets`` one per entry x task x target, ``comparisons`` the
paired comparisons with the best entry (macro and per target), ``curves`` macro AUROC against window or
horizon, ``refused`` the runs left out with their reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ecglab.bench.subgroup_files import SUBGROUP_FILE_COLUMNS

ALPHA = 0.05
MACRO = "(macro)"
TIER_COLUMNS = ("n_auroc_ge_065", "n_auroc_055_065", "n_auroc_lt_055", "n_auroc_undefined")
TIER_KEYS = (">=0.65", "0.55-0.65", "<0.55", "undefined")

SUMMARY_COLUMNS = [
    "task",
    "task_version",
    "task_digest",
    "training_digest",
    "cohort_name",
    "cohort_hash",
    "source",
    "study",
    "published_task",
    "entry",
    "backbone",
    "backbone_kind",
    "preset",
    "label",
    "config_key",
    "rank",
    "n_targets",
    "n_targets_defined",
    "n_seeds",
    "seeds",
    "macro_auroc",
    "macro_auroc_low",
    "macro_auroc_high",
    "macro_ci_method",
    "macro_n_boot_used",
    "macro_ci_note",
    "macro_auroc_sd",
    "macro_auroc_min",
    "macro_auroc_max",
    *TIER_COLUMNS,
    "best_entry",
    "macro_diff_vs_best",
    "macro_diff_low",
    "macro_diff_high",
    "tied_with_best",
    "comparison_note",
    "n_ci_inverted",
    "task_kind",
    "axis",
    "minutes",
    "family",
    "bootstrap_file",
    "run_ids",
    "note",
]
TARGET_COLUMNS = [
    "task",
    "task_version",
    "cohort_hash",
    "source",
    "study",
    "published_task",
    "entry",
    "backbone",
    "preset",
    "label",
    "target",
    "lab",
    "direction",
    "n",
    "n_pos",
    "n_patients",
    "n_pos_patients",
    "n_seeds",
    "auroc",
    "auroc_low",
    "auroc_high",
    "ci_method",
    "n_boot_used",
    "ci_note",
    "clustered_low",
    "clustered_high",
    "clustered_method",
    "clustered_note",
    "auroc_sd",
    "auroc_min",
    "auroc_max",
    "delong_low",
    "delong_high",
    "delong_method",
    "auprc",
    "best_entry",
    "diff_vs_best",
    "diff_low",
    "diff_high",
    "diff_method",
    "tied_with_best",
    "paired_p",
    "paired_p_method",
    "delong_p",
    "ci_inverted",
    "issues",
]
COMPARISON_COLUMNS = [
    "task",
    "cohort_hash",
    "level",
    "target",
    "entry",
    "best_entry",
    "auroc",
    "best_auroc",
    "diff",
    "diff_low",
    "diff_high",
    "n_boot_used",
    "method",
    "tied_with_best",
    "clustered_se",
    "clustered_p",
    "clustered_low",
    "clustered_high",
    "clustered_method",
    "delong_diff",
    "delong_se",
    "delong_p",
    "delong_low",
    "delong_high",
    "delong_method",
    "note",
]
CURVE_COLUMNS = [
    "family",
    "axis",
    "minutes",
    "task",
    "cohort_hash",
    "entry",
    "macro_auroc",
    "macro_auroc_low",
    "macro_auroc_high",
    "n_seeds",
]
REFUSED_COLUMNS = ["origin", "run_id", "backbone", "task", "cohort_hash", "reason"]
# calibration of each entry's test probabilities per target (ecglab.leaderboards.calibration_tables)
CALIBRATION_COLUMNS = [
    "task",
    "entry",
    "target",
    "calibration",
    "n",
    "n_pos",
    "n_seeds",
    "brier",
    "ece",
    "ece_bins",
    "ece_binning",
    "note",
]
RELIABILITY_COLUMNS = [
    "task",
    "entry",
    "target",
    "calibration",
    "bin",
    "bin_low",
    "bin_high",
    "n",
    "n_seeds",
    "mean_score",
    "observed_rate",
]
# per-target AUROC within subgroups of patients (ecglab.leaderboards.subgroup_table)
SUBGROUP_COLUMNS = ["task", "entry", "seed", *SUBGROUP_FILE_COLUMNS]
# lab values as regression: per entry and target lab (ecglab.leaderboards.regression_table)
REGRESSION_COLUMNS = [
    "task",
    "entry",
    "target",
    "lab",
    "n",
    "n_patients",
    "objective",
    "n_seeds",
    "mae",
    "spearman",
    "unit",
    "transform",
    "auroc_task",
    "threshold_anyecg_lab",
    "auroc_anyecg_lab",
    "threshold_cardiolab",
    "auroc_cardiolab",
    "note",
]
# lead ablations: per base task, entry and target, the test AUROC fed each single lead
# (ecglab.leaderboards.lead_table); target "macro": the mean over n_targets targets every lead column keeps
LEAD_COLUMNS = [
    "base_task",
    "cohort_hash",
    "entry",
    "target",
    "lead",
    "task",
    "auroc",
    "auroc_low",
    "auroc_high",
    "n_seeds",
    "n_targets",
    "note",
]
# external validation: per entry and target, internal and external test AUROC and the drop between them
# (ecglab.leaderboards.external_table)
EXTERNAL_COLUMNS = [
    "task",
    "entry",
    "seed",
    "target",
    "external_cohort",
    "scope",
    "internal_auroc",
    "internal_low",
    "internal_high",
    "internal_n_patients",
    "external_auroc",
    "external_low",
    "external_high",
    "n_patients",
    "n_pos_patients",
    "drop",
    "drop_low",
    "drop_high",
    "threshold",
    "sensitivity",
    "specificity",
    "ci_method",
    "reason",
    "external_hash",
]
# the per-target statistics of a target row: the TARGET_COLUMNS from "n" to "auprc"
PER_TARGET_STATS = tuple(TARGET_COLUMNS[TARGET_COLUMNS.index("n") : TARGET_COLUMNS.index("auprc") + 1])
FLOAT_INT = (
    "n",
    "n_pos",
    "n_patients",
    "n_pos_patients",
    "n_seeds",
    "n_boot_used",
    "rank",
    "macro_n_boot_used",
    "n_ci_inverted",
)


@dataclass
class Leaderboard:
    """The tables of a leaderboard (floats as floats) and its notes."""

    title: str
    summary: pd.DataFrame
    targets: pd.DataFrame
    comparisons: pd.DataFrame
    curves: pd.DataFrame
    refused: pd.DataFrame
    notes: list[str]
    alpha: float = ALPHA
    calibration: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CALIBRATION_COLUMNS))
    reliability: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELIABILITY_COLUMNS))
    subgroups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SUBGROUP_COLUMNS))
    regression: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REGRESSION_COLUMNS))
    leads: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LEAD_COLUMNS))
    external: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXTERNAL_COLUMNS))

    def task_names(self) -> list[str]:
        return list(dict.fromkeys(self.summary["task"]))


def table_frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows as a table of ``columns`` in the leaderboard's dtypes: counts as Int64, ties as boolean, text
    as str."""
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in FLOAT_INT or column in TIER_COLUMNS:
            frame[column] = pd.to_numeric(frame[column]).astype("Float64").round().astype("Int64")
        elif column in ("tied_with_best", "ci_inverted"):
            frame[column] = frame[column].astype("boolean")
        elif column in ("seeds", "run_ids", "label", "note", "issues", "ci_note", "macro_ci_note"):
            frame[column] = frame[column].fillna("").astype(str)
        elif frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, str)).all():
            frame[column] = frame[column].astype(str)
    return frame

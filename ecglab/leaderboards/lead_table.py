"""The lead-ablation table of a leaderboard: the single-lead variants of a task side by side.

A lead-ablation task (:mod:`ecglab.tasks.lead_ablation`) is its base task fed one lead: the same anchors,
split and labels on a 12-lead store, so its per-target AUROCs sit beside those of the other leads, and beside
the base task's own input (e.g. ``12-lead``) where the base task was run for the entry on the same cohort.
Per (base task, cohort, entry) the table holds, for each lead, one row per target (the variant's AUROC with
its interval and seeds, as in the leaderboard's per-target table) and a ``macro`` row: the mean AUROC over
the targets with a defined AUROC in every lead column of that entry, and how many. The macro row carries no
interval (a mean of per-target intervals is not one); each task's own macro interval is in its summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.leaderboards.formatting import fmt_auroc, is_missing
from ecglab.leaderboards.tables import LEAD_COLUMNS, table_frame
from ecglab.leaderboards.task_info import TaskInfo
from ecglab.tasks.lead_ablation import ablation_of, leads_label

LEAD_MACRO = "macro"
BASE_SUFFIX = " (base)"  # a single-lead base task's column, beside the variant of the same lead


def lead_table(targets: pd.DataFrame, infos: dict[str, TaskInfo]) -> pd.DataFrame:
    """Per base task, cohort, entry and lead, the AUROC of each target of the single-lead variants and of
    the base task's own input, and the macro AUROC over the targets every lead column keeps."""
    own = targets[targets["source"] == "ecglab"] if not targets.empty else targets
    variants = {t: ablation_of(info.tags) for t, info in infos.items() if ablation_of(info.tags)}
    if own.empty or not variants:
        return _frame([])
    bases = {base for base, _ in variants.values()}
    rows: list[dict[str, Any]] = []
    for (task, cohort, entry), part in own.groupby(["task", "cohort_hash", "entry"], sort=False):
        if task in variants:
            base, lead = variants[task]
        elif task in bases:
            base, lead = task, _base_label(infos[task])
        else:
            continue
        for r in part.to_dict("records"):
            rows.append(
                dict(
                    base_task=base,
                    cohort_hash=cohort,
                    entry=entry,
                    target=r["target"],
                    lead=lead,
                    task=task,
                    auroc=r["auroc"],
                    auroc_low=r["auroc_low"],
                    auroc_high=r["auroc_high"],
                    n_seeds=r["n_seeds"],
                    n_targets=float("nan"),
                    note="",
                )
            )
    frame = pd.DataFrame(rows, columns=LEAD_COLUMNS)
    if frame.empty:
        return _frame([])
    paired = _with_variants(frame)
    frame = frame[[key in paired for key in zip(frame["base_task"], frame["cohort_hash"], strict=True)]]
    groups = frame.groupby(["base_task", "cohort_hash", "entry"], sort=False)
    return _frame([m for _, group in groups for m in _macros(group)] + frame.to_dict("records"))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows in the leaderboard's dtypes (target counts as Int64)."""
    table = table_frame(rows, LEAD_COLUMNS)
    table["n_targets"] = pd.to_numeric(table["n_targets"]).astype("Float64").round().astype("Int64")
    return table


def _base_label(info: TaskInfo) -> str:
    """The base task's lead column: its leads (``12-lead``), `` (base)`` after a single lead's name."""
    if not info.leads:
        return "base"
    label = leads_label(info.leads)
    return label + BASE_SUFFIX if len(info.leads) == 1 else label


def _with_variants(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """(base task, cohort) pairs with at least one variant row: a base task run alone, or on another
    cohort than its variants, has nothing to stand beside."""
    variant = frame[frame["task"] != frame["base_task"]]
    return set(zip(variant["base_task"], variant["cohort_hash"], strict=True))


def _macros(group: pd.DataFrame) -> list[dict[str, Any]]:
    """The macro rows of one (base task, cohort, entry): per lead, the mean AUROC over the targets with a
    defined AUROC in every lead column."""
    defined = group[group["auroc"].notna()]
    per_lead = defined.groupby("lead", sort=False)["target"].agg(set)
    common = set.intersection(*per_lead) if len(per_lead) else set()
    out = []
    for lead, part in group.groupby("lead", sort=False):
        kept = part[part["target"].isin(common) & part["auroc"].notna()]
        first = part.iloc[0]
        out.append(
            dict(
                base_task=first["base_task"],
                cohort_hash=first["cohort_hash"],
                entry=first["entry"],
                target=LEAD_MACRO,
                lead=lead,
                task=first["task"],
                auroc=float(kept["auroc"].mean()) if len(kept) else float("nan"),
                auroc_low=float("nan"),
                auroc_high=float("nan"),
                n_seeds=part["n_seeds"].min(),
                n_targets=len(kept),
                note=(
                    f"mean over the {len(common)} targets with a defined AUROC in all {len(per_lead)} lead "
                    "columns of this entry"
                ),
            )
        )
    return out


def lead_order(frame: pd.DataFrame) -> list[str]:
    """The lead columns of a lead table's rows: the single leads in the standard order, then the base
    tasks' own inputs."""
    rank = {lead: i for i, lead in enumerate(STANDARD_LEADS)}
    variant = frame["task"] != frame["base_task"]
    singles = sorted(set(frame.loc[variant, "lead"]), key=lambda lead: (rank.get(lead, len(rank)), lead))
    return singles + sorted(set(frame.loc[~variant, "lead"]) - set(singles))


@dataclass
class LeadGrid:
    """One base task (on one cohort) as a grid for rendering: lead columns, rows entry x target (the macro
    row of each entry first), each cell the lead table's row or None."""

    base_task: str
    cohort_hash: str
    leads: list[str]
    rows: list[tuple[str, str, dict[str, dict[str, Any] | None]]] = field(default_factory=list)


def lead_grids(leads: pd.DataFrame) -> list[LeadGrid]:
    """The lead table as one grid per base task and cohort, in the table's order."""
    grids = []
    for (base, cohort), part in leads.groupby(["base_task", "cohort_hash"], sort=False):
        grid = LeadGrid(str(base), str(cohort), lead_order(part))
        cells = {(r["entry"], r["target"], r["lead"]): r for r in part.to_dict("records")}
        for entry, rows in part.groupby("entry", sort=False):
            targets = [LEAD_MACRO] + [t for t in dict.fromkeys(rows["target"]) if t != LEAD_MACRO]
            for target in targets:
                grid.rows.append(
                    (str(entry), target, {lead: cells.get((entry, target, lead)) for lead in grid.leads})
                )
        grids.append(grid)
    return grids


LEAD_EXPLANATION = (
    "Each single-lead variant of a task has the base task's anchors, split and labels, so the leads compare "
    "paired; the base task's own input stands beside them where it was run. A cell is the test AUROC "
    "[CI] over the entry's seeds; macro: the mean AUROC over the targets with a defined AUROC in every "
    "lead column of the entry (how many after it); each task's own macro interval is in its summary."
)


def lead_cell(row: dict[str, Any] | None) -> str:
    """A cell of a lead grid: AUROC [CI] of a target, ``mean (n targets)`` of a macro row, empty where the
    entry has no such row."""
    if row is None:
        return ""
    if row["target"] == LEAD_MACRO:
        count = "" if is_missing(row["n_targets"]) else f" ({int(row['n_targets'])} targets)"
        return ("n/a" if is_missing(row["auroc"]) else f"{float(row['auroc']):.3f}") + count
    return fmt_auroc(row["auroc"], row["auroc_low"], row["auroc_high"])

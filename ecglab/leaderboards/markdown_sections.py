"""The Markdown leaderboard's parts beyond its summary and per-target tables, per task and briefly: the
interval methods in one line each, the comparison with the published rows over the targets both evaluate,
and (when their tables have rows) calibration, AUROC by subgroup and lab values as regression; and the
lead-ablation tables (a column per lead)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import binning, fmt_auroc, is_missing, split_rows, task_method_lines
from ecglab.leaderboards.lead_table import LEAD_EXPLANATION, lead_cell, lead_grids
from ecglab.leaderboards.tables import Leaderboard


def _md(text: Any) -> str:
    return "" if is_missing(text) else str(text).replace("|", "\\|").replace("\n", " ")


def _num(value: Any, digits: int = 3) -> str:
    return "" if is_missing(value) else f"{float(value):.{digits}f}"


def _int(value: Any) -> str:
    return "" if is_missing(value) else str(int(value))


def method_list(board: Leaderboard, task: str) -> list[str]:
    """The task's interval and test methods, one line each."""
    lines = task_method_lines(board, task)
    if not lines:
        return []
    return ["Intervals and tests:", ""] + [f"- **{label}**: {line}" for label, line in lines] + [""]


def common_lines(common: pd.DataFrame) -> list[str]:
    """Each backbone against each published row, over only the targets both evaluate (with how many)."""
    if common.empty:
        return []
    lines = [
        "Against the published rows, over the targets both evaluate (macro AUROC of each over those only):",
        "",
        "| Backbone | Published | Common targets | Backbone macro | Published macro | Difference |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in common.to_dict("records"):
        diff = "" if is_missing(r["diff"]) else f"{r['diff']:+.3f}"
        lines.append(
            f"| {_md(r['entry'])} | {_md(r['published_entry'])} | {_int(r['n_common'])} | "
            f"{_num(r['macro_entry'])} | {_num(r['macro_published'])} | {diff} |"
        )
    return [*lines, ""]


def task_extras(board: Leaderboard, task: str) -> list[str]:
    """Calibration, subgroup and regression tables of one task, those with rows."""
    lines: list[str] = []
    calibration, notes = split_rows(board.calibration, task, "note")
    if not calibration.empty:
        lines += [
            "Calibration (Brier score; ECE with its binning):",
            "",
            "| Target | Backbone | Calibration | Brier | ECE | Binning |",
            "|---|---|---|---:|---:|---|",
        ]
        for r in calibration.to_dict("records"):
            lines.append(
                f"| {_md(r['target'])} | {_md(r['entry'])} | {_md(r['calibration'])} | "
                f"{_num(r['brier'], 4)} | {_num(r['ece'], 4)} | {_md(binning(r))} |"
            )
        lines.append("")
    subgroups, more = split_rows(board.subgroups, task, "refused_reason")
    notes += more
    if not subgroups.empty:
        lines += [
            "AUROC by subgroup (a group below the patient minimum is refused, with the reason):",
            "",
            "| Target | Backbone | Subgroup | Group | Patients | AUROC [CI] |",
            "|---|---|---|---|---:|---|",
        ]
        for r in subgroups.to_dict("records"):
            reason = _md(r.get("refused_reason"))
            auroc = f"refused: {reason}" if reason else fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"])
            lines.append(
                f"| {_md(r['target'])} | {_md(r['entry'])} | {_md(r['subgroup'])} | {_md(r['group'])} | "
                f"{_int(r['n_patients'])} | {auroc} |"
            )
        lines.append("")
    regression, more = split_rows(board.regression, task, "note")
    notes += more
    if not regression.empty:
        lines += [
            "Lab values as regression (MAE in the lab's unit; Spearman's rank correlation; AUROC of the "
            "predicted values at the task's, AnyECG-Lab's and CardioLab's thresholds):",
            "",
            "| Target | Backbone | MAE | Unit | Spearman | AUROC (task) | AUROC (AnyECG-Lab) | "
            "AUROC (CardioLab) |",
            "|---|---|---:|---|---:|---:|---:|---:|",
        ]
        for r in regression.to_dict("records"):
            aurocs = " | ".join(_num(r.get(c)) for c in ("auroc_task", "auroc_anyecg_lab", "auroc_cardiolab"))
            lines.append(
                f"| {_md(r['target'])} | {_md(r['entry'])} | {_num(r['mae'])} | {_md(r.get('unit'))} | "
                f"{_num(r['spearman'])} | {aurocs} |"
            )
        lines.append("")
    if notes:
        lines += ["Not evaluated here:", ""] + [f"- {_md(n)}" for n in dict.fromkeys(notes)] + [""]
    return lines


def lead_lines(leads: pd.DataFrame) -> list[str]:
    """The lead-ablation tables (none without rows): per base task, a column per lead, rows backbone x
    target, each backbone's macro row first."""
    if leads.empty:
        return []
    lines = ["## Lead ablations", "", LEAD_EXPLANATION, ""]
    for grid in lead_grids(leads):
        lines += [
            f"{_md(grid.base_task)} (cohort `{grid.cohort_hash[:12]}`):",
            "",
            "| Backbone | Target | " + " | ".join(_md(lead) for lead in grid.leads) + " |",
            "|---|---|" + "---|" * len(grid.leads),
        ]
        for entry, target, cells in grid.rows:
            row = " | ".join(lead_cell(cells[lead]) for lead in grid.leads)
            lines.append(f"| {_md(entry)} | {_md(target)} | {row} |")
        lines.append("")
    return lines

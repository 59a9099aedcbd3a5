"""The leaderboard as Markdown: per task, the interval methods, the summary table, the comparison with the
published rows over common targets, a per-target table and (when they have rows) calibration, subgroups
and regression, briefly; then the lead ablations, the window and horizon curves and the notes. AUROCs read
"0.812 [0.801-0.823]"."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecglab.leaderboards.external_sections import external_markdown
from ecglab.leaderboards.formatting import fmt_auroc, method_label, shown_targets
from ecglab.leaderboards.markdown_sections import common_lines, lead_lines, method_list, task_extras
from ecglab.leaderboards.published_rows import common_target_macros
from ecglab.leaderboards.tables import Leaderboard


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _count(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))


def _tie_text(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return "yes" if bool(value) else "no"


def render_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: per task, the summary table and a per-target table, then the curves and
    notes. AUROCs read "0.812 [0.801-0.823]" (95% intervals unless alpha says otherwise)."""
    level = round(100 * (1 - board.alpha))
    lines = [
        f"# {board.title}",
        "",
        f"Built from result files by ecglab. AUROC with {level}% confidence interval: `0.812 [0.801-0.823]`. "
        "Rows are comparable only within a task with one task version and cohort hash. Rows marked "
        "*published* are the reference studies' numbers as published, not re-run by ecglab (other cohort "
        "and code). Tiers follow AnyECG-Lab: AUROC >= 0.65, 0.55-0.65, < 0.55.",
        "",
    ]
    summary, targets = board.summary, board.targets
    for task in board.task_names():
        rows = summary[summary["task"] == task]
        own = rows[rows["source"] == "ecglab"]
        lines.append(f"## {_md(task)}")
        lines.append("")
        if not own.empty:
            first = own.iloc[0]
            lines.append(
                f"Task version {first['task_version']}, cohort {_md(first['cohort_name'])} "
                f"(`{first['cohort_hash'][:12]}`)."
            )
            lines.append("")
        lines += method_list(board, task)
        lines.append(
            "| Rank | Backbone | Source | Macro AUROC | Seed SD | Seeds | Targets | >= 0.65 | 0.55-0.65 | "
            "< 0.55 | Tied with best |"
        )
        lines.append("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|")
        for r in rows.to_dict("records"):
            published = r["source"] == "published"
            macro = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
            if published:
                macro = "n/a (subset)" if pd.isna(r["macro_auroc"]) else "see common targets"
            sd = "" if pd.isna(r["macro_auroc_sd"]) else f"{r['macro_auroc_sd']:.3f}"
            lines.append(
                f"| {_count(r['rank'])} | {_md(r['entry'])} | {'*published*' if published else 'ecglab'} | "
                f"{macro} | {sd} | {_count(r['n_seeds'])} | {_count(r['n_targets'])} | "
                f"{_count(r['n_auroc_ge_065'])} | {_count(r['n_auroc_055_065'])} | "
                f"{_count(r['n_auroc_lt_055'])} | {_tie_text(r['tied_with_best'])} |"
            )
        lines.append("")
        for r in rows[rows["source"] == "published"].to_dict("records"):
            macro = (
                f"macro AUROC over all its {_count(r['n_targets'])} published targets {r['macro_auroc']:.3f} "
                "(compared with a backbone only over common targets, below)"
                if not pd.isna(r["macro_auroc"])
                else f"macro AUROC: {_md(r['macro_ci_note'])}"
            )
            lines.append(f"*{_md(r['entry'])}*: {_md(r['note'])}; {macro}.")
            lines.append("")
        trows = targets[targets["task"] == task]
        lines += common_lines(common_target_macros(trows))
        lines += _markdown_targets(trows)
        lines += task_extras(board, task)
        lines += external_markdown(board, task)
    lines += lead_lines(board.leads)
    if not board.curves.empty:
        lines += _markdown_curves(board.curves)
    if board.notes:
        lines += ["## Notes", ""] + [f"- {_md(n)}" for n in board.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_targets(rows: pd.DataFrame) -> list[str]:
    if rows.empty:
        return []
    entries = list(dict.fromkeys(rows["entry"]))
    targets, left_out = shown_targets(rows)
    cells = {(r["target"], r["entry"]): r for r in rows.to_dict("records")}
    omitted = (
        f" {left_out} published targets that no run here evaluates are in targets.csv." if left_out else ""
    )
    methods = ", ".join(dict.fromkeys(method_label(m) for m in rows["ci_method"] if method_label(m)))
    lines = [
        f"Per target (AUROC [CI], intervals: {methods or 'none'}; clustered intervals by patient in "
        "targets.csv and on the HTML page; * tied with the target's best; ! published interval inverted, "
        f"kept as published).{omitted}",
        "",
        "| Target | " + " | ".join(_md(e) for e in entries) + " |",
        "|---|" + "---|" * len(entries),
    ]
    for target in targets:
        parts = []
        for entry in entries:
            r = cells.get((target, entry))
            if r is None:
                parts.append("")
                continue
            text = fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"])
            if r["source"] == "ecglab" and not pd.isna(r["tied_with_best"]) and bool(r["tied_with_best"]):
                text += " *"
            if not pd.isna(r["ci_inverted"]) and bool(r["ci_inverted"]):
                text += " !"
            parts.append(text)
        lines.append(f"| {_md(target)} | " + " | ".join(parts) + " |")
    lines.append("")
    return lines


def _markdown_curves(curves: pd.DataFrame) -> list[str]:
    lines = ["## Macro AUROC by window and horizon", ""]
    for (family, axis), rows in curves.groupby(["family", "axis"], sort=False):
        minutes = sorted(rows["minutes"].unique())
        lines.append(f"{_md(family)} (by {axis}, minutes):")
        lines.append("")
        lines.append("| Backbone | " + " | ".join(f"{m:g} min" for m in minutes) + " |")
        lines.append("|---|" + "---|" * len(minutes))
        for entry, part in rows.groupby("entry", sort=False):
            by_minute = {m: r for m, r in zip(part["minutes"], part.to_dict("records"), strict=True)}
            cells = [
                fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"]) if r else ""
                for r in (by_minute.get(m) for m in minutes)
            ]
            lines.append(f"| {_md(entry)} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines

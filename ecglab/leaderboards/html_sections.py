"""The evaluation sections of a task on the leaderboard's HTML page beyond AUROC, each shown only when its
table has rows for the task: calibration (Brier score, expected calibration error with its binning) with
reliability diagrams (:mod:`ecglab.leaderboards.html_reliability`), AUROC within subgroups of patients (a
refused group with its reason), and lab values as regression (MAE, Spearman, and the AUROC of the same
predictions at each threshold). A row without a target is a run's stated reason for having none (an older
run folder, a submission): listed as a note under the heading, not as a table row. Columns a table does
not carry, or leaves empty in every row, are left out, never invented. And the page's lead-ablation section:
per base task, a table whose columns are the leads, rows backbone x target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import binning, escape, fmt_auroc, is_missing, slug, split_rows
from ecglab.leaderboards.html_svg import Figure, figure_html
from ecglab.leaderboards.html_tables import method_td, note_td, table, td
from ecglab.leaderboards.lead_table import LEAD_EXPLANATION, lead_cell, lead_grids

# a column of a section table: header, sort type, the frame's column, how its cell renders, and whether
# it is shown even when empty in every row
Column = tuple[str, str, str, Callable[[dict[str, Any]], str], bool]


def _text(column: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: td("" if is_missing(r.get(column)) else r[column])


def _name(column: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: td(r[column], cls="name")


def _note(column: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: note_td("" if is_missing(r.get(column)) else r[column])


def _count(column: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: td("" if is_missing(r.get(column)) else str(int(r[column])), r.get(column), num=True)


def _float(column: str, digits: int = 3) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        value = r.get(column)
        return td("" if is_missing(value) else f"{float(value):.{digits}f}", value, num=True)

    return cell


def _method(column: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: method_td(r.get(column))


def _filled(values: pd.Series) -> bool:
    """Whether some row holds a value (an empty text is none)."""
    return any(not is_missing(v) and str(v) != "" for v in values)


def section_table(table_id: str, rows: pd.DataFrame, columns: list[Column], refused: str = "") -> str:
    """The rows as a sortable table of the ``columns`` the frame carries (an optional one only where some
    row holds a value); a row with a value in ``refused`` gets the class ``refused``."""
    shown = [c for c in columns if c[2] in rows.columns and (c[4] or _filled(rows[c[2]]))]
    body = []
    for r in rows.to_dict("records"):
        cls = "refused" if refused and not is_missing(r.get(refused)) and str(r[refused]) else "own"
        body.append((cls, [render(r) for _, _, _, render, _ in shown]))
    return table(table_id, [(header, kind) for header, kind, _, _, _ in shown], body)


CALIBRATION: list[Column] = [
    ("Target", "text", "target", _text("target"), True),
    ("Backbone", "text", "entry", _name("entry"), True),
    ("Calibration", "text", "calibration", _text("calibration"), True),
    ("n", "num", "n", _count("n"), True),
    ("Positives", "num", "n_pos", _count("n_pos"), True),
    ("Seeds", "num", "n_seeds", _count("n_seeds"), False),
    ("Brier", "num", "brier", _float("brier", 4), True),
    ("ECE", "num", "ece", _float("ece", 4), True),
    ("ECE binning", "text", "ece_binning", lambda r: td(binning(r)), True),
    ("Note", "text", "note", _note("note"), False),
]


def _subgroup_auroc(r: dict[str, Any]) -> str:
    if not is_missing(r.get("refused_reason")) and str(r["refused_reason"]):
        return td("refused", num=True)
    return td(fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"]), r["auroc"], num=True)


SUBGROUPS: list[Column] = [
    ("Target", "text", "target", _text("target"), True),
    ("Backbone", "text", "entry", _name("entry"), True),
    ("Seed", "num", "seed", _count("seed"), False),
    ("Subgroup", "text", "subgroup", _text("subgroup"), True),
    ("Group", "text", "group", _text("group"), True),
    ("n", "num", "n", _count("n"), True),
    ("Positives", "num", "n_pos", _count("n_pos"), True),
    ("Patients", "num", "n_patients", _count("n_patients"), True),
    ("Positive patients", "num", "n_pos_patients", _count("n_pos_patients"), True),
    ("Negative patients", "num", "n_neg_patients", _count("n_neg_patients"), False),
    ("AUROC [CI]", "num", "auroc", _subgroup_auroc, True),
    ("CI method", "text", "ci_method", _method("ci_method"), True),
    ("Refused (reason)", "text", "refused_reason", _note("refused_reason"), True),
]

REGRESSION: list[Column] = [
    ("Target", "text", "target", _text("target"), True),
    ("Backbone", "text", "entry", _name("entry"), True),
    ("Lab", "text", "lab", _text("lab"), True),
    ("Objective", "text", "objective", _text("objective"), False),
    ("n", "num", "n", _count("n"), True),
    ("Patients", "num", "n_patients", _count("n_patients"), True),
    ("Seeds", "num", "n_seeds", _count("n_seeds"), False),
    ("MAE", "num", "mae", _float("mae"), True),
    ("Unit", "text", "unit", _text("unit"), False),
    ("Spearman", "num", "spearman", _float("spearman"), True),
    ("Transform", "text", "transform", _text("transform"), False),
    ("AUROC (task threshold)", "num", "auroc_task", _float("auroc_task"), False),
    ("AnyECG-Lab threshold", "num", "threshold_anyecg_lab", _float("threshold_anyecg_lab", 4), False),
    ("AUROC (AnyECG-Lab)", "num", "auroc_anyecg_lab", _float("auroc_anyecg_lab"), False),
    ("CardioLab threshold", "num", "threshold_cardiolab", _float("threshold_cardiolab", 4), False),
    ("AUROC (CardioLab)", "num", "auroc_cardiolab", _float("auroc_cardiolab"), False),
    ("Note", "text", "note", _note("note"), False),
]


def calibration_table(task: str, rows: pd.DataFrame) -> str:
    """Brier score and ECE (with its binning) per target, entry and calibration."""
    return section_table(f"calibration-{slug(task)}", rows, CALIBRATION)


def subgroup_table(task: str, rows: pd.DataFrame) -> str:
    """AUROC with its interval within each subgroup; a refused group shows the reason instead."""
    return section_table(f"subgroups-{slug(task)}", rows, SUBGROUPS, refused="refused_reason")


def regression_table(task: str, rows: pd.DataFrame) -> str:
    """Lab values as regression: MAE, Spearman and the AUROC at each threshold per lab."""
    return section_table(f"regression-{slug(task)}", rows, REGRESSION)


SECTIONS = (
    (
        "calibration",
        "Calibration",
        "note",
        calibration_table,
        "Brier score and expected calibration error (ECE: the mean over bins of |observed rate - mean "
        "score|, weighted by the bin's share of anchors; binning as stated) of the test probabilities, per "
        "calibration (none, or fitted on the validation split only).",
    ),
    (
        "subgroups",
        "AUROC by subgroup",
        "refused_reason",
        subgroup_table,
        "AUROC with its interval within each group of patients; a group below the patient minimum is "
        "refused with the reason, not scored.",
    ),
    (
        "regression",
        "Lab values as regression",
        "note",
        regression_table,
        "Trained on the lab values: mean absolute error in the lab's unit, Spearman's rank correlation "
        "between predicted and measured values, and the AUROC of the same predictions at each threshold.",
    ),
)


def task_sections(
    board: Any, task: str, targets: list[str], colours: dict[str, str], figures: dict[str, Figure]
) -> list[str]:
    """The calibration, subgroup and regression sections of one task (those with rows or stated reasons),
    as HTML parts; the reliability diagrams after the calibration table."""
    parts = []
    for kind, heading, reason, render, explanation in SECTIONS:
        rows, notes = split_rows(getattr(board, kind), task, reason)
        if rows.empty and not notes:
            continue
        parts.append(f"<h3>{heading}</h3>")
        if not rows.empty:
            parts.append(f'<p class="note">{escape(explanation)}</p>')
            parts.append(render(task, rows))
        if notes:
            items = "".join(f"<li>{escape(n)}</li>" for n in notes)
            parts.append(f'<ul class="note">{items}</ul>')
        if kind == "calibration" and "reliability" in figures:
            parts.append("<h3>Reliability diagrams</h3>")
            parts.append(figure_html(figures["reliability"]))
    return parts


def lead_section(leads: pd.DataFrame) -> list[str]:
    """The lead-ablation section (nothing without rows): per base task and cohort, a sortable table whose
    columns are the leads, rows backbone x target (each backbone's macro row first)."""
    if leads.empty:
        return []
    parts = ['<section id="leads"><h2>Lead ablations</h2>', f'<p class="note">{escape(LEAD_EXPLANATION)}</p>']
    for grid in lead_grids(leads):
        cohort = escape(grid.cohort_hash[:12])
        parts.append(f"<h3>{escape(grid.base_task)} (cohort <code>{cohort}</code>)</h3>")
        headers = [("Backbone", "text"), ("Target", "text"), *((lead, "num") for lead in grid.leads)]
        body = []
        for entry, target, cells in grid.rows:
            values = [td(lead_cell(c), None if c is None else c["auroc"], num=True) for c in cells.values()]
            body.append(("own", [td(entry, cls="name"), td(target), *values]))
        parts.append(table(f"leads-{slug(grid.base_task)}-{slug(grid.cohort_hash[:12])}", headers, body))
    parts.append("</section>")
    return parts

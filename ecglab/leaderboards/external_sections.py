"""The external-validation section of a task on the leaderboard's page and in its Markdown: per external
cohort, backbone and target, the internal AUROC beside the external one, each with its clustered interval
by patient, and the drop (internal - external) with its interval; each backbone's macro row first. Shown
only when the task has external rows (:mod:`ecglab.leaderboards.external_table`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import escape, fmt_auroc, is_missing, slug
from ecglab.leaderboards.html_tables import note_td, table, td

EXPLANATION = (
    "Trained and validated on the task's cohort, tested on another cohort store: the internal AUROC is the "
    "run's own test split, the external one the other cohort's test patients, each with the clustered "
    "interval by patient (Obuchowski 1997). Drop = internal - external; the two test sets are independent, "
    "so its interval adds their variances. Thresholds are the training side's; a target the other cohort "
    "cannot label is listed with the reason. Macro rows: the mean over the targets both sides score, "
    "without an interval."
)
HEADERS = [
    ("Backbone", "text"),
    ("Seed", "num"),
    ("Target", "text"),
    ("Internal AUROC [CI]", "num"),
    ("External AUROC [CI]", "num"),
    ("Drop [CI]", "num"),
    ("Patients (external)", "num"),
    ("Sensitivity", "num"),
    ("Specificity", "num"),
    ("Note", "text"),
]


def fmt_drop(value: Any, low: Any = None, high: Any = None) -> str:
    """ "+0.052 [-0.010, +0.114]"; the interval left out when missing; "n/a" when undefined."""
    if is_missing(value):
        return "n/a"
    text = f"{float(value):+.3f}"
    if not is_missing(low) and not is_missing(high):
        text += f" [{float(low):+.3f}, {float(high):+.3f}]"
    return text


def _number(value: Any) -> str:
    return "" if is_missing(value) else f"{float(value):.3f}"


def external_groups(board: Any, task: str) -> list[tuple[str, pd.DataFrame]]:
    """The task's external rows per external cohort and scope ("NAME (scope)"), macro rows first."""
    rows = board.external
    if rows.empty:
        return []
    rows = rows[rows["task"] == task]
    groups = []
    for (cohort, scope), part in rows.groupby(["external_cohort", "scope"], sort=False):
        ordered = part.assign(_macro=part["target"] != "macro").sort_values(["entry", "seed", "_macro"])
        groups.append((f"{cohort} ({scope})", ordered.drop(columns="_macro")))
    return groups


def cells(r: dict[str, Any]) -> list[str]:
    """One row's texts: backbone, seed, target, internal, external, drop, patients, sensitivity,
    specificity, note."""
    return [
        str(r["entry"]),
        "" if is_missing(r.get("seed")) else str(int(r["seed"])),
        str(r["target"]),
        fmt_auroc(r["internal_auroc"], r.get("internal_low"), r.get("internal_high")),
        fmt_auroc(r["external_auroc"], r.get("external_low"), r.get("external_high")),
        fmt_drop(r["drop"], r.get("drop_low"), r.get("drop_high")),
        "" if is_missing(r.get("n_patients")) else str(int(r["n_patients"])),
        _number(r.get("sensitivity")),
        _number(r.get("specificity")),
        "" if is_missing(r.get("reason")) else str(r["reason"]),
    ]


def external_html(board: Any, task: str) -> list[str]:
    """The section's HTML parts (none without external rows)."""
    groups = external_groups(board, task)
    if not groups:
        return []
    parts = ["<h3>External validation</h3>", f'<p class="note">{escape(EXPLANATION)}</p>']
    for label, rows in groups:
        parts.append(f"<h4>On {escape(label)}</h4>")
        body = []
        for r in rows.to_dict("records"):
            texts = cells(r)
            sort_values = [None, r.get("seed"), None, r["internal_auroc"], r["external_auroc"], r["drop"]]
            sort_values += [r.get("n_patients"), r.get("sensitivity"), r.get("specificity")]
            rendered = [td(texts[0], cls="name"), td(texts[1], r.get("seed"), num=True), td(texts[2])]
            rendered += [td(t, v, num=True) for t, v in zip(texts[3:9], sort_values[3:9], strict=True)]
            rendered.append(note_td(texts[9]))
            body.append(("own" if r["target"] != "macro" else "macro", rendered))
        parts.append(table(f"external-{slug(task)}-{slug(label)}", HEADERS, body))
    return parts


def external_markdown(board: Any, task: str) -> list[str]:
    """The section's Markdown lines (none without external rows)."""
    groups = external_groups(board, task)
    if not groups:
        return []
    lines = ["External validation (" + EXPLANATION[0].lower() + EXPLANATION[1:] + "):", ""]
    for label, rows in groups:
        lines += [
            f"On {label}:",
            "",
            "| " + " | ".join(header for header, _ in HEADERS) + " |",
            "|---|---:|---|---|---|---|---:|---:|---:|---|",
        ]
        for r in rows.to_dict("records"):
            texts = [t.replace("|", "\\|") for t in cells(r)]
            lines.append("| " + " | ".join(texts) + " |")
        lines.append("")
    return lines

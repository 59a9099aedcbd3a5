"""How the leaderboard's values read on its pages, shared by the Markdown and HTML renderers: AUROC with its
interval ("0.812 [0.801-0.823]"), missing values, HTML escaping and element ids, and which targets of a task
are shown."""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd


def fmt_auroc(value: Any, low: Any = None, high: Any = None) -> str:
    """ "0.812 [0.801-0.823]"; the interval is left out when missing; "n/a" for an undefined AUROC. An
    interval is shown as given, even inverted (published values are never swapped)."""
    if value is None or pd.isna(value):
        return "n/a"
    text = f"{float(value):.3f}"
    if low is not None and high is not None and not pd.isna(low) and not pd.isna(high):
        text += f" [{float(low):.3f}-{float(high):.3f}]"
    return text


def is_missing(value: Any) -> bool:
    """None, NaN or NA (a string is never missing)."""
    return value is None or (not isinstance(value, str) and pd.isna(value))


def escape(value: Any) -> str:
    """Text for HTML, quotes escaped."""
    return html.escape(str(value), quote=True)


def slug(text: str) -> str:
    """An HTML id made of ``text``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def shown_targets(rows: pd.DataFrame) -> tuple[list[str], int]:
    """Targets to draw for one task's target rows: those the project's runs evaluate, best first (all
    targets, by published AUROC, when there are only published rows); and how many published-only targets
    are left out."""
    own = rows[rows["source"] == "ecglab"]
    ranked = own if not own.empty else rows
    order = ranked.groupby("target", sort=False)["auroc"].max().sort_values(ascending=False).index
    targets = list(dict.fromkeys([*order, *ranked["target"]]))
    return targets, int(rows["target"].nunique() - len(targets))


# one line per interval method, matched on the method's recorded name (first match wins)
METHOD_LINES = (
    (
        ("clustered", "obuchowski"),
        "clustered DeLong",
        "Obuchowski (1997): DeLong's structural components summed within each patient, so a patient's "
        "many anchors count as one cluster, not as independent rows; it equals DeLong when each patient "
        "has one anchor.",
    ),
    (
        ("bootstrap",),
        "bootstrap by patient",
        "percentile bootstrap that resamples patients with all their anchors; the stored resamples are "
        "shared by every run of a task, so differences between backbones are paired.",
    ),
    (
        ("delong",),
        "DeLong",
        "DeLong (1988), which assumes independent rows: used only where each patient has one anchor.",
    ),
    (("published",), "as published", "the study's own interval as printed; not re-run by ecglab."),
    (("best",), "best entry", "the best entry compared with itself: difference 0 by definition."),
)


def method_label(method: Any) -> str:
    """A short name for an interval or test method as recorded ("" when none)."""
    if is_missing(method) or not str(method).strip():
        return ""
    text = str(method).lower()
    for keys, label, _ in METHOD_LINES:
        if any(k in text for k in keys):
            return label
    return str(method)


def method_lines(methods: Any) -> list[tuple[str, str]]:
    """(short name, one-line explanation) of each distinct method among ``methods``, in the order of
    METHOD_LINES; a method not known here is listed as recorded."""
    labels = {method_label(m) for m in methods} - {"", "best entry"}
    known = [(label, line) for _, label, line in METHOD_LINES if label in labels]
    known_labels = {label for label, _ in known}
    return known + [(label, "as recorded in the result files") for label in sorted(labels - known_labels)]


# the method columns of each table, by table (those a table carries are listed on the page)
METHOD_COLUMNS = {
    "summary": ("macro_ci_method",),
    "targets": ("ci_method", "clustered_method", "delong_method", "diff_method", "paired_p_method"),
    "comparisons": ("method", "clustered_method", "delong_method"),
    "subgroups": ("ci_method",),
}


def task_method_lines(board: Any, task: str) -> list[tuple[str, str]]:
    """(short name, one-line explanation) of each interval or test method in a task's rows of the
    board's tables (``board``: a Leaderboard)."""
    methods: list[Any] = []
    for kind, columns in METHOD_COLUMNS.items():
        frame = getattr(board, kind)
        if frame.empty or "task" not in frame.columns:
            continue
        part = frame[frame["task"] == task]
        for column in columns:
            if column in part.columns:
                methods += list(pd.unique(part[column].dropna()))
    return method_lines(methods)


def binning(r: dict[str, Any]) -> str:
    """How the ECE was binned ("equal-width, 10 bins"), from ``ece_binning`` and ``ece_bins``."""
    text = "" if is_missing(r.get("ece_binning")) else str(r["ece_binning"])
    bins = r.get("ece_bins")
    if not is_missing(bins) and str(int(bins)) not in text:
        text = f"{text}, {int(bins)} bins" if text else f"{int(bins)} bins"
    return text


def split_rows(frame: pd.DataFrame, task: str, reason: str) -> tuple[pd.DataFrame, list[str]]:
    """A task's rows of a section table: those with a target, and the stated reasons of the others
    ("entry: reason", each once)."""
    if frame.empty or "task" not in frame.columns:
        return frame.iloc[0:0], []
    rows = frame[frame["task"] == task]
    if "target" not in rows.columns:
        return rows, []
    no_target = rows["target"].isna() | (rows["target"].astype(str) == "")
    notes = []
    for r in rows[no_target].to_dict("records"):
        text = r.get(reason) if reason in r else None
        if not is_missing(text) and str(text):
            notes.append(f"{r.get('entry', '')}: {text}")
    return rows[~no_target], list(dict.fromkeys(notes))

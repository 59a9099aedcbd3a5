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

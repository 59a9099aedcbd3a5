"""The tables of the leaderboard's HTML page: sortable (each cell carries its value in ``data-v``), one of
the backbones of a task, one per target, and the refused runs. Published rows carry the class
``published``, an inverted published interval ``inverted``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import escape, fmt_auroc, is_missing, slug


def _num(value: Any, digits: int = 3) -> str:
    return "" if is_missing(value) else f"{float(value):.{digits}f}"


def _int(value: Any) -> str:
    return "" if is_missing(value) else str(int(value))


def _data_v(value: Any) -> str:
    return "" if is_missing(value) else repr(float(value))


def _tie(value: Any) -> str:
    return "" if is_missing(value) else ("yes" if bool(value) else "no")


# ------------------------------------------------------------------------------------------------ tables
def _table(table_id: str, headers: list[tuple[str, str]], rows: list[tuple[str, list[str]]]) -> str:
    """headers: (label, type "num"|"text"); rows: (tr class, rendered td cells)."""
    head = "".join(
        f'<th data-type="{t}" tabindex="0" scope="col">{escape(label)}</th>' for label, t in headers
    )
    body = "".join(f'<tr class="{cls}">{"".join(cells)}</tr>' for cls, cells in rows)
    return (
        f'<div class="scroll"><table class="sortable" id="{escape(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _td(text: Any, value: Any = None, num: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in (cls, "num" if num else "") if c)
    attr = f' class="{classes}"' if classes else ""
    data = "" if value is None else f' data-v="{escape(_data_v(value))}"'
    return f"<td{attr}{data}>{escape(text)}</td>"


def summary_table(task: str, rows: pd.DataFrame) -> str:
    headers = [
        ("Rank", "num"),
        ("Backbone", "text"),
        ("Source", "text"),
        ("Macro AUROC [CI]", "num"),
        ("Seed SD", "num"),
        ("Seeds", "num"),
        ("Targets", "num"),
        (">= 0.65", "num"),
        ("0.55-0.65", "num"),
        ("< 0.55", "num"),
        ("Tied with best", "text"),
        ("Diff vs best [CI]", "num"),
        ("Note", "text"),
    ]
    body = []
    for _, r in rows.iterrows():
        published = r["source"] == "published"
        macro = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
        note = r["macro_ci_note"] if not published else f"{r['note']}; {r['macro_ci_note']}"
        if published and not is_missing(r["n_ci_inverted"]) and int(r["n_ci_inverted"]):
            note += f"; {int(r['n_ci_inverted'])} published interval(s) with low > high, kept as published"
        diff = "" if is_missing(r["macro_diff_vs_best"]) else f"{r['macro_diff_vs_best']:+.3f}"
        if diff and not is_missing(r["macro_diff_low"]):
            diff += f" [{r['macro_diff_low']:+.3f}, {r['macro_diff_high']:+.3f}]"
        source = "published, not re-run" if published else "ecglab"
        body.append(
            (
                "published" if published else "own",
                [
                    _td(_int(r["rank"]), r["rank"], num=True),
                    _td(r["entry"]),
                    _td(source),
                    _td(macro, r["macro_auroc"], num=True),
                    _td(_num(r["macro_auroc_sd"]), r["macro_auroc_sd"], num=True),
                    _td(_int(r["n_seeds"]), r["n_seeds"], num=True),
                    _td(_int(r["n_targets"]), r["n_targets"], num=True),
                    _td(_int(r["n_auroc_ge_065"]), r["n_auroc_ge_065"], num=True),
                    _td(_int(r["n_auroc_055_065"]), r["n_auroc_055_065"], num=True),
                    _td(_int(r["n_auroc_lt_055"]), r["n_auroc_lt_055"], num=True),
                    _td(_tie(r["tied_with_best"])),
                    _td(diff, r["macro_diff_vs_best"], num=True),
                    _td(note.strip("; ")),
                ],
            )
        )
    return _table(f"summary-{slug(task)}", headers, body)


def targets_table(task: str, rows: pd.DataFrame) -> str:
    headers = [
        ("Target", "text"),
        ("Backbone", "text"),
        ("Source", "text"),
        ("AUROC [CI]", "num"),
        ("n", "num"),
        ("Positives", "num"),
        ("Seeds", "num"),
        ("Seed SD", "num"),
        ("Diff vs target best [CI]", "num"),
        ("Tied with best", "text"),
        ("DeLong p", "num"),
        ("Note", "text"),
    ]
    body = []
    for _, r in rows.iterrows():
        published = r["source"] == "published"
        inverted = not is_missing(r["ci_inverted"]) and bool(r["ci_inverted"])
        auroc = fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"])
        diff = "" if is_missing(r["diff_vs_best"]) else f"{r['diff_vs_best']:+.3f}"
        if diff and not is_missing(r["diff_low"]):
            diff += f" [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]"
        note = r["issues"] if published else r["ci_note"]
        if inverted:
            note = f"inverted interval (low > high), kept as published: {note}"
        classes = ("published" if published else "own") + (" inverted" if inverted else "")
        body.append(
            (
                classes,
                [
                    _td(r["target"]),
                    _td(r["entry"]),
                    _td("published, not re-run" if published else "ecglab"),
                    _td(auroc, r["auroc"], num=True, cls="warn" if inverted else ""),
                    _td(_int(r["n"]), r["n"], num=True),
                    _td(_int(r["n_pos"]), r["n_pos"], num=True),
                    _td(_int(r["n_seeds"]), r["n_seeds"], num=True),
                    _td(_num(r["auroc_sd"]), r["auroc_sd"], num=True),
                    _td(diff, r["diff_vs_best"], num=True),
                    _td(_tie(r["tied_with_best"])),
                    _td(_num(r["delong_p"], 4), r["delong_p"], num=True),
                    _td(note),
                ],
            )
        )
    return _table(f"targets-{slug(task)}", headers, body)


def refused_table(refused: pd.DataFrame) -> str:
    headers = [("Run", "text"), ("Backbone", "text"), ("Task", "text"), ("Reason", "text")]
    body = [
        ("refused", [_td(r["origin"]), _td(r["backbone"]), _td(r["task"]), _td(r["reason"])])
        for _, r in refused.iterrows()
    ]
    return _table("refused", headers, body)

"""The tables of the leaderboard's HTML page: sortable (each cell carries its value in ``data-v``), one of
the backbones of a task, one per target, and the refused runs. Published rows carry the class
``published``, an inverted published interval ``inverted``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import escape, fmt_auroc, is_missing, method_label, slug


def _num(value: Any, digits: int = 3) -> str:
    return "" if is_missing(value) else f"{float(value):.{digits}f}"


def _int(value: Any) -> str:
    return "" if is_missing(value) else str(int(value))


def _data_v(value: Any) -> str:
    return "" if is_missing(value) else repr(float(value))


def _tie(value: Any) -> str:
    return "" if is_missing(value) else ("yes" if bool(value) else "no")


# ------------------------------------------------------------------------------------------------ tables
TALL_ROWS = 40  # a table with more rows scrolls inside a box of about 30 rows, its header fixed on top
SELECTED_NOTE = "the published table holds only its best targets (AUROC lower bound above 0.70)"


def table(table_id: str, headers: list[tuple[str, str]], rows: list[tuple[str, list[str]]]) -> str:
    """A sortable table in its own scroll box (wide tables scroll sideways inside it, never the page).
    headers: (label, type "num"|"text"); rows: (tr class, rendered td cells)."""
    head = "".join(
        f'<th data-type="{t}" tabindex="0" scope="col">{escape(label)}</th>' for label, t in headers
    )
    body = "".join(f'<tr class="{cls}">{"".join(cells)}</tr>' for cls, cells in rows)
    tall = " tall" if len(rows) > TALL_ROWS else ""
    return (
        f'<div class="scroll{tall}"><table class="sortable" id="{escape(table_id)}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def td(text: Any, value: Any = None, num: bool = False, cls: str = "", tip: str = "") -> str:
    """A cell: its text, its sort value in ``data-v`` and classes (``num`` right-aligned, ``wrap`` for
    long text that wraps)."""
    classes = " ".join(c for c in (cls, "num" if num else "") if c)
    attr = f' class="{classes}"' if classes else ""
    data = "" if value is None else f' data-v="{escape(_data_v(value))}"'
    title = f' title="{escape(tip)}"' if tip else ""
    return f"<td{attr}{data}{title}>{escape(text)}</td>"


def note_td(text: Any) -> str:
    """A note cell: wraps instead of widening its table."""
    return td(text, cls="wrap")


def method_td(method: Any) -> str:
    """The short name of an interval method, the method as recorded in its tooltip."""
    recorded = "" if is_missing(method) else str(method)
    return td(method_label(recorded), tip=recorded)


def _seeds(n: Any, sd: Any) -> str:
    """The seed count with the SD of the AUROC over seeds ("3 (0.012)")."""
    return _int(n) + ("" if is_missing(sd) else f" ({float(sd):.3f})")


def _diff(value: Any, low: Any, high: Any) -> str:
    text = "" if is_missing(value) else f"{value:+.3f}"
    if text and not is_missing(low) and not is_missing(high):
        text += f" [{low:+.3f}, {high:+.3f}]"
    return text


def summary_table(task: str, rows: pd.DataFrame) -> str:
    """The backbones of a task. A published row's macro AUROC over its own panel is not shown beside the
    project's (it covers other targets): its note gives it, and the common-target table compares."""
    headers = [
        ("Rank", "num"),
        ("Backbone", "text"),
        ("Source", "text"),
        ("Macro AUROC [CI]", "num"),
        ("CI method", "text"),
        ("Seeds (SD)", "num"),
        ("Targets", "num"),
        (">= 0.65", "num"),
        ("0.55-0.65", "num"),
        ("< 0.55", "num"),
        ("Tied with best", "text"),
        ("Diff vs best [CI]", "num"),
        ("Note", "text"),
    ]
    body = []
    for r in rows.to_dict("records"):
        published = r["source"] == "published"
        macro = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
        note, value = r["macro_ci_note"], r["macro_auroc"]
        if published:
            note = "other cohort and code"
            if is_missing(r["macro_auroc"]):
                note += f"; {r['macro_ci_note']}"
            else:
                note += (
                    f"; its macro over all {_int(r['n_targets'])} published targets is "
                    f"{r['macro_auroc']:.3f}: compared over common targets below"
                )
            macro, value = "see common targets", float("nan")
            if not is_missing(r["n_ci_inverted"]) and int(r["n_ci_inverted"]):
                note += (
                    f"; {int(r['n_ci_inverted'])} published interval(s) with low > high, kept as published"
                )
        body.append(
            (
                "published" if published else "own",
                [
                    td(_int(r["rank"]), r["rank"], num=True),
                    td(r["entry"], cls="name"),
                    td("published" if published else "ecglab"),
                    td(macro, value, num=True),
                    method_td(r.get("macro_ci_method")),
                    td(_seeds(r["n_seeds"], r["macro_auroc_sd"]), r["n_seeds"], num=True),
                    td(_int(r["n_targets"]), r["n_targets"], num=True),
                    td(_int(r["n_auroc_ge_065"]), r["n_auroc_ge_065"], num=True),
                    td(_int(r["n_auroc_055_065"]), r["n_auroc_055_065"], num=True),
                    td(_int(r["n_auroc_lt_055"]), r["n_auroc_lt_055"], num=True),
                    td(_tie(r["tied_with_best"])),
                    td(
                        _diff(r["macro_diff_vs_best"], r["macro_diff_low"], r["macro_diff_high"]),
                        r["macro_diff_vs_best"],
                        num=True,
                    ),
                    note_td(note.strip("; ")),
                ],
            )
        )
    return table(f"summary-{slug(task)}", headers, body)


def common_table(task: str, common: pd.DataFrame, selected: set[str] | frozenset[str] = frozenset()) -> str:
    """Each backbone against each published row over only the targets both evaluate, with how many;
    ``selected``: published rows whose table holds only its best targets (said in the note)."""
    headers = [
        ("Backbone", "text"),
        ("Published", "text"),
        ("Common targets", "num"),
        ("Backbone macro (common)", "num"),
        ("Published macro (common)", "num"),
        ("Difference", "num"),
        ("Targets (backbone / published)", "text"),
        ("Note", "text"),
    ]
    body = [
        (
            "own",
            [
                td(r["entry"], cls="name"),
                td(r["published_entry"], cls="name"),
                td(_int(r["n_common"]), r["n_common"], num=True),
                td(_num(r["macro_entry"]), r["macro_entry"], num=True),
                td(_num(r["macro_published"]), r["macro_published"], num=True),
                td("" if is_missing(r["diff"]) else f"{r['diff']:+.3f}", r["diff"], num=True),
                td(f"{_int(r['n_entry'])} / {_int(r['n_published'])}"),
                note_td(
                    ("no target in common; " if not r["n_common"] else "")
                    + (SELECTED_NOTE if r["published_entry"] in selected else "")
                ),
            ],
        )
        for r in common.to_dict("records")
    ]
    return table(f"common-{slug(task)}", headers, body)


def _interval(r: dict[str, Any], low: str, high: str) -> str:
    if is_missing(r.get(low)) or is_missing(r.get(high)):
        return ""
    return f"[{float(r[low]):.3f}-{float(r[high]):.3f}]"


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value)


def _shown(rows: pd.DataFrame, *columns: str) -> bool:
    """Whether the table carries ``columns`` and the first holds a value in some row."""
    return all(c in rows.columns for c in columns) and bool(rows[columns[0]].notna().any())


def _note(r: dict[str, Any], published: bool, inverted: bool) -> str:
    if published:
        note = str(r["issues"])
        return f"inverted interval (low > high), kept as published: {note}" if inverted else note
    parts = [r.get("ci_note"), r.get("clustered_note")]
    return "; ".join(str(p) for p in parts if not is_missing(p) and str(p))


def targets_table(task: str, rows: pd.DataFrame) -> str:
    """One row per target and entry: AUROC with its bootstrap interval, the clustered interval by patient
    and DeLong's (only where valid) where the table carries them, each with its method; patients; the
    comparison with the target's best and its paired p-value with its method."""
    optional = {
        "clustered": _shown(rows, "clustered_low", "clustered_high"),
        "delong": _shown(rows, "delong_low", "delong_high"),
        "patients": _shown(rows, "n_patients"),
        "pos_patients": _shown(rows, "n_pos_patients"),
        "paired": "paired_p" in rows.columns,
        "delong_p": _shown(rows, "delong_p") or "paired_p" not in rows.columns,
    }
    headers = [
        ("Target", "text"),
        ("Backbone", "text"),
        ("Source", "text"),
        ("AUROC [CI]", "num"),
        ("CI method", "text"),
        *([("Clustered CI (by patient)", "text")] if optional["clustered"] else []),
        *([("DeLong CI", "text")] if optional["delong"] else []),
        ("n", "num"),
        ("Positives", "num"),
        *([("Patients", "num")] if optional["patients"] else []),
        *([("Positive patients", "num")] if optional["pos_patients"] else []),
        ("Seeds (SD)", "num"),
        ("Diff vs target best [CI]", "num"),
        ("Tied with best", "text"),
        *([("Paired p", "num"), ("p method", "text")] if optional["paired"] else []),
        *([("DeLong p", "num")] if optional["delong_p"] else []),
        ("Note", "text"),
    ]
    body = []
    for r in rows.to_dict("records"):
        published = r["source"] == "published"
        inverted = not is_missing(r["ci_inverted"]) and bool(r["ci_inverted"])
        classes = ("published" if published else "own") + (" inverted" if inverted else "")
        auroc = fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"])
        cells = [
            td(r["target"]),
            td(r["entry"], cls="name"),
            td("published" if published else "ecglab"),
            td(auroc, r["auroc"], num=True, cls="warn" if inverted else ""),
            method_td(r["ci_method"]),
        ]
        if optional["clustered"]:
            method = r.get("clustered_method")
            cells.append(td(_interval(r, "clustered_low", "clustered_high"), tip=_text(method)))
        if optional["delong"]:
            cells.append(td(_interval(r, "delong_low", "delong_high"), tip=_text(r.get("delong_method"))))
        cells += [td(_int(r["n"]), r["n"], num=True), td(_int(r["n_pos"]), r["n_pos"], num=True)]
        for key, column in (("patients", "n_patients"), ("pos_patients", "n_pos_patients")):
            if optional[key]:
                cells.append(td(_int(r[column]), r[column], num=True))
        cells += [
            td(_seeds(r["n_seeds"], r["auroc_sd"]), r["n_seeds"], num=True),
            td(
                _diff(r["diff_vs_best"], r["diff_low"], r["diff_high"]),
                r["diff_vs_best"],
                num=True,
                tip=_text(r.get("diff_method")),
            ),
            td(_tie(r["tied_with_best"])),
        ]
        if optional["paired"]:
            cells += [
                td(_num(r["paired_p"], 4), r["paired_p"], num=True),
                method_td(r.get("paired_p_method")),
            ]
        if optional["delong_p"]:
            cells.append(td(_num(r["delong_p"], 4), r["delong_p"], num=True))
        cells.append(note_td(_note(r, published, inverted)))
        body.append((classes, cells))
    return table(f"targets-{slug(task)}", headers, body)


def refused_table(refused: pd.DataFrame) -> str:
    """The runs and submission files left out, with the reason (which wraps)."""
    headers = [("Run", "text"), ("Backbone", "text"), ("Task", "text"), ("Reason", "text")]
    body = [
        ("refused", [note_td(r["origin"]), td(r["backbone"]), td(r["task"]), note_td(r["reason"])])
        for r in refused.to_dict("records")
    ]
    return table("refused", headers, body)

"""The leaderboard as one static HTML page: opens from the file system, no server, no external scripts or
fonts. Sortable tables (click a header; ``#sort=TABLE_ID:COLUMN[:desc]`` in the URL sorts on load), a
forest plot of per-target AUROC with intervals per backbone, a backbone x target heat map and macro AUROC
curves against window or horizon, all inline SVG. Published reference rows are drawn hollow and labelled.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import pandas as pd

from ecglab.leaderboards.board import Leaderboard, fmt_auroc, shown_targets

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
)
PUBLISHED_COLOUR = "#333333"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:1.5em auto;
max-width:1400px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;white-space:nowrap}
th[data-type]{cursor:pointer;background:#f3f3f3;user-select:none}
th[data-type]:hover{background:#e6e6e6}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.published td{background:#f7f7ff;font-style:italic}
tr.inverted td{background:#fff1e6}
.badge{font-size:.75em;padding:1px 5px;border-radius:3px;background:#dde;color:#224;font-style:normal}
.warn{color:#b35900;font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
svg text{font-family:inherit}
.note{color:#555;font-size:.9em}
nav a{margin-right:1em}
"""

SCRIPT = """
(function () {
  "use strict";
  function key(cell, type) {
    if (!cell) return null;
    var v = cell.getAttribute("data-v");
    if (v === null) v = cell.textContent.trim();
    if (type === "num") { var x = parseFloat(v); return isNaN(x) ? null : x; }
    return v === "" ? null : v.toLowerCase();
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var type = th.getAttribute("data-type");
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], type), y = key(b.cells[col], type);
      if (x === null || y === null) return x === y ? 0 : (x === null ? 1 : -1);
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    table.setAttribute("data-sorted", col + ":" + dir);
    document.body.setAttribute("data-last-sort", table.id + ":" + col + ":" + dir);
  }
  document.addEventListener("click", function (e) {
    var th = e.target.closest ? e.target.closest("th[data-type]") : null;
    if (th) sortBy(th);
  });
  document.addEventListener("keydown", function (e) {
    if ((e.key === "Enter" || e.key === " ") && e.target.matches && e.target.matches("th[data-type]")) {
      e.preventDefault();
      sortBy(e.target);
    }
  });
  var m = /^#sort=([^:]+):(\\d+)(?::(desc))?$/.exec(decodeURIComponent(location.hash));
  if (m) {
    var t = document.getElementById(m[1]);
    if (t && t.tHead && t.tHead.rows[0].cells[+m[2]]) {
      var th = t.tHead.rows[0].cells[+m[2]];
      th.click();
      if (m[3]) th.click();
    }
  }
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _num(value: Any, digits: int = 3) -> str:
    return "" if _missing(value) else f"{float(value):.{digits}f}"


def _int(value: Any) -> str:
    return "" if _missing(value) else str(int(value))


def _data_v(value: Any) -> str:
    return "" if _missing(value) else repr(float(value))


def _tie(value: Any) -> str:
    return "" if _missing(value) else ("yes" if bool(value) else "no")


def _colour_map(entries: list[str], published: set[str]) -> dict[str, str]:
    colours, i = {}, 0
    for entry in entries:
        if entry in published:
            colours[entry] = PUBLISHED_COLOUR
        else:
            colours[entry] = PALETTE[i % len(PALETTE)]
            i += 1
    return colours


# ------------------------------------------------------------------------------------------------ tables
def _table(table_id: str, headers: list[tuple[str, str]], rows: list[tuple[str, list[str]]]) -> str:
    """headers: (label, type "num"|"text"); rows: (tr class, rendered td cells)."""
    head = "".join(f'<th data-type="{t}" tabindex="0" scope="col">{_e(label)}</th>' for label, t in headers)
    body = "".join(f'<tr class="{cls}">{"".join(cells)}</tr>' for cls, cells in rows)
    return (
        f'<div class="scroll"><table class="sortable" id="{_e(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _td(text: Any, value: Any = None, num: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in (cls, "num" if num else "") if c)
    attr = f' class="{classes}"' if classes else ""
    data = "" if value is None else f' data-v="{_e(_data_v(value))}"'
    return f"<td{attr}{data}>{_e(text)}</td>"


def _summary_table(task: str, rows: pd.DataFrame) -> str:
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
        if published and not _missing(r["n_ci_inverted"]) and int(r["n_ci_inverted"]):
            note += f"; {int(r['n_ci_inverted'])} published interval(s) with low > high, kept as published"
        diff = "" if _missing(r["macro_diff_vs_best"]) else f"{r['macro_diff_vs_best']:+.3f}"
        if diff and not _missing(r["macro_diff_low"]):
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
    return _table(f"summary-{_slug(task)}", headers, body)


def _targets_table(task: str, rows: pd.DataFrame) -> str:
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
        inverted = not _missing(r["ci_inverted"]) and bool(r["ci_inverted"])
        auroc = fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"])
        diff = "" if _missing(r["diff_vs_best"]) else f"{r['diff_vs_best']:+.3f}"
        if diff and not _missing(r["diff_low"]):
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
    return _table(f"targets-{_slug(task)}", headers, body)


def _refused_table(refused: pd.DataFrame) -> str:
    headers = [("Run", "text"), ("Backbone", "text"), ("Task", "text"), ("Reason", "text")]
    body = [
        ("refused", [_td(r["origin"]), _td(r["backbone"]), _td(r["task"]), _td(r["reason"])])
        for _, r in refused.iterrows()
    ]
    return _table("refused", headers, body)


# ------------------------------------------------------------------------------------------------ plots
def _legend(entries: list[str], colours: dict[str, str], published: set[str], x: float, y: float) -> str:
    parts, cx = [], x
    for entry in entries:
        if entry in published:
            shape = (
                f'<rect x="{cx + 1.5}" y="{y - 6.5}" width="6" height="6" fill="white" '
                f'stroke="{colours[entry]}" stroke-width="1.5" transform="rotate(45 {cx + 4.5} {y - 3.5})"/>'
            )
        else:
            shape = f'<circle cx="{cx + 4.5}" cy="{y - 3.5}" r="4.5" fill="{colours[entry]}"/>'
        parts.append(f'{shape}<text x="{cx + 13}" y="{y}" font-size="11">{_e(entry)}</text>')
        cx += 24 + 6.5 * len(entry)
    return "".join(parts)


def _legend_width(entries: list[str]) -> float:
    return sum(24 + 6.5 * len(e) for e in entries)


def _forest(task: str, rows: pd.DataFrame, entries: list[str], targets: list[str], colours, published) -> str:
    lows = pd.concat([rows["auroc"], rows["auroc_low"], rows["auroc_high"]]).dropna()
    lo = min(0.3, math.floor(float(lows.min()) * 10) / 10) if len(lows) else 0.3
    lo = max(0.0, lo)
    hi = 1.0
    left = max(120, 16 + 6.4 * max((len(t) for t in targets), default=0))
    width, top = 560, 40
    step = max(16, 6 * len(entries) + 6)
    height = top + step * len(targets) + 40
    total_width = max(left + width + 30, 30 + _legend_width(entries))

    def x(v: float) -> float:
        return left + (min(max(v, lo), hi) - lo) / (hi - lo) * width

    out = [
        f'<svg class="forest" data-task="{_e(task)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{total_width:.0f}" height="{height}" role="img" '
        f'aria-label="Forest plot of per-target AUROC for {_e(task)}">',
        _legend(entries, colours, published, 10, 16),
    ]
    tick = lo
    while tick <= hi + 1e-9:
        xx = x(tick)
        dash = "" if abs(tick - 0.5) < 1e-9 else ' stroke-dasharray="2,3"'
        out.append(
            f'<line x1="{xx:.1f}" y1="{top - 6}" x2="{xx:.1f}" y2="{height - 30}" stroke="#bbb"{dash}/>'
            f'<text x="{xx:.1f}" y="{height - 14}" font-size="10" text-anchor="middle">{tick:.1f}</text>'
        )
        tick = round(tick + 0.1, 10)
    for tier in (0.55, 0.65):
        out.append(
            f'<line x1="{x(tier):.1f}" y1="{top - 6}" x2="{x(tier):.1f}" y2="{height - 30}" stroke="#e0a040" '
            'stroke-dasharray="4,3"/>'
        )
    cells = {(r["target"], r["entry"]): r for _, r in rows.iterrows()}
    for i, target in enumerate(targets):
        y0 = top + i * step
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{y0}" width="{left + width}" height="{step}" fill="#f7f7f7"/>')
        out.append(
            f'<text x="{left - 6}" y="{y0 + step / 2 + 4:.1f}" font-size="11" text-anchor="end">'
            f"{_e(target)}</text>"
        )
        for k, entry in enumerate(entries):
            r = cells.get((target, entry))
            if r is None or _missing(r["auroc"]):
                continue
            y = y0 + 4 + (k + 0.5) * (step - 8) / len(entries)
            colour = colours[entry]
            inverted = not _missing(r["ci_inverted"]) and bool(r["ci_inverted"])
            label = f"{entry} - {target}: {fmt_auroc(r['auroc'], r['auroc_low'], r['auroc_high'])}"
            if inverted:
                label += " (published interval inverted: low > high, kept as published)"
            parts = [
                f'<g class="mark{" inverted" if inverted else ""}" data-entry="{_e(entry)}" '
                f'data-target="{_e(target)}" data-auroc="{float(r["auroc"])!r}"><title>{_e(label)}</title>'
            ]
            if not _missing(r["auroc_low"]) and not _missing(r["auroc_high"]):
                a, b = float(r["auroc_low"]), float(r["auroc_high"])
                style = ' stroke-dasharray="3,2"' if inverted else ""
                stroke = "#d35400" if inverted else colour
                parts.append(
                    f'<line x1="{x(min(a, b)):.1f}" y1="{y:.1f}" x2="{x(max(a, b)):.1f}" y2="{y:.1f}" '
                    f'stroke="{stroke}" stroke-width="1.5"{style}/>'
                )
            cx = x(float(r["auroc"]))
            if entry in published:
                parts.append(
                    f'<rect x="{cx - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="white" '
                    f'stroke="{colour}" stroke-width="1.3" transform="rotate(45 {cx:.1f} {y:.1f})"/>'
                )
            else:
                parts.append(f'<circle cx="{cx:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
            parts.append("</g>")
            out.append("".join(parts))
    out.append(
        f'<text x="{left + width / 2}" y="{height - 2}" font-size="11" text-anchor="middle">AUROC '
        "(dashed: tiers 0.55 and 0.65)</text></svg>"
    )
    return "".join(out)


def _heat_colour(value: float) -> str:
    """White at 0.5, red towards 1 (saturating at 0.9), blue towards 0 (saturating at 0.1)."""
    t = min(abs(value - 0.5) / 0.4, 1.0)
    target = (178, 24, 43) if value >= 0.5 else (33, 102, 172)
    r, g, b = (round(255 + (c - 255) * t) for c in target)
    return f"#{r:02x}{g:02x}{b:02x}"


def _heatmap(task: str, rows: pd.DataFrame, entries: list[str], targets: list[str]) -> str:
    cell = 14
    left = max(120, 16 + 6.6 * max((len(e) for e in entries), default=0))
    top = max(60, 20 + 5.4 * max((len(t) for t in targets), default=0))
    width = left + max(cell * len(targets), 7 * 34) + 20
    height = top + cell * len(entries) + 50
    cells = {(r["target"], r["entry"]): r for _, r in rows.iterrows()}
    out = [
        f'<svg class="heatmap" data-task="{_e(task)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="Heat map of AUROC by backbone and target for {_e(task)}">'
    ]
    for j, target in enumerate(targets):
        xx = left + j * cell + cell / 2
        out.append(
            f'<text x="{xx:.1f}" y="{top - 6}" font-size="10" transform="rotate(-60 {xx:.1f} {top - 6})">'
            f"{_e(target)}</text>"
        )
    for i, entry in enumerate(entries):
        y = top + i * cell
        out.append(
            f'<text x="{left - 6}" y="{y + cell - 3}" font-size="11" text-anchor="end">{_e(entry)}</text>'
        )
        for j, target in enumerate(targets):
            r = cells.get((target, entry))
            value = None if r is None or _missing(r["auroc"]) else float(r["auroc"])
            fill = "#eeeeee" if value is None else _heat_colour(value)
            text = "not evaluated" if value is None else fmt_auroc(value, r["auroc_low"], r["auroc_high"])
            out.append(
                f'<rect class="cell" x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{fill}" data-entry="{_e(entry)}" data-target="{_e(target)}" '
                f'data-auroc="{"" if value is None else repr(value)}"><title>{_e(entry)} - {_e(target)}: '
                f"{_e(text)}</title></rect>"
            )
    y = top + cell * len(entries) + 18
    for k, v in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
        out.append(
            f'<rect x="{left + k * 34}" y="{y}" width="34" height="10" fill="{_heat_colour(v)}"/>'
            f'<text x="{left + k * 34 + 17}" y="{y + 22}" font-size="9" text-anchor="middle">{v:.1f}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _curve(family: str, axis: str, rows: pd.DataFrame, colours: dict[str, str]) -> str:
    minutes = sorted(rows["minutes"].unique())
    entries = list(dict.fromkeys(rows["entry"]))
    values = pd.concat([rows["macro_auroc"], rows["macro_auroc_low"], rows["macro_auroc_high"]]).dropna()
    lo = max(0.0, math.floor((float(values.min()) - 0.02) * 20) / 20)
    hi = min(1.0, math.ceil((float(values.max()) + 0.02) * 20) / 20)
    if hi <= lo:
        lo, hi = max(0.0, lo - 0.05), min(1.0, hi + 0.05)
    left, width, top, plot_h = 60, 420, 40, 220
    total_width = max(left + width + 40, 30 + _legend_width(entries))

    def px(m: float) -> float:
        i = minutes.index(m)
        return left + (width * (i + 0.5) / len(minutes))

    def py(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    out = [
        f'<svg class="curve" data-family="{_e(family)}" data-axis="{_e(axis)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{total_width:.0f}" height="{top + plot_h + 50}" '
        f'role="img" aria-label="Macro AUROC by {_e(axis)} for {_e(family)}">',
        _legend(entries, colours, set(), 10, 16),
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + width}" y2="{top + plot_h}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
    ]
    tick = math.ceil(lo * 20) / 20
    while tick <= hi + 1e-9:
        out.append(
            f'<line x1="{left}" y1="{py(tick):.1f}" x2="{left + width}" y2="{py(tick):.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" font-size="10" text-anchor="end">{tick:.2f}</text>'
        )
        tick = round(tick + 0.05, 10)
    for m in minutes:
        out.append(
            f'<text x="{px(m):.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">'
            f"{m:g} min</text>"
        )
    out.append(
        f'<text x="{left + width / 2}" y="{top + plot_h + 36}" font-size="11" text-anchor="middle">'
        f"{_e(axis)} (minutes)</text>"
    )
    for k, entry in enumerate(entries):
        dodge = (k - (len(entries) - 1) / 2) * 4  # side by side, so that the intervals do not overlap
        part = rows[rows["entry"] == entry].sort_values("minutes")
        colour = colours.get(entry, PALETTE[0])
        pairs = zip(part["minutes"], part["macro_auroc"], strict=True)
        points = [(px(m) + dodge, py(v)) for m, v in pairs if pd.notna(v)]
        if len(points) > 1:
            coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            out.append(
                f'<polyline class="line" data-entry="{_e(entry)}" points="{coords}" fill="none" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        for _, r in part.iterrows():
            if _missing(r["macro_auroc"]):
                continue
            cx, cy = px(r["minutes"]) + dodge, py(r["macro_auroc"])
            value = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
            text = f"{entry} - {r['task']}: {value}"
            bar = ""
            if not _missing(r["macro_auroc_low"]) and not _missing(r["macro_auroc_high"]):
                bar = (
                    f'<line x1="{cx:.1f}" y1="{py(r["macro_auroc_low"]):.1f}" x2="{cx:.1f}" '
                    f'y2="{py(r["macro_auroc_high"]):.1f}" stroke="{colour}" stroke-width="1.2"/>'
                )
            out.append(
                f'<g class="point" data-entry="{_e(entry)}" data-minutes="{r["minutes"]:g}" '
                f'data-auroc="{float(r["macro_auroc"])!r}"><title>{_e(text)}</title>{bar}'
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}"/></g>'
            )
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------------------------------------ page
def render_html(board: Leaderboard) -> str:
    """One self-contained HTML page (inline CSS, script and SVG; nothing loaded from elsewhere)."""
    summary, targets = board.summary, board.targets
    published = set(summary.loc[summary["source"] == "published", "entry"])
    own_entries = summary.loc[summary["source"] == "ecglab", "entry"]
    all_entries = list(dict.fromkeys([*own_entries, *sorted(published)]))
    colours = _colour_map(all_entries, published)
    level = round(100 * (1 - board.alpha))
    tasks = board.task_names()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(board.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(board.title)}</h1>",
        f'<p class="note">Built from result files by ecglab. AUROC with {level}% confidence intervals, '
        '"0.812 [0.801-0.823]". Rows are comparable only within a task with one task version and cohort '
        'hash. Rows marked <span class="badge">published, not re-run</span> are the reference studies\' '
        "numbers as published (other cohort and code), drawn hollow in the plots. Tiers follow AnyECG-Lab: "
        "AUROC &gt;= 0.65, 0.55-0.65, &lt; 0.55. Click a column header to sort.</p>",
    ]
    if tasks:
        links = "".join(f'<a href="#task-{_slug(t)}">{_e(t)}</a>' for t in tasks)
        if not board.curves.empty:
            links += '<a href="#curves">window / horizon curves</a>'
        parts.append(f"<nav>{links}</nav>")
    for task in tasks:
        rows = summary[summary["task"] == task]
        trows = targets[targets["task"] == task]
        own = rows[rows["source"] == "ecglab"]
        entries = [e for e in all_entries if e in set(rows["entry"])]
        target_order, left_out = shown_targets(trows) if not trows.empty else ([], 0)
        plotted = trows[trows["target"].isin(target_order)]
        omitted = (
            f'<p class="note">The plots show the targets evaluated here; {left_out} published targets that '
            "no run here evaluates are listed in the table below.</p>"
            if left_out
            else ""
        )
        parts.append(f'<section class="task" id="task-{_slug(task)}"><h2>{_e(task)}</h2>')
        if not own.empty:
            first = own.iloc[0]
            parts.append(
                f'<p class="note">Task version {_e(first["task_version"])}, cohort '
                f"{_e(first['cohort_name'])} (hash <code>{_e(first['cohort_hash'][:12])}</code>); intervals "
                "by patient bootstrap over the stored resamples shared by all runs of the task.</p>"
            )
        parts.append("<h3>Backbones</h3>")
        parts.append(_summary_table(task, rows))
        if not trows.empty:
            parts.append("<h3>Per-target AUROC (forest plot)</h3>")
            forest = _forest(task, plotted, entries, target_order, colours, published)
            parts.append(f'{omitted}<div class="scroll">{forest}</div>')
            parts.append("<h3>AUROC by backbone and target (heat map)</h3>")
            parts.append(f'<div class="scroll">{_heatmap(task, plotted, entries, target_order)}</div>')
            parts.append("<h3>Per target</h3>")
            parts.append(_targets_table(task, trows))
        parts.append("</section>")
    if not board.curves.empty:
        parts.append('<section id="curves"><h2>Macro AUROC by window and horizon</h2>')
        for (family, axis), rows in board.curves.groupby(["family", "axis"], sort=False):
            parts.append(f"<h3>{_e(family)} (by {_e(axis)})</h3>")
            parts.append(f'<div class="scroll">{_curve(family, axis, rows, colours)}</div>')
        parts.append("</section>")
    if board.notes:
        items = "".join(f"<li>{_e(n)}</li>" for n in board.notes)
        parts.append(f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>')
    if not board.refused.empty:
        parts.append('<section id="refused-runs"><h2>Refused runs</h2>')
        parts.append(_refused_table(board.refused))
        parts.append("</section>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"

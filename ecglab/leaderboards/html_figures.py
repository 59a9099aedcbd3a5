"""The forest plot and the window / horizon curves of the leaderboard's HTML page, as ``Figure``s
(:mod:`ecglab.leaderboards.html_svg`). The forest plot is drawn at the page's width (a 1,200-unit viewBox
scaled to it) with its legend and axis in a header that stays at the top of the window while its 108
target rows scroll by; every mark lies inside its box (the axis ends at 1.0 with room for a mark there).
Published reference rows are drawn hollow (a diamond) in a colour of their own. The heat map is
:mod:`ecglab.leaderboards.html_heatmap`'s."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import escape, fmt_auroc, is_missing
from ecglab.leaderboards.html_svg import Figure, Panel, text_width, truncate

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
WIDTH = 1200  # SVG units of the wide figures; the page scales them to its width (1,230-1,370 px)
LEGEND_NAME = 70  # characters of an entry name in a legend (the full name is in its tooltip)


def colour_map(entries: list[str], published: set[str]) -> dict[str, str]:
    """One colour per entry: the palette in order, dark grey for published rows."""
    colours, i = {}, 0
    for entry in entries:
        if entry in published:
            colours[entry] = PUBLISHED_COLOUR
        else:
            colours[entry] = PALETTE[i % len(PALETTE)]
            i += 1
    return colours


def legend(
    entries: list[str], colours: dict[str, str], published: set[str], x: float, y: float, width: float
) -> tuple[str, float]:
    """A legend of the entries, wrapped onto as many 16-unit lines as ``width`` needs; returns its SVG and
    the y of its last line."""
    parts, cx = [], x
    for entry in entries:
        name = truncate(entry, LEGEND_NAME)
        item = 17 + text_width(name, 11) + 10
        if cx > x and cx + item > x + width:
            cx, y = x, y + 16
        if entry in published:
            shape = (
                f'<rect x="{cx + 1.5}" y="{y - 6.5}" width="6" height="6" fill="white" '
                f'stroke="{colours[entry]}" stroke-width="1.5" transform="rotate(45 {cx + 4.5} {y - 3.5})"/>'
            )
        else:
            shape = f'<circle cx="{cx + 4.5}" cy="{y - 3.5}" r="4.5" fill="{colours[entry]}"/>'
        parts.append(
            f'<g class="legend-item"><title>{escape(entry)}</title>{shape}'
            f'<text x="{cx + 13}" y="{y}" font-size="11">{escape(name)}</text></g>'
        )
        cx += item
    return "".join(parts), y


def _axis_range(rows: pd.DataFrame) -> float:
    values = pd.concat([rows["auroc"], rows["auroc_low"], rows["auroc_high"]]).dropna()
    lo = min(0.3, math.floor(float(values.min()) * 10) / 10) if len(values) else 0.3
    return max(0.0, lo)


def forest_plot(
    task: str,
    rows: pd.DataFrame,
    entries: list[str],
    targets: list[str],
    colours: dict[str, str],
    published: set[str],
) -> Figure:
    """Per-target AUROC with its interval, one mark per entry on each target's row; 0.5 solid, the tiers
    0.55 and 0.65 dashed. Two panels: the sticky header (legend and axis) and the target rows."""
    lo = _axis_range(rows)
    left = min(330.0, max(120.0, 16 + text_width(max(targets, key=len, default=""), 11)))
    x0, x1 = left + 12, WIDTH - 16  # room for a mark at either end of the axis

    def x(v: float) -> float:
        return x0 + (min(max(v, lo), 1.0) - lo) / (1.0 - lo) * (x1 - x0)

    ticks = [round(lo + 0.1 * i, 10) for i in range(round((1.0 - lo) / 0.1) + 1)]
    keys, last = legend(entries, colours, published, 10, 16, WIDTH - 20)
    head_h = last + 34
    head = [f'<rect width="{WIDTH}" height="{head_h:.0f}" fill="#ffffff"/>', keys]
    head.append(
        f'<text x="{left - 6}" y="{head_h - 10:.0f}" font-size="11" text-anchor="end" font-weight="bold">'
        "AUROC</text>"
    )
    for tick in ticks:
        head.append(
            f'<text x="{x(tick):.1f}" y="{head_h - 10:.0f}" font-size="10" text-anchor="middle">{tick:.1f}'
            f'</text><line x1="{x(tick):.1f}" y1="{head_h - 6:.0f}" x2="{x(tick):.1f}" y2="{head_h:.0f}" '
            'stroke="#888"/>'
        )
    head.append(f'<line x1="{x0}" y1="{head_h - 0.5:.1f}" x2="{x1}" y2="{head_h - 0.5:.1f}" stroke="#888"/>')
    step = max(14, 5 * len(entries) + 6)
    plot_h = step * len(targets)
    height = plot_h + 40
    body = [f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>']
    for i in range(0, len(targets), 2):
        body.append(f'<rect x="0" y="{i * step}" width="{WIDTH}" height="{step}" fill="#f4f4f4"/>')
    for tick in ticks:
        dash = "" if abs(tick - 0.5) < 1e-9 else ' stroke-dasharray="2,3"'
        body.append(
            f'<line x1="{x(tick):.1f}" y1="0" x2="{x(tick):.1f}" y2="{plot_h}" stroke="#bbb"{dash}/>'
            f'<text x="{x(tick):.1f}" y="{plot_h + 14}" font-size="10" text-anchor="middle">{tick:.1f}</text>'
        )
    for tier in (0.55, 0.65):
        body.append(
            f'<line x1="{x(tier):.1f}" y1="0" x2="{x(tier):.1f}" y2="{plot_h}" stroke="#e0a040" '
            'stroke-dasharray="4,3"/>'
        )
    cells = {(r["target"], r["entry"]): r for r in rows.to_dict("records")}
    for i, target in enumerate(targets):
        y0 = i * step
        body.append(
            f'<text x="{left - 6}" y="{y0 + step / 2 + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(target)}</text>"
        )
        for k, entry in enumerate(entries):
            r = cells.get((target, entry))
            if r is None or is_missing(r["auroc"]):
                continue
            y = y0 + 4 + (k + 0.5) * (step - 8) / len(entries)
            body.append(_forest_mark(entry, target, r, x, y, colours[entry], entry in published))
    body.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{plot_h + 32}" font-size="11" text-anchor="middle">AUROC '
        "(solid: 0.5; dashed orange: tiers 0.55 and 0.65)</text>"
    )
    label = f"forest plot of per-target AUROC for {task}"
    attrs = f' data-task="{escape(task)}" aria-label="{escape(label)}"'
    return Figure(
        name=f"forest-{task}",
        label=f"Forest plot, {task}: AUROC with its interval per target and backbone",
        panels=[
            Panel("".join(head), WIDTH, head_h, "forest-axis", attrs, sticky=True),
            Panel("".join(body), WIDTH, height, "forest", attrs),
        ],
    )


def _forest_mark(
    entry: str,
    target: str,
    r: dict[str, Any],
    x: Callable[[float], float],
    y: float,
    colour: str,
    hollow: bool,
) -> str:
    """One entry's mark on a target's row of the forest plot: its interval and a dot (a hollow diamond for
    published rows); an inverted published interval is drawn dashed, between its two bounds."""
    inverted = not is_missing(r["ci_inverted"]) and bool(r["ci_inverted"])
    label = f"{entry} - {target}: {fmt_auroc(r['auroc'], r['auroc_low'], r['auroc_high'])}"
    if inverted:
        label += " (published interval inverted: low > high, kept as published)"
    parts = [
        f'<g class="mark{" inverted" if inverted else ""}" data-entry="{escape(entry)}" '
        f'data-target="{escape(target)}" data-auroc="{float(r["auroc"])!r}"><title>{escape(label)}</title>'
    ]
    if not is_missing(r["auroc_low"]) and not is_missing(r["auroc_high"]):
        a, b = float(r["auroc_low"]), float(r["auroc_high"])
        style = ' stroke-dasharray="3,2"' if inverted else ""
        stroke = "#d35400" if inverted else colour
        parts.append(
            f'<line x1="{x(min(a, b)):.1f}" y1="{y:.1f}" x2="{x(max(a, b)):.1f}" y2="{y:.1f}" '
            f'stroke="{stroke}" stroke-width="1.5"{style}/>'
        )
    cx = x(float(r["auroc"]))
    if hollow:
        parts.append(
            f'<rect x="{cx - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="white" '
            f'stroke="{colour}" stroke-width="1.3" transform="rotate(45 {cx:.1f} {y:.1f})"/>'
        )
    else:
        parts.append(f'<circle cx="{cx:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
    parts.append("</g>")
    return "".join(parts)


def curve_plot(family: str, axis: str, rows: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Macro AUROC with its interval against the window or horizon, one line per entry (side by side)."""
    minutes = sorted(rows["minutes"].unique())
    entries = list(dict.fromkeys(rows["entry"]))
    values = pd.concat([rows["macro_auroc"], rows["macro_auroc_low"], rows["macro_auroc_high"]]).dropna()
    lo = max(0.0, math.floor((float(values.min()) - 0.02) * 20) / 20)
    hi = min(1.0, math.ceil((float(values.max()) + 0.02) * 20) / 20)
    if hi <= lo:
        lo, hi = max(0.0, lo - 0.05), min(1.0, hi + 0.05)
    left, width, plot_h, total = 60, 480, 220, 580
    keys, last = legend(entries, colours, set(), 10, 16, total - 20)
    top = last + 20

    def px(m: float) -> float:
        return left + (width * (minutes.index(m) + 0.5) / len(minutes))

    def py(v: float) -> float:
        return top + 6 + plot_h - 12 - (v - lo) / (hi - lo) * (plot_h - 12)  # 6 units spare at each end

    height = top + plot_h + 50
    out = [
        f'<rect width="{total}" height="{height:.0f}" fill="#ffffff"/>',
        keys,
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
        f"{escape(axis)} (minutes)</text>"
    )
    for k, entry in enumerate(entries):
        dodge = (k - (len(entries) - 1) / 2) * 4  # side by side, so that the intervals do not overlap
        out.append(
            _curve_line(entry, rows[rows["entry"] == entry], colours.get(entry, PALETTE[0]), dodge, px, py)
        )
    label = f"macro AUROC by {axis} for {family}"
    attrs = f' data-family="{escape(family)}" data-axis="{escape(axis)}" aria-label="{escape(label)}"'
    return Figure(
        name=f"curve-{family}-{axis}",
        label=f"Macro AUROC by {axis}, {family}",
        panels=[Panel("".join(out), total, height, "curve", attrs)],
        wide=False,
    )


def _curve_line(
    entry: str,
    part: pd.DataFrame,
    colour: str,
    dodge: float,
    px: Callable[[float], float],
    py: Callable[[float], float],
) -> str:
    """One entry's line of a curve plot: a polyline and a point with its interval per window or horizon."""
    part = part.sort_values("minutes")
    out = []
    pairs = zip(part["minutes"], part["macro_auroc"], strict=True)
    points = [(px(m) + dodge, py(v)) for m, v in pairs if pd.notna(v)]
    if len(points) > 1:
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
        out.append(
            f'<polyline class="line" data-entry="{escape(entry)}" points="{coords}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    for r in part.to_dict("records"):
        if is_missing(r["macro_auroc"]):
            continue
        cx, cy = px(r["minutes"]) + dodge, py(r["macro_auroc"])
        value = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
        bar = ""
        if not is_missing(r["macro_auroc_low"]) and not is_missing(r["macro_auroc_high"]):
            bar = (
                f'<line x1="{cx:.1f}" y1="{py(r["macro_auroc_low"]):.1f}" x2="{cx:.1f}" '
                f'y2="{py(r["macro_auroc_high"]):.1f}" stroke="{colour}" stroke-width="1.2"/>'
            )
        tip = f"{entry} - {r['task']}: {value}"
        out.append(
            f'<g class="point" data-entry="{escape(entry)}" data-minutes="{r["minutes"]:g}" '
            f'data-auroc="{float(r["macro_auroc"])!r}"><title>{escape(tip)}'
            f'</title>{bar}<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}"/></g>'
        )
    return "".join(out)

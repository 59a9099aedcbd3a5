"""The inline SVG plots of the leaderboard's HTML page: a forest plot of per-target AUROC with intervals per
backbone, a backbone x target heat map, and macro AUROC curves against window or horizon. Published
reference rows are drawn hollow (a diamond) in a colour of their own."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from ecglab.leaderboards.formatting import escape, fmt_auroc, is_missing

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


def colour_map(entries: list[str], published: set[str]) -> dict[str, str]:
    colours, i = {}, 0
    for entry in entries:
        if entry in published:
            colours[entry] = PUBLISHED_COLOUR
        else:
            colours[entry] = PALETTE[i % len(PALETTE)]
            i += 1
    return colours


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
        parts.append(f'{shape}<text x="{cx + 13}" y="{y}" font-size="11">{escape(entry)}</text>')
        cx += 24 + 6.5 * len(entry)
    return "".join(parts)


def _legend_width(entries: list[str]) -> float:
    return sum(24 + 6.5 * len(e) for e in entries)


def forest_plot(
    task: str, rows: pd.DataFrame, entries: list[str], targets: list[str], colours, published
) -> str:
    """Per-target AUROC with its interval, one mark per entry on each target's row; tiers dashed."""
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
        f'<svg class="forest" data-task="{escape(task)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{total_width:.0f}" height="{height}" role="img" '
        f'aria-label="Forest plot of per-target AUROC for {escape(task)}">',
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
            f"{escape(target)}</text>"
        )
        for k, entry in enumerate(entries):
            r = cells.get((target, entry))
            if r is None or is_missing(r["auroc"]):
                continue
            y = y0 + 4 + (k + 0.5) * (step - 8) / len(entries)
            out.append(_forest_mark(entry, target, r, x, y, colours[entry], entry in published))
    out.append(
        f'<text x="{left + width / 2}" y="{height - 2}" font-size="11" text-anchor="middle">AUROC '
        "(dashed: tiers 0.55 and 0.65)</text></svg>"
    )
    return "".join(out)


def _forest_mark(
    entry: str, target: str, r: pd.Series, x: Callable[[float], float], y: float, colour: str, hollow: bool
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


def _heat_colour(value: float) -> str:
    """White at 0.5, red towards 1 (saturating at 0.9), blue towards 0 (saturating at 0.1)."""
    t = min(abs(value - 0.5) / 0.4, 1.0)
    target = (178, 24, 43) if value >= 0.5 else (33, 102, 172)
    r, g, b = (round(255 + (c - 255) * t) for c in target)
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(task: str, rows: pd.DataFrame, entries: list[str], targets: list[str]) -> str:
    cell = 14
    left = max(120, 16 + 6.6 * max((len(e) for e in entries), default=0))
    top = max(60, 20 + 5.4 * max((len(t) for t in targets), default=0))
    width = left + max(cell * len(targets), 7 * 34) + 20
    height = top + cell * len(entries) + 50
    cells = {(r["target"], r["entry"]): r for _, r in rows.iterrows()}
    out = [
        f'<svg class="heatmap" data-task="{escape(task)}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" '
        f'aria-label="Heat map of AUROC by backbone and target for {escape(task)}">'
    ]
    for j, target in enumerate(targets):
        xx = left + j * cell + cell / 2
        out.append(
            f'<text x="{xx:.1f}" y="{top - 6}" font-size="10" transform="rotate(-60 {xx:.1f} {top - 6})">'
            f"{escape(target)}</text>"
        )
    for i, entry in enumerate(entries):
        y = top + i * cell
        out.append(
            f'<text x="{left - 6}" y="{y + cell - 3}" font-size="11" text-anchor="end">{escape(entry)}</text>'
        )
        for j, target in enumerate(targets):
            r = cells.get((target, entry))
            value = None if r is None or is_missing(r["auroc"]) else float(r["auroc"])
            fill = "#eeeeee" if value is None else _heat_colour(value)
            text = "not evaluated" if value is None else fmt_auroc(value, r["auroc_low"], r["auroc_high"])
            out.append(
                f'<rect class="cell" x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{fill}" data-entry="{escape(entry)}" data-target="{escape(target)}" '
                f'data-auroc="{"" if value is None else repr(value)}">'
                f"<title>{escape(entry)} - {escape(target)}: {escape(text)}</title></rect>"
            )
    y = top + cell * len(entries) + 18
    for k, v in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
        out.append(
            f'<rect x="{left + k * 34}" y="{y}" width="34" height="10" fill="{_heat_colour(v)}"/>'
            f'<text x="{left + k * 34 + 17}" y="{y + 22}" font-size="9" text-anchor="middle">{v:.1f}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def curve_plot(family: str, axis: str, rows: pd.DataFrame, colours: dict[str, str]) -> str:
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
        f'<svg class="curve" data-family="{escape(family)}" data-axis="{escape(axis)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{total_width:.0f}" height="{top + plot_h + 50}" '
        f'role="img" aria-label="Macro AUROC by {escape(axis)} for {escape(family)}">',
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
        f"{escape(axis)} (minutes)</text>"
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
                f'<polyline class="line" data-entry="{escape(entry)}" points="{coords}" fill="none" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        for _, r in part.iterrows():
            if is_missing(r["macro_auroc"]):
                continue
            cx, cy = px(r["minutes"]) + dodge, py(r["macro_auroc"])
            value = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
            text = f"{entry} - {r['task']}: {value}"
            bar = ""
            if not is_missing(r["macro_auroc_low"]) and not is_missing(r["macro_auroc_high"]):
                bar = (
                    f'<line x1="{cx:.1f}" y1="{py(r["macro_auroc_low"]):.1f}" x2="{cx:.1f}" '
                    f'y2="{py(r["macro_auroc_high"]):.1f}" stroke="{colour}" stroke-width="1.2"/>'
                )
            out.append(
                f'<g class="point" data-entry="{escape(entry)}" data-minutes="{r["minutes"]:g}" '
                f'data-auroc="{float(r["macro_auroc"])!r}"><title>{escape(text)}</title>{bar}'
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}"/></g>'
            )
    out.append("</svg>")
    return "".join(out)

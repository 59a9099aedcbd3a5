"""The backbone x target heat map of the leaderboard's HTML page, legible at 108 targets: the targets run
across in bands (as many as the page's 1,200-unit width needs for cells of at least 26 units, so a cell
stays a 24-px hover target or larger on a 1,280-px window), each cell prints its AUROC and has a tooltip
with the interval. The colour scale is diverging and centred at 0.5 (ColorBrewer RdYlBu: blue below,
pale yellow at 0.5, red above); a target an entry does not evaluate is hatched grey, never a colour of the
scale. A legend shows both."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import escape, fmt_auroc, is_missing, slug
from ecglab.leaderboards.html_svg import Figure, Panel, text_width, truncate

WIDTH = 1200
MIN_CELL = 26  # SVG units; 24 px drawn + 2 of gap, at the page's scale of >= 1 on a 1,280-px window
CELL_H = 26
ROW_NAME = 40  # characters of an entry name on a row (the full name is in the tooltip)
# ColorBrewer RdYlBu (11 classes), from AUROC 0 to 1: its centre #ffffbf sits at 0.5
SCALE = (
    "#313695",
    "#4575b4",
    "#74add1",
    "#abd9e9",
    "#e0f3f8",
    "#ffffbf",
    "#fee090",
    "#fdae61",
    "#f46d43",
    "#d73027",
    "#a50026",
)
NO_VALUE = "#ffffff"  # under a grey hatching: "not evaluated"


def heat_colour(value: float) -> str:
    """The scale's colour of an AUROC (linear between the 11 classes; values outside [0, 1] clamp)."""
    t = min(max(float(value), 0.0), 1.0) * (len(SCALE) - 1)
    i = min(int(t), len(SCALE) - 2)
    a, b = _rgb(SCALE[i]), _rgb(SCALE[i + 1])
    f = t - i
    return "#" + "".join(f"{round(p + (q - p) * f):02x}" for p, q in zip(a, b, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _ink(colour: str) -> str:
    """Black or white text on a cell, whichever reads better (by relative luminance)."""
    r, g, b = (c / 255 for c in _rgb(colour))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#ffffff"


def _defs(key: str) -> str:
    stops = "".join(
        f'<stop offset="{i / (len(SCALE) - 1):.2f}" stop-color="{c}"/>' for i, c in enumerate(SCALE)
    )
    return (
        f'<defs><linearGradient id="scale-{key}">{stops}</linearGradient>'
        f'<pattern id="none-{key}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{NO_VALUE}"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#b0b0b0" stroke-width="2"/></pattern></defs>'
    )


def bands(n_targets: int, room: float) -> tuple[int, float]:
    """How many targets per band, and the cell width, for ``n_targets`` in ``room`` units across."""
    per_band = max(1, int(room // MIN_CELL))
    n_bands = max(1, math.ceil(n_targets / per_band))
    per_band = math.ceil(n_targets / n_bands) if n_targets else 1
    return per_band, min(room / per_band, 60.0)


def heat_map(task: str, rows: pd.DataFrame, entries: list[str], targets: list[str]) -> Figure:
    """AUROC of each entry (rows) on each target (columns, in bands), with a legend of the scale."""
    key = slug(task)
    names = [truncate(e, ROW_NAME) for e in entries]
    left = min(280.0, max(80.0, 12 + text_width(max(names, key=len, default=""), 11)))
    per_band, cell = bands(len(targets), WIDTH - left - 10)
    cells = {(r["target"], r["entry"]): r for r in rows.to_dict("records")}
    out = [_defs(key)]
    y = 8.0
    for start in range(0, len(targets), per_band):
        band = targets[start : start + per_band]
        label_h = 10 + text_width(max(band, key=len), 10)
        for j, target in enumerate(band):
            xx = left + j * cell + cell / 2 + 3.5
            out.append(
                f'<text x="{xx:.1f}" y="{y + label_h - 4:.1f}" font-size="10" '
                f'transform="rotate(-90 {xx:.1f} {y + label_h - 4:.1f})">{escape(target)}</text>'
            )
        y += label_h
        for i, entry in enumerate(entries):
            yy = y + i * CELL_H
            out.append(
                f'<text x="{left - 6}" y="{yy + CELL_H / 2 + 4:.1f}" font-size="11" text-anchor="end">'
                f"<title>{escape(entry)}</title>{escape(names[i])}</text>"
            )
            for j, target in enumerate(band):
                out.append(_cell(cells.get((target, entry)), entry, target, left + j * cell, yy, cell, key))
        y += CELL_H * len(entries) + 14
    out.append(_legend(key, left, y + 4))
    height = y + 58
    label = f"heat map of AUROC by backbone and target for {task}"
    return Figure(
        name=f"heatmap-{task}",
        label=f"Heat map, {task}: AUROC by backbone and target (hover a cell for its interval)",
        panels=[
            Panel(
                f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>' + "".join(out),
                WIDTH,
                height,
                "heatmap",
                f' data-task="{escape(task)}" aria-label="{escape(label)}"',
            )
        ],
    )


def _cell(
    r: dict[str, Any] | None, entry: str, target: str, x: float, y: float, cell: float, key: str
) -> str:
    value = None if r is None or is_missing(r["auroc"]) else float(r["auroc"])
    if value is None:
        fill, text, tip = f"url(#none-{key})", "", "not evaluated"
    else:
        fill = heat_colour(value)
        tip = fmt_auroc(value, r["auroc_low"], r["auroc_high"])
        text = (
            f'<text x="{x + (cell - 2) / 2:.1f}" y="{y + CELL_H / 2 + 2.5:.1f}" font-size="9" '
            f'text-anchor="middle" fill="{_ink(fill)}" pointer-events="none">'
            f"{f'{value:.2f}'.lstrip('0') if value < 1 else '1.0'}</text>"
        )
    return (
        f'<rect class="cell" x="{x:.1f}" y="{y:.1f}" width="{cell - 2:.1f}" height="{CELL_H - 2}" '
        f'fill="{fill}" data-entry="{escape(entry)}" data-target="{escape(target)}" '
        f'data-auroc="{"" if value is None else repr(value)}">'
        f"<title>{escape(entry)} - {escape(target)}: {escape(tip)}</title></rect>{text}"
    )


def _legend(key: str, x: float, y: float) -> str:
    """The colour bar from 0 to 1 with its ticks, and the hatched swatch of "not evaluated"."""
    width = 320
    parts = [
        f'<text x="{x}" y="{y + 9}" font-size="10" text-anchor="end" dx="-6">AUROC</text>',
        f'<rect x="{x}" y="{y}" width="{width}" height="12" fill="url(#scale-{key})" stroke="#999" '
        'stroke-width="0.5"/>',
    ]
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        xx = x + v * width
        parts.append(
            f'<line x1="{xx:.1f}" y1="{y + 12}" x2="{xx:.1f}" y2="{y + 16}" stroke="#555"/>'
            f'<text x="{xx:.1f}" y="{y + 26}" font-size="10" text-anchor="middle">{v:g}</text>'
        )
    sx = x + width + 40
    parts.append(
        f'<rect class="no-value-key" x="{sx}" y="{y - 2}" width="24" height="16" fill="url(#none-{key})" '
        f'stroke="#999" stroke-width="0.5"/><text x="{sx + 30}" y="{y + 10}" font-size="10">not evaluated'
        "</text>"
        f'<text x="{x}" y="{y + 44}" font-size="10">Diverging scale centred at 0.5 (chance): blue below, '
        "pale yellow at 0.5, red above; each cell prints its AUROC.</text>"
    )
    return "".join(parts)

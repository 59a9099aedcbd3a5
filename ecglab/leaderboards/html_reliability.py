"""Reliability diagrams of a task on the leaderboard's HTML page: one small panel per target (observed
positive rate against mean score per bin, the diagonal as perfect calibration), one line per entry (its
colour) and calibration method (its dash), every point inside its panel."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecglab.leaderboards.formatting import escape, is_missing
from ecglab.leaderboards.html_figures import PALETTE, WIDTH, legend
from ecglab.leaderboards.html_svg import Figure, Panel, truncate

COLUMNS = 6  # reliability panels per line
PANEL = WIDTH / COLUMNS
DASHES = ("", "5,3", "2,2", "8,3,2,3")  # one per calibration method, in order of appearance


def _int(value: Any) -> str:
    return "" if is_missing(value) else str(int(value))


def reliability_figure(task: str, rows: pd.DataFrame, targets: list[str], colours: dict[str, str]) -> Figure:
    """Reliability diagrams, one panel per target (in ``targets`` order, then any other), one line per
    entry (its colour) and calibration (its dash); the diagonal is perfect calibration."""
    by_target: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {}
    for r in rows.to_dict("records"):
        if is_missing(r["mean_score"]) or is_missing(r["observed_rate"]):
            continue
        line = (str(r["entry"]), str(r["calibration"]))
        by_target.setdefault(str(r["target"]), {}).setdefault(line, []).append(r)
    order = [t for t in targets if t in by_target]
    order += [t for t in by_target if t not in set(order)]
    entries = list(dict.fromkeys(rows["entry"]))
    methods = list(dict.fromkeys(rows["calibration"].astype(str)))
    colour = {e: colours.get(e, PALETTE[i % len(PALETTE)]) for i, e in enumerate(entries)}
    keys, last = legend(entries, colour, set(), 10, 16, WIDTH - 20)
    dash_key = "".join(
        f'<line x1="{10 + 150 * k}" y1="{last + 14}" x2="{40 + 150 * k}" y2="{last + 14}" stroke="#333" '
        f'stroke-width="1.5" stroke-dasharray="{DASHES[k % len(DASHES)]}"/>'
        f'<text x="{46 + 150 * k}" y="{last + 18}" font-size="11">{escape(truncate(m, 16))}</text>'
        for k, m in enumerate(methods)
    )
    axes = (
        f'<text x="{20 + 150 * len(methods)}" y="{last + 18}" font-size="11" fill="#444">x: mean score in '
        "the bin; y: observed positive rate; dotted grey diagonal: perfect calibration</text>"
    )
    top = last + 30
    out = [keys, dash_key, axes]
    for i, target in enumerate(order):
        x0, y0 = (i % COLUMNS) * PANEL, top + (i // COLUMNS) * PANEL
        out.append(_reliability_panel(target, by_target[target], x0, y0, colour, methods))
    height = top + PANEL * ((len(order) + COLUMNS - 1) // COLUMNS) + 8
    label = f"reliability diagrams for {task}"
    return Figure(
        name=f"reliability-{task}",
        label=f"Reliability diagrams, {task}: observed positive rate against mean score per bin "
        "(diagonal: perfect calibration)",
        panels=[
            Panel(
                f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>' + "".join(out),
                WIDTH,
                height,
                "reliability",
                f' data-task="{escape(task)}" aria-label="{escape(label)}"',
            )
        ],
    )


def _reliability_panel(
    target: str,
    lines: dict[tuple[str, str], list[dict[str, Any]]],
    x0: float,
    y0: float,
    colour: dict[str, str],
    methods: list[str],
) -> str:
    """One target's panel: axes 0-1, the dashed diagonal, and a line with points per entry x calibration."""
    left, top, side = x0 + 34, y0 + 20, PANEL - 56

    def px(v: float) -> float:
        return left + min(max(v, 0.0), 1.0) * side

    def py(v: float) -> float:
        return top + side - min(max(v, 0.0), 1.0) * side

    out = [
        f'<text x="{left + side / 2:.1f}" y="{y0 + 13:.1f}" font-size="11" text-anchor="middle">'
        f"<title>{escape(target)}</title>{escape(truncate(target, 26))}</text>",
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{side:.1f}" height="{side:.1f}" fill="none" '
        'stroke="#999"/>',
        f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(1):.1f}" y2="{py(1):.1f}" stroke="#999" '
        'stroke-dasharray="3,3"/>',
    ]
    for v in (0.0, 0.5, 1.0):
        out.append(
            f'<text x="{px(v):.1f}" y="{top + side + 12:.1f}" font-size="9" text-anchor="middle">{v:g}</text>'
            f'<text x="{left - 4:.1f}" y="{py(v) + 3:.1f}" font-size="9" text-anchor="end">{v:g}</text>'
        )
    for (entry, method), part in lines.items():
        part = sorted(part, key=lambda r: float(r["mean_score"]))
        c = colour[entry]
        dash = DASHES[methods.index(method) % len(DASHES)]
        coords = " ".join(f"{px(r['mean_score']):.1f},{py(r['observed_rate']):.1f}" for r in part)
        out.append(
            f'<g class="reliability-line" data-entry="{escape(entry)}" data-calibration="{escape(method)}">'
            f"<title>{escape(entry)} ({escape(method)}) - {escape(target)}</title>"
            f'<polyline points="{coords}" fill="none" stroke="{c}" stroke-width="1.3" '
            f'stroke-dasharray="{dash}"/>'
        )
        for r in part:
            tip = f"mean score {r['mean_score']:.3f}, observed {r['observed_rate']:.3f}, n {_int(r['n'])}"
            out.append(
                f'<circle cx="{px(r["mean_score"]):.1f}" cy="{py(r["observed_rate"]):.1f}" r="2" fill="{c}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        out.append("</g>")
    return "".join(out)

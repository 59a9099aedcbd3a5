"""The leaderboard as one static HTML page: opens from the file system, no server, no external scripts or
fonts. Sortable tables (click a header; ``#sort=TABLE_ID:COLUMN[:desc]`` in the URL sorts on load), a
forest plot of per-target AUROC with intervals per backbone, a backbone x target heat map and macro AUROC
curves against window or horizon, all inline SVG. Published reference rows are drawn hollow and labelled.
This module lays out the page, its style and its sorting script; the tables are
:mod:`ecglab.leaderboards.html_tables`' and the plots :mod:`ecglab.leaderboards.html_figures`'.
"""

from __future__ import annotations

from ecglab.leaderboards.formatting import escape, shown_targets, slug
from ecglab.leaderboards.html_figures import colour_map, curve_plot, forest_plot, heat_map
from ecglab.leaderboards.html_tables import refused_table, summary_table, targets_table
from ecglab.leaderboards.tables import Leaderboard

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


def render_html(board: Leaderboard) -> str:
    """One self-contained HTML page (inline CSS, script and SVG; nothing loaded from elsewhere)."""
    summary, targets = board.summary, board.targets
    published = set(summary.loc[summary["source"] == "published", "entry"])
    own_entries = summary.loc[summary["source"] == "ecglab", "entry"]
    all_entries = list(dict.fromkeys([*own_entries, *sorted(published)]))
    colours = colour_map(all_entries, published)
    level = round(100 * (1 - board.alpha))
    tasks = board.task_names()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(board.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(board.title)}</h1>",
        f'<p class="note">Built from result files by ecglab. AUROC with {level}% confidence intervals, '
        '"0.812 [0.801-0.823]". Rows are comparable only within a task with one task version and cohort '
        'hash. Rows marked <span class="badge">published, not re-run</span> are the reference studies\' '
        "numbers as published (other cohort and code), drawn hollow in the plots. Tiers follow AnyECG-Lab: "
        "AUROC &gt;= 0.65, 0.55-0.65, &lt; 0.55. Click a column header to sort.</p>",
    ]
    if tasks:
        links = "".join(f'<a href="#task-{slug(t)}">{escape(t)}</a>' for t in tasks)
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
        parts.append(f'<section class="task" id="task-{slug(task)}"><h2>{escape(task)}</h2>')
        if not own.empty:
            first = own.iloc[0]
            parts.append(
                f'<p class="note">Task version {escape(first["task_version"])}, cohort '
                f"{escape(first['cohort_name'])} (hash <code>{escape(first['cohort_hash'][:12])}</code>); "
                "intervals "
                "by patient bootstrap over the stored resamples shared by all runs of the task.</p>"
            )
        parts.append("<h3>Backbones</h3>")
        parts.append(summary_table(task, rows))
        if not trows.empty:
            parts.append("<h3>Per-target AUROC (forest plot)</h3>")
            forest = forest_plot(task, plotted, entries, target_order, colours, published)
            parts.append(f'{omitted}<div class="scroll">{forest}</div>')
            parts.append("<h3>AUROC by backbone and target (heat map)</h3>")
            parts.append(f'<div class="scroll">{heat_map(task, plotted, entries, target_order)}</div>')
            parts.append("<h3>Per target</h3>")
            parts.append(targets_table(task, trows))
        parts.append("</section>")
    if not board.curves.empty:
        parts.append('<section id="curves"><h2>Macro AUROC by window and horizon</h2>')
        for (family, axis), rows in board.curves.groupby(["family", "axis"], sort=False):
            parts.append(f"<h3>{escape(family)} (by {escape(axis)})</h3>")
            parts.append(f'<div class="scroll">{curve_plot(family, axis, rows, colours)}</div>')
        parts.append("</section>")
    if board.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in board.notes)
        parts.append(f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>')
    if not board.refused.empty:
        parts.append('<section id="refused-runs"><h2>Refused runs</h2>')
        parts.append(refused_table(board.refused))
        parts.append("</section>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"

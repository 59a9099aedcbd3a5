"""The leaderboard as one static HTML page: opens from the file system, no server, no external scripts or
fonts. Sortable tables (click a header; ``#sort=TABLE_ID:COLUMN[:desc]`` in the URL sorts on load), each in
its own scroll box so that nothing widens the page; per task the interval methods in one line each, a
comparison with the published rows over the targets both evaluate, a forest plot of per-target AUROC with
intervals (page-wide, its axis header fixed while it scrolls), a backbone x target heat map, and the
calibration, subgroup and regression sections when their tables have rows; the lead ablations (a column
per lead) when that table has rows; macro AUROC curves against window or horizon. Every figure downloads
as SVG or PNG from the page. Published reference rows are drawn hollow and labelled. This module lays out
the page, its style and its sorting script; the tables are
:mod:`ecglab.leaderboards.html_tables`' and :mod:`ecglab.leaderboards.html_sections`', the figures
:mod:`ecglab.leaderboards.html_export`'s.
"""

from __future__ import annotations

from ecglab.leaderboards.external_sections import external_html
from ecglab.leaderboards.formatting import escape, slug, task_method_lines
from ecglab.leaderboards.html_export import PageEntries, TaskView, curve_figures, task_figures
from ecglab.leaderboards.html_sections import lead_section, task_sections
from ecglab.leaderboards.html_svg import EXPORT_SCRIPT, figure_html
from ecglab.leaderboards.html_tables import (
    common_table,
    refused_table,
    summary_table,
    targets_table,
)
from ecglab.leaderboards.published_rows import common_target_macros
from ecglab.leaderboards.tables import Leaderboard

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;
line-height:1.4}
main{max-width:1400px;margin:1.5em auto;padding:0 16px;box-sizing:border-box}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin-top:1.4em}
p,li,code{overflow-wrap:anywhere}
table{border-collapse:collapse;margin:0;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;white-space:nowrap}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom}
th[data-type]{cursor:pointer;user-select:none}
th[data-type]:hover{background:#e6e6e6}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;min-width:11em;max-width:30em;overflow-wrap:anywhere}
td.name{white-space:normal;min-width:12em;max-width:22em;overflow-wrap:anywhere}
tr.published td{background:#f7f7ff;font-style:italic}
tr.inverted td{background:#fff1e6}
tr.refused td{color:#777}
.badge{font-size:.75em;padding:1px 5px;border-radius:3px;background:#dde;color:#224;font-style:normal}
.warn{color:#b35900;font-weight:600}
.scroll{overflow-x:auto;max-width:100%;margin:.5em 0 1em}
.scroll.tall{max-height:34em;overflow-y:auto;border-bottom:1px solid #ddd}
.scroll.tall thead th{position:sticky;top:0;z-index:2}
.scroll td:first-child{position:sticky;left:0;z-index:1;background:#fff}
.scroll th:first-child{position:sticky;left:0;z-index:3}
figure.fig{margin:.5em 0 1.5em}
figure.fig svg{display:block}
figure.fig svg.wide{width:100%;height:auto}
figure.fig svg.natural{max-width:100%;height:auto}
.sticky-head{position:sticky;top:0;z-index:2;background:#fff;box-shadow:0 1px 0 #ccc}
figcaption{margin-top:.3em}
figcaption button{font-size:.8em;margin-left:.4em;cursor:pointer}
svg text{font-family:inherit}
.note{color:#555;font-size:.9em}
ul.methods{font-size:.9em;color:#444;margin:.3em 0 .8em}
nav a{margin-right:1em;display:inline-block}
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


INTRO = (
    "Built from result files by ecglab. AUROC with {level}% confidence intervals, "
    '"0.812 [0.801-0.823]". Rows are comparable only within a task with one task version and cohort '
    'hash. Rows marked <span class="badge">published, not re-run</span> are the reference studies\' '
    "numbers as published (other cohort and code), drawn hollow in the plots, and compared with a "
    "backbone only over the targets both evaluate. Tiers follow AnyECG-Lab: AUROC &gt;= 0.65, "
    "0.55-0.65, &lt; 0.55. Click a column header to sort; each figure downloads as SVG or PNG."
)


def render_html(board: Leaderboard) -> str:
    """One self-contained HTML page (inline CSS, script and SVG; nothing loaded from elsewhere)."""
    page = PageEntries.of(board)
    level = round(100 * (1 - board.alpha))
    tasks = board.task_names()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(board.title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{escape(board.title)}</h1>",
        f'<p class="note">{INTRO.format(level=level)}</p>',
    ]
    if tasks:
        links = "".join(f'<a href="#task-{slug(t)}">{escape(t)}</a>' for t in tasks)
        if not board.leads.empty:
            links += '<a href="#leads">lead ablations</a>'
        if not board.curves.empty:
            links += '<a href="#curves">window / horizon curves</a>'
        parts.append(f"<nav>{links}</nav>")
    for task in tasks:
        parts += _task_parts(board, task, page)
    parts += lead_section(board.leads)
    if not board.curves.empty:
        parts.append('<section id="curves"><h2>Macro AUROC by window and horizon</h2>')
        parts += [figure_html(fig) for fig in curve_figures(board, page)]
        parts.append("</section>")
    if board.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in board.notes)
        parts.append(f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>')
    if not board.refused.empty:
        parts.append('<section id="refused-runs"><h2>Refused runs</h2>')
        parts.append(refused_table(board.refused))
        parts.append("</section>")
    parts.append(f"</main><script>{SCRIPT}</script><script>{EXPORT_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _task_parts(board: Leaderboard, task: str, page: PageEntries) -> list[str]:
    """One task's section: identity, interval methods, backbones, the comparison with the published rows
    over common targets, the figures, the per-target table and the sections beyond AUROC."""
    summary, targets = board.summary, board.targets
    rows = summary[summary["task"] == task]
    trows = targets[targets["task"] == task]
    own = rows[rows["source"] == "ecglab"]
    view = TaskView.of(board, task, page)
    figures = task_figures(board, view, page)
    parts = [f'<section class="task" id="task-{slug(task)}"><h2>{escape(task)}</h2>']
    if not own.empty:
        first = own.iloc[0]
        parts.append(
            f'<p class="note">Task version {escape(first["task_version"])}, cohort '
            f"{escape(first['cohort_name'])} (hash <code>{escape(first['cohort_hash'][:12])}</code>).</p>"
        )
    parts.append(methods_list(board, task))
    parts.append("<h3>Backbones</h3>")
    parts.append(summary_table(task, rows))
    common = common_target_macros(trows)
    if not common.empty:
        parts.append("<h3>Against the published rows, over common targets</h3>")
        parts.append(
            '<p class="note">Macro AUROC of each backbone and of the published row over only the targets '
            "both evaluate (a defined AUROC in both), with how many; each row's own target count beside "
            "it. Published numbers come from another cohort and code: a difference is descriptive, not a "
            "test.</p>"
        )
        published = rows[rows["source"] == "published"]
        selected = set(published.loc[published["macro_auroc"].isna(), "entry"])
        parts.append(common_table(task, common, selected))
    if "forest" in figures:
        parts.append("<h3>Per-target AUROC (forest plot)</h3>")
        if view.left_out:
            parts.append(
                f'<p class="note">The plots show the targets evaluated here; {view.left_out} published '
                "targets that no run here evaluates are listed in the table below.</p>"
            )
        parts.append(figure_html(figures["forest"]))
        parts.append("<h3>AUROC by backbone and target (heat map)</h3>")
        parts.append(figure_html(figures["heatmap"]))
    if not trows.empty:
        parts.append("<h3>Per target</h3>")
        parts.append(targets_table(task, trows))
    parts += task_sections(board, task, view.targets, page.colours, figures)
    parts += external_html(board, task)
    parts.append("</section>")
    return parts


def methods_list(board: Leaderboard, task: str) -> str:
    """One line per interval or test method used in the task's tables."""
    lines = task_method_lines(board, task)
    if not lines:
        return ""
    items = "".join(f"<li><b>{escape(label)}</b>: {escape(line)}</li>" for label, line in lines)
    return f'<p class="note">Intervals and tests on this task:</p><ul class="methods">{items}</ul>'

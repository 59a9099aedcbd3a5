"""The figures of a leaderboard, for its HTML page and as SVG files for a paper: per task the forest plot,
the heat map and (when there are reliability rows) the reliability diagrams, and the window / horizon
curves. ``write_figures(board, out)`` writes each as ``NAME.svg`` beside ``index.html``; the page itself
downloads each as SVG or PNG (:mod:`ecglab.leaderboards.html_svg`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecglab.leaderboards.formatting import shown_targets, slug
from ecglab.leaderboards.html_figures import colour_map, curve_plot, forest_plot
from ecglab.leaderboards.html_heatmap import heat_map
from ecglab.leaderboards.html_reliability import reliability_figure
from ecglab.leaderboards.html_svg import Figure, standalone_svg
from ecglab.leaderboards.tables import Leaderboard


@dataclass
class PageEntries:
    """The entries of a page in order (the project's, then the published), their colours, and which are
    published."""

    entries: list[str]
    colours: dict[str, str]
    published: set[str]

    @classmethod
    def of(cls, board: Leaderboard) -> PageEntries:
        """The entries of ``board``'s summary."""
        summary = board.summary
        published = set(summary.loc[summary["source"] == "published", "entry"])
        own = summary.loc[summary["source"] == "ecglab", "entry"]
        entries = list(dict.fromkeys([*own, *sorted(published)]))
        return cls(entries, colour_map(entries, published), published)


@dataclass
class TaskView:
    """What a task's figures show: its entries, the targets drawn (best first) and how many published
    targets no run here evaluates are left out of the plots."""

    task: str
    entries: list[str]
    targets: list[str]
    left_out: int
    rows: pd.DataFrame

    @classmethod
    def of(cls, board: Leaderboard, task: str, page: PageEntries) -> TaskView:
        """The view of ``task`` on ``board``."""
        trows = board.targets[board.targets["task"] == task]
        in_task = set(board.summary.loc[board.summary["task"] == task, "entry"])
        order, left_out = shown_targets(trows) if not trows.empty else ([], 0)
        entries = [e for e in page.entries if e in in_task]
        return cls(task, entries, order, left_out, trows[trows["target"].isin(order)])


def task_figures(board: Leaderboard, view: TaskView, page: PageEntries) -> dict[str, Figure]:
    """The forest plot, heat map and reliability diagrams of one task, those it has data for."""
    figures: dict[str, Figure] = {}
    if view.targets:
        figures["forest"] = forest_plot(
            view.task, view.rows, view.entries, view.targets, page.colours, page.published
        )
        figures["heatmap"] = heat_map(view.task, view.rows, view.entries, view.targets)
    reliability = board.reliability
    if not reliability.empty and "task" in reliability.columns:
        rows = reliability[reliability["task"] == view.task]
        if not rows.empty:
            figures["reliability"] = reliability_figure(view.task, rows, view.targets, page.colours)
    return figures


def curve_figures(board: Leaderboard, page: PageEntries) -> list[Figure]:
    """One figure per curve family and axis."""
    return [
        curve_plot(str(family), str(axis), rows, page.colours)
        for (family, axis), rows in board.curves.groupby(["family", "axis"], sort=False)
    ]


def board_figures(board: Leaderboard) -> list[Figure]:
    """Every figure of the board's page, in page order."""
    page = PageEntries.of(board)
    figures = []
    for task in board.task_names():
        figures += task_figures(board, TaskView.of(board, task, page), page).values()
    return figures + curve_figures(board, page)


def write_figures(board: Leaderboard, out: str | Path) -> dict[str, Path]:
    """Write every figure of the board as a standalone SVG file in ``out`` (each written to a temporary
    file first, then renamed); returns the paths by kind ``figure:NAME``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fig in board_figures(board):
        path = out / f"{slug(fig.name)}.svg"
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(standalone_svg(fig), encoding="utf-8")
        os.replace(temporary, path)
        paths[f"figure:{fig.name}"] = path
    return paths

"""The parts of the leaderboard page without a browser: the heat map's diverging scale and its cell size,
the published macro compared only over common targets, the interval methods in one line each, the
calibration, reliability, subgroup and regression sections (only with rows; absent columns left out),
the figures as standalone SVG files, and the same in Markdown."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from page_boards import FORECAST, LONG, NO_CALIBRATION, NO_SUBGROUPS, TASK, realistic_board

from ecglab.bench import metrics
from ecglab.leaderboards.formatting import method_lines
from ecglab.leaderboards.html_export import board_figures, write_figures
from ecglab.leaderboards.html_heatmap import MIN_CELL, NO_VALUE, bands, heat_colour, heat_map
from ecglab.leaderboards.html_svg import standalone_svg
from ecglab.leaderboards.html_tables import targets_table
from ecglab.leaderboards.published_rows import common_target_macros
from ecglab.leaderboards.render_html import render_html
from ecglab.leaderboards.render_markdown import render_markdown
from ecglab.leaderboards.tables import Leaderboard

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def board() -> Leaderboard:
    return realistic_board()


@pytest.fixture(scope="module")
def html(board: Leaderboard) -> str:
    return render_html(board)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_heat_scale_diverges_from_a_centre_that_is_not_no_value() -> None:
    centre = heat_colour(0.5)
    assert centre == "#ffffbf" and centre != NO_VALUE
    near = [heat_colour(v) for v in (0.45, 0.5, 0.55)]
    assert len(set(near)) == 3 and NO_VALUE not in near  # the 0.45-0.55 band is not white
    for low, high in ((0.4, 0.6), (0.2, 0.8), (0.0, 1.0)):
        (rl, _, bl), (rh, _, bh) = _rgb(heat_colour(low)), _rgb(heat_colour(high))
        assert bl > rl and rh > bh  # blue below chance, red above
    rows = pd.DataFrame(
        [
            {"target": "a", "entry": "e", "auroc": 0.5, "auroc_low": 0.4, "auroc_high": 0.6},
            {"target": "b", "entry": "e", "auroc": np.nan, "auroc_low": np.nan, "auroc_high": np.nan},
        ]
    )
    svg = heat_map("t", rows, ["e"], ["a", "b", "c"]).panels[0].body
    fills = re.findall(r'<rect class="cell"[^>]*fill="([^"]+)"', svg)
    assert fills == ["#ffffbf", "url(#none-t)", "url(#none-t)"]  # NaN and absent: hatched, not a colour
    assert '<pattern id="none-t"' in svg and '<linearGradient id="scale-t">' in svg
    assert "not evaluated" in svg and 'class="no-value-key"' in svg  # the legend shows both


def test_heat_map_bands_keep_cells_hover_sized_at_108_targets() -> None:
    per_band, cell = bands(108, 1200 - 280 - 10)
    assert cell >= MIN_CELL and per_band * (-(-108 // per_band)) >= 108
    assert bands(5, 900)[1] <= 60  # few targets: wide cells, not stretched across the page


def test_published_macro_is_compared_only_over_common_targets(board: Leaderboard, html: str) -> None:
    common = common_target_macros(board.targets).set_index(["task", "entry"])
    one = common.loc[(TASK, "ecg_features")]
    published = board.targets[(board.targets["task"] == TASK) & (board.targets["source"] == "published")]
    target = board.targets[(board.targets["entry"] == "ecg_features") & (board.targets["task"] == TASK)]
    assert (one["n_common"], one["n_entry"], one["n_published"]) == (1, 1, 108)
    reference = published.set_index("target").loc[target["target"].iloc[0], "auroc"]
    assert one["macro_published"] == pytest.approx(reference)  # the published row over that one target
    assert one["macro_published"] != pytest.approx(published["auroc"].mean())
    assert common.loc[(TASK, "transformer/small-with-a-long-preset-name"), "n_common"] == 107  # a NaN
    assert common.loc[(FORECAST, "ecg_features"), "n_common"] == 0
    assert np.isnan(common.loc[(FORECAST, "ecg_features"), "diff"])
    summary = re.search(rf'<table class="sortable" id="summary-{TASK}">.*?</table>', html, re.S).group(0)
    row = re.search(r'<tr class="published">.*?</tr>', summary, re.S).group(0)
    assert '<td class="num" data-v="">see common targets</td>' in row  # no 108-target macro beside ours
    assert f'id="common-{TASK}"' in html and "Against the published rows, over common targets" in html


def test_each_interval_method_is_explained_in_one_line(html: str) -> None:
    recorded = [
        metrics.CLUSTERED_CI,
        metrics.CLUSTERED_TEST,
        metrics.DELONG_CI,
        "bootstrap by patient (stored)",
        "paired bootstrap by patient (stored resamples)",
        "published",
        "best",
    ]
    lines = dict(method_lines(recorded))
    assert list(lines) == ["clustered DeLong", "bootstrap by patient", "DeLong", "as published"]
    assert "each patient has one anchor" in lines["DeLong"] and "Obuchowski" in lines["clustered DeLong"]
    methods = re.search(r'<ul class="methods">(.*?)</ul>', html, re.S).group(1)
    assert methods.count("<li>") == 3 and "<b>clustered DeLong</b>" in methods


def test_sections_show_only_with_rows(board: Leaderboard, html: str) -> None:
    for heading in ("Calibration", "Reliability diagrams", "AUROC by subgroup", "Lab values as regression"):
        assert html.count(f"<h3>{heading}</h3>") == 1  # the first task has rows, the second none
    assert "equal-width, 10 bins" in html and "9 positive patients, below the minimum of 10" in html
    subgroups = re.search(r'<table class="sortable" id="subgroups-.*?</table>', html, re.S).group(0)
    assert subgroups.count('<tr class="refused">') == 3 * 40  # the 80+ group of each entry and target
    assert "Negative patients" not in subgroups and "Seed</th>" not in subgroups  # empty columns left out
    # a run folder without the files: its stated reason under the heading, not a row of the table
    assert (
        f"<li>ecg_features: {NO_CALIBRATION}</li>" in html
        and f"<li>ecg_features: {NO_SUBGROUPS}</li>" in html
    )
    assert NO_CALIBRATION not in re.search(r'id="calibration-.*?</table>', html, re.S).group(0)
    regression = re.search(r'<table class="sortable" id="regression-.*?</table>', html, re.S).group(0)
    assert "AUROC (task threshold)" in regression and "AUROC (CardioLab)" in regression
    bare = render_html(realistic_board(extra_tables=False))
    assert "<h3>Calibration</h3>" not in bare and 'class="reliability' not in bare
    assert "AUROC by subgroup" not in bare and "Lab values as regression" not in bare


def test_reliability_diagrams_have_the_diagonal_and_every_point_inside(board: Leaderboard) -> None:
    figures = {f.name: f for f in board_figures(board)}
    assert set(figures) == {
        f"forest-{TASK}",
        f"heatmap-{TASK}",
        f"reliability-{TASK}",
        f"forest-{FORECAST}",
        f"heatmap-{FORECAST}",
        "curve-cardiolab_forecast_{m}min-horizon",
    }
    reliability = figures[f"reliability-{TASK}"].panels[0]
    assert reliability.body.count('stroke-dasharray="3,3"') == 40  # one diagonal per target panel
    for fig in figures.values():
        for panel in fig.panels:
            for cx, cy, r in re.findall(r'<circle cx="([\d.-]+)" cy="([\d.-]+)" r="([\d.]+)"', panel.body):
                x, y, radius = float(cx), float(cy), float(r)
                assert radius <= x <= panel.width - radius and radius <= y <= panel.height - radius, fig.name


def test_columns_a_table_lacks_are_left_out(board: Leaderboard) -> None:
    rows = board.targets[board.targets["task"] == FORECAST]
    full = targets_table(FORECAST, rows)
    assert "Clustered CI (by patient)" in full and "Paired p" in full and "Patients" in full
    assert "DeLong CI" not in full  # no row holds a DeLong interval (patients repeat)
    older = rows.drop(
        columns=["clustered_low", "clustered_high", "clustered_method", "paired_p", "n_patients"]
    )
    reduced = targets_table(FORECAST, older)
    assert "Clustered CI" not in reduced and "Paired p" not in reduced and "DeLong p" in reduced
    assert reduced.count("<tr") == full.count("<tr")


def test_figures_are_written_as_standalone_svg_files(board: Leaderboard, tmp_path: Path) -> None:
    paths = write_figures(board, tmp_path)
    assert len(paths) == 6 and all(p.parent == tmp_path and p.suffix == ".svg" for p in paths.values())
    for path in paths.values():
        root = ET.parse(path).getroot()  # well-formed XML
        assert root.tag == f"{SVG}svg" and root.get("viewBox", "").startswith("0 0 ")
    forest = ET.parse(tmp_path / f"forest-{TASK}.svg").getroot()
    assert len(forest.findall(f"{SVG}g")) == 2  # the axis header and the plot, stacked
    assert not list(tmp_path.glob(".*.tmp"))
    text = standalone_svg(board_figures(board)[0])
    assert LONG[:40] in text  # the legend names the entry (cut with an ellipsis, in full in its title)


def test_markdown_has_common_targets_methods_and_sections(board: Leaderboard) -> None:
    text = render_markdown(board)
    assert "| ecg_features | AnyECG-Lab (published, not re-run) | 1 |" in text
    assert "see common targets" in text and "- **clustered DeLong**:" in text
    assert "Calibration (Brier score; ECE with its binning):" in text and "refused: 9 positive" in text
    assert "Lab values as regression" in text and f"- ecg_features: {NO_CALIBRATION}" in text
    bare = render_markdown(realistic_board(extra_tables=False))
    assert "Calibration (Brier" not in bare and "AUROC by subgroup" not in bare

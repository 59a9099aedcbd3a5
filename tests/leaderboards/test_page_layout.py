"""The leaderboard page in headless Chromium, measured, at window widths of 1,280, 1,400 and 1,920 px: a
realistic page (four entries with long names, 108 targets with AUROC 1.0, 0.0 and NaN among them, the
published AnyECG-Lab and CardioLab rows, calibration, subgroup and regression tables) never scrolls
sideways, keeps every figure inside the window and every mark and label inside its figure, draws the
forest plot across the page with an axis header that stays at the top, makes heat-map cells large enough
to hover, and exports a figure as SVG and PNG. Skipped only where chromium is not installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from page_boards import TASK, realistic_board
from page_browser import EXPORT_PROBE, chromium, measure, run_script

from ecglab.leaderboards.render_html import render_html

WIDTHS = (1280, 1400, 1920)
# WCAG 2.2 success criterion 2.5.8 (Target Size, Minimum): a pointer target of at least 24 x 24 CSS px
MIN_CELL_PX = 24


@pytest.fixture(scope="module")
def browser() -> str:
    found = chromium()
    if found is None:
        pytest.skip(
            "chromium is not installed (apt-get install -y chromium): the page layout check is skipped"
        )
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "index.html"
    path.write_text(render_html(realistic_board()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def boxes(browser: str, page: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    return measure(browser, page, list(WIDTHS), tmp_path_factory.mktemp("measure"))


def test_nothing_widens_the_page(boxes: dict[int, dict[str, Any]]) -> None:
    for width, m in boxes.items():
        assert m["innerWidth"] == width
        view = m["clientWidth"]  # the window less its vertical scroll bar
        assert m["scrollWidth"] <= view, f"the page scrolls sideways at {width} px"
        assert len(m["figures"]) >= 8
        for fig in m["figures"]:
            assert fig["box"]["left"] >= 0 and fig["box"]["right"] <= view + 0.5, (width, fig["cls"])
        assert len(m["tables"]) >= 9
        for t in m["tables"]:
            assert t["holder"]["left"] >= 0 and t["holder"]["right"] <= view + 0.5, (width, t["id"])
            if t["table"]["width"] > t["holder"]["width"] + 0.5:  # a wide table scrolls in its own box
                assert t["overflow"] in ("auto", "scroll"), (width, t["id"])
        summary = next(t for t in m["tables"] if t["id"] == f"summary-{TASK}")
        assert summary["table"]["width"] <= summary["holder"]["width"] + 0.5  # the main table fits


def test_forest_plot_spans_the_page_with_an_axis_that_stays_on_top(boxes: dict[int, dict[str, Any]]) -> None:
    for width, m in boxes.items():
        forest = next(f for f in m["figures"] if f["cls"] == "forest wide" and f["task"] == TASK)
        assert forest["box"]["width"] >= 0.9 * m["content"], width
        sticky = m["sticky"]  # measured after scrolling to the middle of the plot
        assert sticky["position"] == "sticky"
        assert sticky["body"]["top"] < 0 < sticky["body"]["bottom"]
        assert abs(sticky["head"]["top"]) <= 0.5 and sticky["head"]["width"] == pytest.approx(
            sticky["body"]["width"]
        )


def test_no_mark_or_label_outside_its_figure(boxes: dict[int, dict[str, Any]], page: Path) -> None:
    text = page.read_text()
    assert 'data-auroc="1.0"' in text and 'data-auroc="0.0"' in text  # marks at both ends of the axis
    for width, m in boxes.items():
        forest = next(f for f in m["figures"] if f["cls"] == "forest wide" and f["task"] == TASK)
        assert forest["points"] >= 3 * 108 + 108 - 1  # each defined AUROC (one NaN), published included
        assert m["points_outside"] == [], width
        assert m["texts_outside"] == [], width


def test_heat_map_cells_are_large_enough_to_hover(boxes: dict[int, dict[str, Any]]) -> None:
    for width, m in boxes.items():
        cells = m["cells"]
        assert cells["count"] == 5 * 108 + 5 * 5  # entries x targets of both tasks, published included
        assert cells["min_width"] >= MIN_CELL_PX and cells["min_height"] >= MIN_CELL_PX, (width, cells)


def test_a_figure_downloads_as_svg_and_png(browser: str, page: Path, tmp_path: Path) -> None:
    out = run_script(browser, page, tmp_path, EXPORT_PROBE)
    assert out["name"] == f"forest-{TASK}"
    assert out["n_svg"] == 3  # one SVG holding the axis header and the plot, stacked
    assert out["svg_start"].startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 ')
    assert out["png_start"] == "data:image/png;base64," and out["png_length"] > 10_000
    assert (out["png_width"], out["png_height"]) == (2 * out["svg_width"], 2 * out["svg_height"])

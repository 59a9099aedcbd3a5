"""The leaderboard's pages from fixture result files: Markdown shows AUROC with its interval; published rows
are present and labelled, and an inverted published interval is flagged, not swapped; the command writes
every file; the HTML renders and sorts in a real browser."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import TARGETS, TASK, read_table, run_cli, run_results
from page_browser import browser_command, chromium

from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
from ecglab.leaderboards.formatting import fmt_auroc


def test_markdown_shows_auroc_with_interval(runs: Path, board_dir: Path) -> None:
    text = (board_dir / "leaderboard.md").read_text()
    results = run_results(runs, "ecgfounder")
    for target in TARGETS:
        r = results.loc[target]
        expected = f"{r['auroc']:.3f} [{r['auroc_low']:.3f}-{r['auroc_high']:.3f}]"
        assert expected in text
    summary = read_table(board_dir, "summary.csv").set_index("entry")
    top = summary.loc["ecgfounder/tiny"]
    assert fmt_auroc(top["macro_auroc"], top["macro_auroc_low"], top["macro_auroc_high"]) in text
    assert re.search(r"\| 1 \| ecgfounder/tiny \| ecglab \| \d\.\d{3} \[\d\.\d{3}-\d\.\d{3}\] \|", text)
    assert "AnyECG-Lab (published, not re-run)" in text and "*published*" in text


# ------------------------------------------------------------------------------------------------ published
def test_published_rows_are_present_and_labelled(board_dir: Path, runs: Path) -> None:
    summary = read_table(board_dir, "summary.csv")
    published = summary[summary["source"] == "published"]
    assert list(published["entry"]) == ["AnyECG-Lab (published, not re-run)"]
    row = published.iloc[0]
    assert row["task"] == TASK and row["n_targets"] == 108
    assert (row["n_auroc_ge_065"], row["n_auroc_055_065"], row["n_auroc_lt_055"]) == (33, 58, 17)
    assert np.isnan(row["macro_auroc_low"]) and "not re-run" in row["note"]
    assert np.isnan(row["rank"])
    targets = read_table(board_dir, "targets.csv")
    potassium = targets[(targets["source"] == "published") & (targets["target"] == "potassium_low")].iloc[0]
    assert (potassium["auroc"], potassium["auroc_low"], potassium["auroc_high"]) == (0.713, 0.712, 0.715)
    assert potassium["label"] == "published, not re-run"
    html = (board_dir / "index.html").read_text()
    assert "AnyECG-Lab (published, not re-run)" in html and 'class="published' in html
    # one file, nothing fetched (url(#id) refers to a pattern or gradient inside the page)
    assert not re.search(r"src=|href=\"?https?:|@import|url\((?!#)|@font-face", html)

    bare = build_leaderboard([runs], published=False)
    assert (bare.summary["source"] == "ecglab").all() and (bare.targets["source"] == "ecglab").all()


def test_an_inverted_published_interval_is_flagged_not_swapped(tmp_path: Path) -> None:
    board = build_leaderboard([], title="published only")
    targets = board.targets
    flagged = targets[targets["ci_inverted"].fillna(False)]
    assert len(flagged) == 1
    row = flagged.iloc[0]
    assert row["task"] == "cardiolab_forecast_30min" and row["lab"] == "Bicarbonate"
    assert (row["auroc"], row["auroc_low"], row["auroc_high"]) == (0.722, 0.763, 0.681)
    assert "kept as published" in row["issues"]
    assert any("Bicarbonate" in n and "0.763-0.681" in n for n in board.notes)
    summary = board.summary.set_index(["task", "entry"])
    assert (
        summary.loc[("cardiolab_forecast_30min", "CardioLab (published, not re-run)"), "n_ci_inverted"] == 1
    )
    paths = write_leaderboard(board, tmp_path / "published")
    assert "0.722 [0.763-0.681] !" in paths["markdown"].read_text()
    html = paths["html"].read_text()
    assert 'class="published inverted"' in html and "kept as published" in html


# ------------------------------------------------------------------------------------------------ command
def test_leaderboard_command_writes_every_file(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "leaderboards" / "demo"
    assert run_cli(["leaderboard", str(runs), "--out", str(out), "--no-published"]) == 0
    printed = capsys.readouterr()
    assert "ecgfounder/tiny" in printed.out and "refused" in printed.err
    names = {p.name for p in out.iterdir()}
    tables = ("summary", "targets", "comparisons", "curves", "refused")
    tables += ("calibration", "reliability", "subgroups", "regression", "leads", "external")
    expected = {f"{t}.csv" for t in tables} | {"leaderboard.md", "index.html"}
    figures = {n for n in names if n.endswith(".svg")}  # the figures for a paper, where board.py writes them
    assert names - figures == expected
    assert figures <= {f"forest-{TASK}.svg", f"heatmap-{TASK}.svg", f"reliability-{TASK}.svg"}
    assert "# demo" in (out / "leaderboard.md").read_text()
    assert "published" not in set(pd.read_csv(out / "summary.csv")["source"])


# ------------------------------------------------------------------------------------------------ browser
class _Rows(HTMLParser):
    """data-v of one column of a table's body rows, in DOM order."""

    def __init__(self, table_id: str, column: int) -> None:
        super().__init__()
        self.table_id, self.column = table_id, column
        self.inside = self.in_body = False
        self.cell = -1
        self.values: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.cell = -1
        elif self.in_body and tag == "td":
            self.cell += 1
            if self.cell == self.column:
                self.values.append(attributes.get("data-v"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.inside:
            self.inside = self.in_body = False


def test_html_renders_tables_and_plots_and_sorts_in_a_browser(board_dir: Path, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium): the browser check is skipped")
    table = f"targets-{TASK}"
    url = (board_dir / "index.html").resolve().as_uri() + f"#sort={table}:3:desc"
    command = [*browser_command(browser, tmp_path / "profile", 1400), "--dump-dom", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    dom = done.stdout
    assert "<table" in dom, done.stderr[-2000:]
    assert f'id="summary-{TASK}"' in dom and f'id="{table}"' in dom
    forest = re.search(r'<svg class="forest wide".*?</svg>', dom, re.S)
    heatmap = re.search(r'<svg class="heatmap wide".*?</svg>', dom, re.S)
    assert forest and heatmap
    # 4 own entries x 5 targets, plus the published AnyECG-Lab rows of the same targets (and the rest)
    assert forest.group(0).count('class="mark"') >= 4 * len(TARGETS)
    assert heatmap.group(0).count('class="cell"') >= 4 * len(TARGETS)
    # the URL hash clicked the AUROC header twice: ascending, then descending
    assert f'data-last-sort="{table}:3:descending"' in dom
    assert 'aria-sort="descending"' in dom
    rows = _Rows(table, 3)
    rows.feed(dom)
    values = [float(v) for v in rows.values if v]
    assert len(values) > 20 and values == sorted(values, reverse=True)
    original = _Rows(table, 3)
    original.feed((board_dir / "index.html").read_text())
    assert [float(v) for v in original.values if v] != values  # the page was not already in that order

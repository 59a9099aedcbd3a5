"""The leaderboard's lead table: per base task and entry, the single-lead variants' AUROCs side by side with
the base task's own input, a macro row over the targets every lead column keeps; rendered as Markdown and
HTML only when it has rows; and built from run folders of the registered variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import COHORT, OTHER_COHORT, TARGETS, task_labels, write_run

from ecglab.leaderboards.board import build_leaderboard
from ecglab.leaderboards.lead_table import lead_grids, lead_order, lead_table
from ecglab.leaderboards.render_html import render_html
from ecglab.leaderboards.render_markdown import render_markdown
from ecglab.leaderboards.tables import (
    COMPARISON_COLUMNS,
    LEAD_COLUMNS,
    REFUSED_COLUMNS,
    SUMMARY_COLUMNS,
    TARGET_COLUMNS,
    Leaderboard,
    table_frame,
)
from ecglab.leaderboards.task_info import TaskInfo
from ecglab.tasks.registry import get_task

BASE = "cardiolab_est_60min"
S4, FOUNDER = "s4/full", "ecgfounder/full_1lead"


def _info(name: str) -> TaskInfo:
    spec = get_task(name)
    return TaskInfo(name, spec.kind, "window", 60.0, None, spec.tags, "t", tuple(spec.input.leads))


def _row(task: str, entry: str, target: str, auroc: float, **changes: Any) -> dict[str, Any]:
    low, high = (auroc - 0.05, auroc + 0.05) if not np.isnan(auroc) else (np.nan, np.nan)
    row = dict(task=task, cohort_hash=COHORT, source="ecglab", entry=entry, target=target, n_seeds=3)
    row.update(label="", ci_note="", issues="")
    return {**row, "auroc": auroc, "auroc_low": low, "auroc_high": high, **changes}


# s4 on the 12-lead base and leads I and II (lead II leaves t3 undefined); ECGFounder on leads I and II
AUROCS = {
    (BASE, S4): (0.80, 0.70, 0.60),
    (f"{BASE}_lead_I", S4): (0.70, 0.60, 0.50),
    (f"{BASE}_lead_II", S4): (0.74, 0.66, np.nan),
    (f"{BASE}_lead_I", FOUNDER): (0.72, 0.62, 0.52),
    (f"{BASE}_lead_II", FOUNDER): (0.76, 0.64, 0.56),
}


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    rows = [
        _row(task, entry, f"t{j + 1}", auroc)
        for (task, entry), values in AUROCS.items()
        for j, auroc in enumerate(values)
    ]
    rows.append(_row(BASE, "published study", "t1", 0.9, source="published"))  # not a run: left out
    rows.append(_row("cardiolab_forecast_30min", S4, "t1", 0.7))  # no lead variant: left out
    targets = table_frame(rows, TARGET_COLUMNS)
    names = [BASE, f"{BASE}_lead_I", f"{BASE}_lead_II", "cardiolab_forecast_30min"]
    return lead_table(targets, {name: _info(name) for name in names})


def _cell(table: pd.DataFrame, entry: str, target: str, lead: str) -> pd.Series:
    match = table[(table["entry"] == entry) & (table["target"] == target) & (table["lead"] == lead)]
    assert len(match) == 1, (entry, target, lead)
    return match.iloc[0]


def test_leads_sit_side_by_side_with_the_base_input(leads: pd.DataFrame) -> None:
    assert list(leads.columns) == LEAD_COLUMNS
    assert set(leads["base_task"]) == {BASE} and set(leads["task"]) == {
        BASE,
        f"{BASE}_lead_I",
        f"{BASE}_lead_II",
    }
    assert lead_order(leads) == ["I", "II", "12-lead"]
    assert not (leads["entry"] == "published study").any()
    assert _cell(leads, S4, "t2", "I")["auroc"] == pytest.approx(0.60)
    assert _cell(leads, S4, "t2", "I")["auroc_low"] == pytest.approx(0.55)
    assert _cell(leads, S4, "t1", "12-lead")["task"] == BASE
    assert _cell(leads, FOUNDER, "t3", "II")["n_seeds"] == 3
    # ECGFounder did not run the 12-lead base: no such row
    assert set(leads.loc[leads["entry"] == FOUNDER, "lead"]) == {"I", "II"}


def test_macro_is_the_mean_over_targets_every_lead_column_keeps(leads: pd.DataFrame) -> None:
    # s4: lead II has no AUROC for t3, so every s4 column is averaged over t1 and t2
    for lead, expected in (("I", 0.65), ("II", 0.70), ("12-lead", 0.75)):
        macro = _cell(leads, S4, "macro", lead)
        assert macro["auroc"] == pytest.approx(expected)
        assert macro["n_targets"] == 2 and np.isnan(macro["auroc_low"])
        assert "2 targets" in macro["note"]
    # ECGFounder's two columns keep all three targets
    assert _cell(leads, FOUNDER, "macro", "II")["auroc"] == pytest.approx(np.mean([0.76, 0.64, 0.56]))
    assert _cell(leads, FOUNDER, "macro", "II")["n_targets"] == 3


def test_no_variants_no_rows_and_a_base_on_another_cohort_stands_apart() -> None:
    base_only = table_frame([_row(BASE, S4, "t1", 0.8)], TARGET_COLUMNS)
    assert lead_table(base_only, {BASE: _info(BASE)}).empty
    rows = [_row(f"{BASE}_lead_aVR", S4, "t1", 0.6), _row(BASE, S4, "t1", 0.8, cohort_hash=OTHER_COHORT)]
    infos = {name: _info(name) for name in (BASE, f"{BASE}_lead_aVR")}
    table = lead_table(table_frame(rows, TARGET_COLUMNS), infos)
    assert set(table["lead"]) == {"aVR"} and set(table["cohort_hash"]) == {COHORT}


def test_a_single_lead_base_is_marked_beside_the_variant_of_its_lead() -> None:
    base = "anyecg_lab_est_60min"
    rows = [
        _row(base, S4, "t1", 0.7),
        _row(f"{base}_lead_II", S4, "t1", 0.7),
        _row(f"{base}_lead_I", S4, "t1", 0.6),
    ]
    infos = {name: _info(name) for name in (base, f"{base}_lead_I", f"{base}_lead_II")}
    table = lead_table(table_frame(rows, TARGET_COLUMNS), infos)
    assert lead_order(table) == ["I", "II", "II (base)"]


def _board(leads: pd.DataFrame) -> Leaderboard:
    return Leaderboard(
        title="leads",
        summary=table_frame([], SUMMARY_COLUMNS),
        targets=table_frame([], TARGET_COLUMNS),
        comparisons=table_frame([], COMPARISON_COLUMNS),
        curves=pd.DataFrame(),
        refused=pd.DataFrame(columns=REFUSED_COLUMNS),
        notes=[],
        leads=leads,
    )


def test_markdown_and_html_render_a_column_per_lead(leads: pd.DataFrame) -> None:
    (grid,) = lead_grids(leads)
    assert grid.rows[0][:2] == (S4, "macro") and [r[:2] for r in grid.rows].count((FOUNDER, "macro")) == 1
    text = render_markdown(_board(leads))
    assert "## Lead ablations" in text
    assert "| Backbone | Target | I | II | 12-lead |" in text
    assert f"| {S4} | macro | 0.650 (2 targets) | 0.700 (2 targets) | 0.750 (2 targets) |" in text
    assert f"| {FOUNDER} | t1 | 0.720 [0.670-0.770] | 0.760 [0.710-0.810] |  |" in text
    page = render_html(_board(leads))
    assert '<section id="leads">' in page
    assert '<th data-type="num" tabindex="0" scope="col">12-lead</th>' in page
    assert page.count('<tr class="own">') == len(grid.rows)
    empty = _board(table_frame([], LEAD_COLUMNS))
    assert "Lead ablations" not in render_markdown(empty) and 'id="leads"' not in render_html(empty)


def test_the_board_of_variant_runs_has_the_lead_table_and_no_variant_on_a_curve(tmp_path: Path) -> None:
    runs, data = tmp_path / "runs", task_labels()
    base = "anyecg_lab_est_60min"
    for task in (base, "anyecg_lab_est_30min", f"{base}_lead_I", f"{base}_lead_II", f"{base}_lead_aVR"):
        write_run(runs, "s4", task=task, data=data)
    board = build_leaderboard([runs], published=False)
    assert lead_order(board.leads) == ["I", "II", "aVR", "II (base)"]
    # the lead-II variant trains as the base does, but is no point of the window curve
    assert set(board.curves["task"]) == {base, "anyecg_lab_est_30min"}
    assert set(board.leads["target"]) == {"macro", *TARGETS}
    assert (board.leads.loc[board.leads["target"] == "macro", "n_targets"] == len(TARGETS)).all()

"""The leaderboard's regression rows: a run trained on the lab values stands beside the classification runs
of its task (its own entry, named with its objective), and its regression.parquet and
regression_thresholds.parquet become rows of the regression table; a regression run folder without them is a
row with the reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from leaderboard_fixtures import TARGETS, task_labels, write_run

from ecglab.bench.run_folder import read_record, write_record
from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
from ecglab.leaderboards.tables import REGRESSION_COLUMNS


def _as_regression(run_dir: Path, objective: str) -> None:
    record = read_record(run_dir)
    write_record(run_dir, record.replace(config=replace(record.config, objective=objective)))


def _regression_files(run_dir: Path) -> pd.DataFrame:
    rows, thresholds = [], []
    for j, target in enumerate(TARGETS):
        for split in ("val", "test"):
            rows.append(
                {
                    "target": target,
                    "lab": target.rsplit("_", 1)[0].upper(),
                    "split": split,
                    "objective": "gaussian_nll",
                    "transform": "log",
                    "n": 50 + j,
                    "n_patients": 20 + j,
                    "mae": 0.1 * (j + 1) + (split == "val"),
                    "spearman": 0.5 - 0.05 * j,
                    "unit": "mmol/L",
                    "center": 1.0,
                    "scale": 0.2,
                }
            )
            for source, threshold, auroc in (
                ("task", 5.0, 0.7),
                ("anyecg_lab", 5.0, 0.7),
                ("cardiolab", 5.2, 0.65),
            ):
                thresholds.append(
                    {
                        "target": target,
                        "split": split,
                        "source": source,
                        "direction": "high",
                        "threshold": threshold + j,
                        "n": 50,
                        "n_pos": 10,
                        "auroc": auroc - 0.01 * j,
                    }
                )
    table = pd.DataFrame(rows)
    table.to_parquet(run_dir / "regression.parquet", index=False)
    pd.DataFrame(thresholds).to_parquet(run_dir / "regression_thresholds.parquet", index=False)
    return table


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    runs_dir = tmp_path_factory.mktemp("regression_board") / "runs"
    data = task_labels()
    write_run(runs_dir, "ecgfounder", data=data)
    write_run(runs_dir, "s4", data=data)
    nll = write_run(runs_dir, "s4", seed=1, data=data)  # another seed: another run id, the same task
    _as_regression(nll, "gaussian_nll")
    table = _regression_files(nll)
    older = write_run(runs_dir, "transformer", data=data, label="values")
    _as_regression(older, "mse")
    board = build_leaderboard([runs_dir], published=False)
    return board, table, runs_dir


def test_regression_entries_stand_beside_the_classification_entries_of_their_task(board: tuple) -> None:
    leaderboard, _, _ = board
    entries = set(leaderboard.summary["entry"])
    assert {
        "s4/tiny",
        "s4/tiny [gaussian_nll]",
        "transformer/tiny [values] [mse]",
        "ecgfounder/tiny",
    } <= entries
    assert leaderboard.summary["task"].nunique() == 1  # one task: comparable, paired on the same resamples
    nll = leaderboard.summary.set_index("entry").loc["s4/tiny [gaussian_nll]"]
    assert nll["n_seeds"] == 1 and pd.notna(nll["macro_auroc"])


def test_regression_rows_are_the_run_folders_test_rows(board: tuple) -> None:
    leaderboard, table, _ = board
    regression = leaderboard.regression
    assert list(regression.columns) == REGRESSION_COLUMNS
    rows = regression[regression["entry"] == "s4/tiny [gaussian_nll]"].set_index("target")
    test = table[table["split"] == "test"].set_index("target")
    assert list(rows.index) == TARGETS
    pd.testing.assert_series_equal(rows["mae"], test["mae"], check_names=False)
    assert (rows["spearman"] == test["spearman"]).all() and (rows["n_patients"] == test["n_patients"]).all()
    assert rows.loc["potassium_low", "auroc_cardiolab"] == pytest.approx(0.65)
    assert rows.loc["potassium_high", "threshold_cardiolab"] == pytest.approx(6.2)
    assert rows.loc["potassium_low", "auroc_task"] == pytest.approx(0.7)
    assert (rows["objective"] == "gaussian_nll").all() and (rows["note"] == "").all()


def test_a_regression_run_without_the_files_is_a_row_with_the_reason(board: tuple) -> None:
    leaderboard, _, _ = board
    regression = leaderboard.regression
    older = regression[regression["entry"] == "transformer/tiny [values] [mse]"]
    assert len(older) == 1 and "no regression.parquet" in older.iloc[0]["note"]
    assert not regression["entry"].isin(["s4/tiny", "ecgfounder/tiny"]).any()  # classification: no rows


def test_the_regression_table_is_written_as_csv(board: tuple, tmp_path: Path) -> None:
    leaderboard, _, _ = board
    paths = write_leaderboard(leaderboard, tmp_path / "out")
    written = pd.read_csv(paths["regression"])
    assert len(written) == len(leaderboard.regression) and set(written["entry"]) == set(
        leaderboard.regression["entry"]
    )

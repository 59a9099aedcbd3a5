"""The leaderboard's subgroup table: the rows of every run's ``subgroups.parquet``, one row per run (an
entry's seeds side by side, in seed order), and runs without a usable file listed with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import TASK, task_labels, write_run

from ecglab.bench.subgroup_files import SUBGROUP_FILE_COLUMNS, SUBGROUPS_FILE
from ecglab.leaderboards.board import build_leaderboard
from ecglab.leaderboards.subgroup_table import NO_FILE
from ecglab.leaderboards.tables import SUBGROUP_COLUMNS


def _rows(auroc: float) -> pd.DataFrame:
    """Two groups of one target: one with an AUROC, one refused below the patient minimum."""
    return pd.DataFrame(
        [
            [
                "potassium_low",
                "sex",
                "F",
                40,
                12,
                20,
                11,
                15,
                auroc,
                auroc - 0.1,
                auroc + 0.1,
                "clustered",
                "",
            ],
            [
                "potassium_low",
                "sex",
                "M",
                30,
                5,
                16,
                4,
                14,
                np.nan,
                np.nan,
                np.nan,
                "",
                "4 positive patients",
            ],
        ],
        columns=SUBGROUP_FILE_COLUMNS,
    )


@pytest.fixture(scope="module")
def board_subgroups(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    runs = tmp_path_factory.mktemp("subgroup_board") / "runs"
    data = task_labels()
    for seed, auroc in ((1, 0.8), (0, 0.7)):  # written out of seed order
        _rows(auroc).to_parquet(write_run(runs, "s4", seed=seed, data=data) / SUBGROUPS_FILE)
    write_run(runs, "transformer", data=data)  # evaluated before subgroup results
    broken = write_run(runs, "ecgfounder", data=data)
    _rows(0.9).drop(columns="n_neg_patients").to_parquet(broken / SUBGROUPS_FILE)
    return build_leaderboard([runs], published=False).subgroups


def test_each_run_gives_its_rows_with_its_seed(board_subgroups: pd.DataFrame) -> None:
    assert list(board_subgroups.columns) == SUBGROUP_COLUMNS
    s4 = board_subgroups[board_subgroups["entry"].str.startswith("s4")]
    assert s4["seed"].tolist() == [0, 0, 1, 1]
    assert s4["auroc"].tolist()[::2] == [0.7, 0.8] and s4["auroc"].isna().tolist()[1::2] == [True, True]
    assert (s4["task"] == TASK).all() and s4["group"].tolist() == ["F", "M", "F", "M"]
    assert s4["refused_reason"].tolist()[1] == "4 positive patients"
    assert s4["n_neg_patients"].dtype == "Int64" and s4["n_neg_patients"].tolist() == [15, 14, 15, 14]


def test_runs_without_a_usable_file_are_one_row_with_the_reason(board_subgroups: pd.DataFrame) -> None:
    other = board_subgroups[~board_subgroups["entry"].str.startswith("s4")].set_index("entry")
    assert len(other) == 2 and (other["target"] == "").all() and other["auroc"].isna().all()
    reasons = sorted(other["refused_reason"])
    assert reasons[0] == NO_FILE
    assert reasons[1] == "subgroups.parquet lacks columns ['n_neg_patients']"


def test_no_runs_give_an_empty_table_of_the_columns(tmp_path: Path) -> None:
    from ecglab.leaderboards.subgroup_table import subgroup_table

    empty = subgroup_table({})
    assert empty.empty and list(empty.columns) == SUBGROUP_COLUMNS

"""The fixture runs shared by the leaderboard tests: four backbones on one task (s4 with two seeds), a failed
run and a validation-only run, and the leaderboard built from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fixtures import task_labels, write_run

from ecglab.leaderboards.board import build_leaderboard, write_leaderboard


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four backbones on one task (s4 with two seeds), plus a failed run and a validation-only run."""
    runs_dir = tmp_path_factory.mktemp("lb") / "runs"
    data = task_labels()
    for backbone in ("ecgfounder", "transformer", "ecg_features"):
        write_run(runs_dir, backbone, data=data)
    for seed in (0, 1):
        write_run(runs_dir, "s4", seed=seed, data=data)
    write_run(runs_dir, "s4", seed=7, data=data, status="failed")
    write_run(runs_dir, "transformer", seed=5, data=data, evaluate_test=False, label="trial")
    return runs_dir


@pytest.fixture(scope="session")
def board_dir(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The leaderboard of ``runs`` with the published rows, written to a folder."""
    out = tmp_path_factory.mktemp("board") / "fixture_board"
    write_leaderboard(build_leaderboard([runs], title="fixture board"), out)
    return out

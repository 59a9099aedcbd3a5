"""The leaderboard's calibration tables: one row per entry x target x method (the seed means of the Brier
score and ECE of the run folders' calibration.parquet), reliability bins pooled over seeds, a note row for a
run folder without the files, and submissions skipped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import TARGETS, TASK, task_labels, write_run

from ecglab.bench import metrics
from ecglab.bench.config import build_run_config
from ecglab.bench.engine.calibration_results import write_calibration
from ecglab.bench.run_folder import read_record, write_record
from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
from ecglab.leaderboards.calibration_tables import calibration_tables
from ecglab.leaderboards.inputs import load_run_folder
from ecglab.leaderboards.tables import CALIBRATION_COLUMNS, RELIABILITY_COLUMNS
from ecglab.tasks.build import TaskData
from ecglab.tasks.registry import get_task


def add_calibration(run_dir: Path, method: str = "none") -> None:
    """The run's calibration files as the engine writes them, from its predictions.parquet."""
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    anchors = predictions.drop_duplicates("anchor_id")[["anchor_id", "patient_id", "split"]]
    anchors = anchors.reset_index(drop=True)
    labels = predictions.pivot(index="anchor_id", columns="target", values="label").loc[anchors["anchor_id"]]
    scores = predictions.pivot(index="anchor_id", columns="target", values="score").loc[anchors["anchor_id"]]
    task = TaskData(
        get_task(TASK),
        "fixture",
        "h" * 64,
        anchors,
        pd.DataFrame({"target": TARGETS, "kept": True}),
        labels[TARGETS].to_numpy(np.int8),
        pd.DataFrame(),
    )
    config = build_run_config({"backbone": "s4", "task": TASK, "cohort": "/c", "calibration": method})
    write_calibration(task, scores[TARGETS].to_numpy(), config, run_dir)


def test_seeds_are_averaged_bins_pooled_and_runs_without_files_noted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    data = task_labels()
    seeds = [write_run(runs, "s4", seed=seed, data=data) for seed in (0, 1)]
    for run_dir in seeds:
        add_calibration(run_dir)
    older = write_run(runs, "ecgfounder", data=data)  # from before calibration: no files
    board = build_leaderboard([runs], published=False)
    calibration, reliability = board.calibration, board.reliability
    assert list(calibration.columns) == CALIBRATION_COLUMNS
    assert list(reliability.columns) == RELIABILITY_COLUMNS
    noted = calibration[calibration["entry"] == "ecgfounder/tiny"]
    assert len(noted) == 1 and "no calibration.parquet" in noted["note"].iloc[0]
    assert read_record_id(older)[:16] in noted["note"].iloc[0]
    s4 = calibration[calibration["entry"] == "s4/tiny"].set_index("target")
    assert list(s4.index) == TARGETS and set(s4["calibration"]) == {"none"}
    per_seed = [pd.read_parquet(r / "calibration.parquet").set_index("target") for r in seeds]
    for target in TARGETS:
        assert s4.loc[target, "brier"] == pytest.approx(np.mean([p.loc[target, "brier"] for p in per_seed]))
        assert s4.loc[target, "ece"] == pytest.approx(np.mean([p.loc[target, "ece"] for p in per_seed]))
        assert s4.loc[target, "n_seeds"] == 2 and s4.loc[target, "ece_bins"] == 10
        assert s4.loc[target, "note"] == "mean over 2 seeds (0;1)"
    # a pooled bin: the test rows of both seeds that fall in it
    pooled_labels, pooled_scores = [], []
    for run_dir in seeds:
        test = pd.read_parquet(run_dir / "predictions.parquet").query(
            "split == 'test' and target == 'sodium_low'"
        )
        pooled_labels.append(test["label"].to_numpy())
        pooled_scores.append(test["score"].to_numpy())
    direct = metrics.reliability_bins(np.concatenate(pooled_labels), np.concatenate(pooled_scores))
    bins = reliability[(reliability["entry"] == "s4/tiny") & (reliability["target"] == "sodium_low")]
    assert list(bins["n"]) == list(direct["n"]) and (bins["n_seeds"] == 2).all()
    np.testing.assert_allclose(bins["mean_score"].to_numpy(float), direct["mean_score"], equal_nan=True)
    np.testing.assert_allclose(bins["observed_rate"].to_numpy(float), direct["observed_rate"], equal_nan=True)
    paths = write_leaderboard(board, tmp_path / "board")
    assert len(pd.read_csv(paths["calibration"])) == len(calibration)
    assert len(pd.read_csv(paths["reliability"])) == len(reliability) == len(TARGETS) * 10


def read_record_id(run_dir: Path) -> str:
    return load_run_folder(run_dir).run_id


def test_fitted_rows_stand_beside_raw_ones_and_submissions_are_skipped(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = write_run(runs, "transformer", data=task_labels())
    add_calibration(run_dir, "isotonic")
    run = load_run_folder(run_dir)
    submitted = dataclasses.replace(load_run_folder(write_run(runs, "s4", data=task_labels())), run_dir=None)
    calibration, reliability = calibration_tables({TASK: [("transformer/tiny", run), ("s4/tiny", submitted)]})
    assert set(calibration["entry"]) == {"transformer/tiny"}  # the submission: no row, no note
    assert list(calibration["calibration"]) == ["none", "isotonic"] * len(TARGETS)
    fitted = calibration[calibration["calibration"] == "isotonic"]
    assert fitted["note"].str.contains("fitted on validation").all() and (fitted["n_seeds"] == 1).all()
    stored = pd.read_parquet(run_dir / "calibration.parquet")
    np.testing.assert_allclose(calibration["brier"].to_numpy(float), stored["brier"].to_numpy(float))
    assert len(reliability) == 2 * len(TARGETS) * 10
    assert calibration_tables({})[0].empty


def test_a_run_whose_files_lack_columns_gives_a_note_row(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "runs", "s4", data=task_labels())
    add_calibration(run_dir)
    pd.read_parquet(run_dir / "calibration.parquet").drop(columns="ece").to_parquet(
        run_dir / "calibration.parquet"
    )
    calibration, reliability = calibration_tables({TASK: [("s4/tiny", load_run_folder(run_dir))]})
    assert len(calibration) == 1 and "lack ece" in calibration["note"].iloc[0]
    assert reliability.empty


def test_an_entry_with_one_seed_lacking_the_files_averages_the_others_and_names_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with_files, without = (write_run(runs, "s4", seed=seed, data=task_labels()) for seed in (0, 1))
    add_calibration(with_files)
    pairs = [("s4/tiny", load_run_folder(with_files)), ("s4/tiny", load_run_folder(without))]
    calibration, _ = calibration_tables({TASK: pairs})
    noted = calibration[calibration["target"] == ""]
    assert len(noted) == 1 and "(seed 1): no calibration.parquet" in noted["note"].iloc[0]
    rows = calibration[calibration["target"] != ""]
    stored = pd.read_parquet(with_files / "calibration.parquet")
    np.testing.assert_allclose(rows["brier"].to_numpy(float), stored["brier"].to_numpy(float))
    assert (rows["n_seeds"] == 1).all() and (rows["note"] == "").all()  # one run read: its own notes


def test_a_recalibrated_entry_is_named_apart_from_the_raw_one(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    raw, fitted = (write_run(runs, "s4", data=task_labels(), label=label) for label in ("", "x"))
    record = read_record(fitted)
    config = dataclasses.replace(record.config, label="", calibration="temperature")
    write_record(fitted, record.replace(config=config))  # the label only kept the run folders apart
    for run_dir, method in ((raw, "none"), (fitted, "temperature")):
        add_calibration(run_dir, method)
    board = build_leaderboard([runs], published=False)
    assert set(board.summary["entry"]) == {"s4/tiny", "s4/tiny [temperature]"}
    methods = board.calibration.groupby("entry")["calibration"].agg(lambda c: sorted(set(c)))
    assert methods.to_dict() == {"s4/tiny": ["none"], "s4/tiny [temperature]": ["none", "temperature"]}

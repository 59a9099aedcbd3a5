"""A run's stored per-resample AUROCs (test_resamples.npz) are what the leaderboard would compute, are used
only when they belong to the run's resamples and test set, and are otherwise recomputed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import TARGETS, run_matrices, write_run

from ecglab.bench.resample_file import (
    RESAMPLE_FILE,
    ResampleAurocs,
    digest_of_test_set,
    read_resample_file,
    resample_aurocs,
    write_resample_file,
)
from ecglab.bench.run_folder import is_run_folder, read_record
from ecglab.leaderboards import resamples
from ecglab.leaderboards.board import build_leaderboard


def _runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    for seed in (0, 1):
        write_run(runs, "ecgfounder", seed=seed)
    write_run(runs, "s4")
    write_run(runs, "ecg_features")
    return runs


def _store_files(runs: Path, **override: object) -> None:
    for run_dir in sorted(p for p in runs.iterdir() if is_run_folder(p)):
        record = read_record(run_dir)
        assert record.bootstrap is not None
        predictions = pd.read_parquet(run_dir / "predictions.parquet")
        test = predictions[predictions["split"] == "test"]
        anchors = pd.unique(test["anchor_id"].to_numpy())
        labels = test.pivot(index="anchor_id", columns="target", values="label").loc[anchors, TARGETS]
        scores = test.pivot(index="anchor_id", columns="target", values="score").loc[anchors, TARGETS]
        counts = np.load(runs / record.bootstrap.file)
        fields = {
            "aurocs": resample_aurocs(labels.to_numpy(np.int8), scores.to_numpy(), counts),
            "bootstrap_file": record.bootstrap.file,
            "n_boot": record.bootstrap.n_boot,
            "seed": record.bootstrap.seed,
            "test_digest": digest_of_test_set(anchors, labels.to_numpy(np.int8)),
            "n_anchors": len(anchors),
            "targets": tuple(TARGETS),
        }
        fields.update(override)
        write_resample_file(run_dir, ResampleAurocs(**fields))  # type: ignore[arg-type]


def _tables(runs: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    board = build_leaderboard([runs], published=False)
    return board.summary, board.targets, board.comparisons


def test_the_file_round_trips_and_a_broken_one_reads_as_absent(tmp_path: Path) -> None:
    data = ResampleAurocs(np.arange(6.0).reshape(2, 3), "tasks/x/b.npy", 3, 0, "d" * 64, 10, ("a", "b"))
    write_resample_file(tmp_path, data)
    back = read_resample_file(tmp_path)
    assert back is not None and np.array_equal(back.aurocs, data.aurocs)
    assert back.targets == ("a", "b") and back.bootstrap_file == "tasks/x/b.npy"
    (tmp_path / RESAMPLE_FILE).write_bytes(b"not a zip")
    assert read_resample_file(tmp_path) is None


def test_stored_aurocs_give_the_same_leaderboard(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    computed = _tables(runs)
    _store_files(runs)
    stored = _tables(runs)
    for a, b in zip(computed, stored, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_stored_aurocs_are_read_not_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = _runs(tmp_path)
    _store_files(runs)
    computed: list[int] = []

    def counting(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
        computed.append(labels.shape[0])
        return resample_aurocs(labels, scores, counts)

    monkeypatch.setattr(resamples, "resample_aurocs", counting)
    summary = _tables(runs)[0]
    assert len(summary) == 3 and summary["macro_auroc_low"].notna().all()
    # only ecgfounder's seed 1, scored on its own seed's resamples, not the task's chosen ones, is recomputed
    assert len(computed) == 1


def test_stored_aurocs_that_contradict_the_results_refuse_the_run(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    _store_files(runs)
    victim = next(
        p for p in sorted(runs.iterdir()) if is_run_folder(p) and read_record(p).config.backbone == "s4"
    )
    stored = read_resample_file(victim)
    assert stored is not None
    write_resample_file(
        victim, ResampleAurocs(**{**stored.__dict__, "aurocs": np.full_like(stored.aurocs, 0.25)})
    )
    board = build_leaderboard([runs], published=False)
    assert not board.summary["entry"].str.startswith("s4").any()
    (reason,) = board.refused["reason"]
    assert reason.startswith("test_resamples.npz: auroc_low/auroc_high are not the interval of the stored")


@pytest.mark.parametrize(
    "override",
    [
        {"bootstrap_file": "tasks/elsewhere/bootstrap_test_seed0_n200.npy"},
        {"targets": tuple(reversed(TARGETS))},
    ],
)
def test_a_file_of_other_resamples_or_targets_is_recomputed(tmp_path: Path, override: dict) -> None:
    runs = _runs(tmp_path)
    computed = _tables(runs)
    _, _, counts = run_matrices(runs, "s4")
    _store_files(runs, aurocs=np.full((len(TARGETS), counts.shape[0]), 0.25), **override)
    for a, b in zip(computed, _tables(runs), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_a_different_test_set_digest_unpairs_the_run(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    _store_files(runs)
    victim = next(
        p for p in sorted(runs.iterdir()) if is_run_folder(p) and read_record(p).config.backbone == "s4"
    )
    stored = read_resample_file(victim)
    assert stored is not None
    write_resample_file(victim, ResampleAurocs(**{**stored.__dict__, "test_digest": "0" * 64}))
    comparisons = _tables(runs)[2]
    s4 = comparisons[comparisons["entry"].str.startswith("s4")]
    assert s4["note"].str.contains("differ from the other runs").any()

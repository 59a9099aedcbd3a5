"""Leaderboards from fixture result files: CSV numbers match the inputs; paired comparisons match a direct
computation over the stored resamples; mixing cohorts or task versions is refused; intervals without
predictions are NaN with the reason; window curves; submission files and malformed run folders as inputs.
Markdown, HTML, published rows and the command are tested in test_leaderboard_pages.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import (
    COHORT,
    OTHER_COHORT,
    TARGETS,
    TASK,
    edit_test_rows,
    read_table,
    run_cli,
    run_matrices,
    run_results,
    task_labels,
    write_run,
)
from sklearn.metrics import roc_auc_score

from ecglab.bench import metrics
from ecglab.bench.run_folder import read_record, write_record
from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
from ecglab.leaderboards.errors import ComparabilityError
from ecglab.leaderboards.submission import SubmissionError
from ecglab.leaderboards.submission_export import export_submission


# ------------------------------------------------------------------------------------------------ tables
def test_csv_numbers_match_the_result_files(runs: Path, board_dir: Path) -> None:
    summary = read_table(board_dir, "summary.csv")
    own = summary[summary["source"] == "ecglab"].set_index("entry")
    assert set(own.index) == {"ecgfounder/tiny", "transformer/tiny", "ecg_features/tiny", "s4/tiny"}
    for column in ("macro_auroc", "macro_auroc_low", "macro_auroc_high", "macro_auroc_sd"):
        assert summary[column].dtype == np.float64, column
    for backbone in ("ecgfounder", "transformer", "ecg_features"):
        results = run_results(runs, backbone)
        row = own.loc[f"{backbone}/tiny"]
        assert row["macro_auroc"] == pytest.approx(results["auroc"].mean(), rel=1e-12)
        assert row["n_targets"] == len(TARGETS) and row["n_seeds"] == 1
        tiers = metrics.tier_counts(results["auroc"].to_numpy())
        assert (row["n_auroc_ge_065"], row["n_auroc_055_065"], row["n_auroc_lt_055"]) == (
            tiers[">=0.65"],
            tiers["0.55-0.65"],
            tiers["<0.55"],
        )
        # macro interval: the mean over targets of per-resample AUROCs on the stored resamples
        labels, scores, counts = run_matrices(runs, backbone)
        per_resample = np.array(
            [metrics.bootstrap_aurocs(labels[:, j], scores[:, j], counts) for j in range(len(TARGETS))]
        ).mean(axis=0)
        used = per_resample[~np.isnan(per_resample)]
        low, high = np.quantile(used, [0.025, 0.975])
        assert (row["macro_auroc_low"], row["macro_auroc_high"]) == pytest.approx((low, high), rel=1e-12)
        assert row["macro_n_boot_used"] == used.size
    seeds = [run_results(runs, "s4", seed) for seed in (0, 1)]
    s4 = own.loc["s4/tiny"]
    per_seed = [s["auroc"].mean() for s in seeds]
    assert s4["n_seeds"] == 2 and s4["seeds"] == "0;1"
    assert s4["macro_auroc"] == pytest.approx(np.mean(per_seed), rel=1e-12)
    assert s4["macro_auroc_sd"] == pytest.approx(np.std(per_seed, ddof=1), rel=1e-12)
    assert own["rank"].min() == 1 and own.loc["ecgfounder/tiny", "rank"] == 1

    targets = read_table(board_dir, "targets.csv")
    mine = targets[(targets["source"] == "ecglab")].set_index(["entry", "target"])
    results = run_results(runs, "ecgfounder")
    labels, scores, _ = run_matrices(runs, "ecgfounder")
    patients = _test_patients()
    clustered = metrics.clustered_matrix(labels, scores, patients)
    s4_scores = [run_matrices(runs, "s4", seed)[1] for seed in (0, 1)]
    for j, target in enumerate(TARGETS):
        row = mine.loc[("ecgfounder/tiny", target)]
        for column in ("auroc", "auroc_low", "auroc_high"):
            assert row[column] == pytest.approx(results.at[target, column], rel=1e-12), column
        # the fixture's run folders predate the clustered columns: the interval comes from the predictions
        for column in ("low", "high", "n_patients", "n_pos_patients"):
            name = column if column.startswith("n_") else f"clustered_{column}"
            assert row[name] == pytest.approx(clustered.at[j, column], rel=1e-12), name
        assert row["clustered_method"] == metrics.CLUSTERED_CI + " (from the test predictions)"
        # two anchors per patient: DeLong's independent-rows interval is not shown
        assert np.isnan(row["delong_low"]) and np.isnan(row["delong_high"])
        assert pd.isna(row["delong_method"]) and not np.isnan(results.at[target, "delong_low"])
        both = mine.loc[("s4/tiny", target)]
        assert both["auroc"] == pytest.approx(np.mean([s.at[target, "auroc"] for s in seeds]), rel=1e-12)
        assert both["auroc_sd"] == pytest.approx(np.std([s.at[target, "auroc"] for s in seeds], ddof=1))
        mean = metrics.clustered_contrast(labels[:, j], [s[:, j] for s in s4_scores], [0.5, 0.5], patients)
        assert both["clustered_low"] == pytest.approx(mean.ci[0], rel=1e-12)
        assert both["clustered_high"] == pytest.approx(mean.ci[1], rel=1e-12)
        assert both["clustered_method"].startswith(metrics.CLUSTERED_CI + " of the mean over seeds")


def _test_patients() -> np.ndarray:
    """The fixture's patient of each test anchor, in task order (the order of run_matrices' rows)."""
    data = task_labels()
    return data["patients"][data["split"] == "test"]


def test_refused_runs_are_listed_with_their_reason(board_dir: Path) -> None:
    refused = read_table(board_dir, "refused.csv")
    reasons = " | ".join(refused["reason"])
    assert len(refused) == 1  # the failed run; a search trial (validation only) is no row and no refusal
    assert "status 'failed'" in reasons and "CUDA out of memory" in reasons
    assert "validation-only" not in reasons


# ------------------------------------------------------------------------------------------------ comparisons
def _direct_paired(labels: np.ndarray, a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUROC(a) - AUROC(b) on every resample, rows written out and scored by scikit-learn."""
    diffs = []
    for c in counts:
        rows = np.repeat(np.arange(len(labels)), c)
        y = labels[rows]
        keep = y != -1
        y = y[keep]
        if y.min() == y.max():
            continue
        diffs.append(roc_auc_score(y, a[rows][keep]) - roc_auc_score(y, b[rows][keep]))
    return np.array(diffs)


def test_paired_comparisons_match_a_direct_computation(runs: Path, board_dir: Path) -> None:
    comparisons = read_table(board_dir, "comparisons.csv")
    per_target = comparisons[comparisons["level"] == "target"].set_index(["target", "entry"])
    targets = read_table(board_dir, "targets.csv").set_index(["entry", "target"])
    labels, best_scores, counts = run_matrices(runs, "ecgfounder")
    for target_index, target in enumerate(TARGETS[:3]):
        row = per_target.loc[(target, "ecg_features/tiny")]
        best = row["best_entry"]
        assert best != "ecg_features/tiny"
        backbone = best.split("/")[0]
        _, best_scores, _ = run_matrices(runs, backbone)
        own_labels, own_scores, _ = run_matrices(runs, "ecg_features")
        diffs = _direct_paired(
            own_labels[:, target_index], own_scores[:, target_index], best_scores[:, target_index], counts
        )
        low, high = np.quantile(diffs, [0.025, 0.975])
        assert row["diff_low"] == pytest.approx(low, abs=1e-12)
        assert row["diff_high"] == pytest.approx(high, abs=1e-12)
        assert row["n_boot_used"] == len(diffs)
        assert bool(row["tied_with_best"]) == bool(low <= 0 <= high)
        clustered = metrics.clustered_test(
            own_labels[:, target_index],
            own_scores[:, target_index],
            best_scores[:, target_index],
            _test_patients(),
        )
        assert row["clustered_p"] == pytest.approx(clustered.p_value, rel=1e-9)
        assert row["clustered_se"] == pytest.approx(clustered.se, rel=1e-9)
        assert (row["clustered_low"], row["clustered_high"]) == pytest.approx(clustered.ci, abs=1e-12)
        assert row["clustered_method"] == metrics.CLUSTERED_TEST
        assert row["diff"] == pytest.approx(clustered.diff, abs=1e-12)
        assert np.isnan(row["delong_p"]) and pd.isna(row["delong_method"])  # patients hold two anchors
        assert per_target.loc[(target, best), "tied_with_best"]
        target_row = targets.loc[("ecg_features/tiny", target)]
        assert target_row["paired_p"] == pytest.approx(clustered.p_value, rel=1e-9)
        assert target_row["paired_p_method"] == metrics.CLUSTERED_TEST
        assert target_row["diff_method"] == "paired bootstrap by patient (stored resamples)"
    # the weak baseline is clearly worse than the best on the macro AUROC; the best is tied with itself
    macro = comparisons[comparisons["level"] == "macro"].set_index("entry")
    assert macro.loc["ecgfounder/tiny", "tied_with_best"] and macro.loc["ecgfounder/tiny", "diff"] == 0
    assert not macro.loc["ecg_features/tiny", "tied_with_best"]
    assert macro.loc["ecg_features/tiny", "diff_high"] < 0
    # two seeds: differences of seed-mean AUROCs on the same resamples
    s4 = per_target.loc[(TARGETS[0], "s4/tiny")]
    if s4["best_entry"] != "s4/tiny":
        best_backbone = s4["best_entry"].split("/")[0]
        _, best_scores, _ = run_matrices(runs, best_backbone)
        vectors = [
            metrics.bootstrap_aurocs(labels[:, 0], run_matrices(runs, "s4", seed)[1][:, 0], counts)
            for seed in (0, 1)
        ]
        diff = np.mean(vectors, axis=0) - metrics.bootstrap_aurocs(labels[:, 0], best_scores[:, 0], counts)
        low, high = np.quantile(diff[~np.isnan(diff)], [0.025, 0.975])
        assert (s4["diff_low"], s4["diff_high"]) == pytest.approx((low, high), abs=1e-12)
        assert np.isnan(s4["delong_p"])
        s4_scores = [run_matrices(runs, "s4", seed)[1][:, 0] for seed in (0, 1)]
        means = metrics.clustered_contrast(
            labels[:, 0], [*s4_scores, best_scores[:, 0]], [0.5, 0.5, -1.0], _test_patients()
        )
        assert s4["clustered_p"] == pytest.approx(means.p_value, rel=1e-9)
        assert s4["clustered_method"] == metrics.CLUSTERED_TEST + " of the means over seeds"


def test_stored_clustered_columns_and_delong_with_one_anchor_per_patient(tmp_path: Path) -> None:
    """Run folders holding the clustered columns (as the engine writes them) are read as stored; with one
    anchor per patient DeLong's interval and paired test are shown, equal to the clustered ones."""
    runs_dir = tmp_path / "runs"
    data = task_labels()
    data["patients"] = np.array([f"q{i:04d}" for i in range(len(data["anchors"]))], dtype=object)
    patients = data["patients"][data["split"] == "test"]
    for backbone in ("ecgfounder", "ecg_features"):
        run = write_run(runs_dir, backbone, data=data)
        labels, scores, _ = run_matrices(runs_dir, backbone)
        clustered = metrics.clustered_matrix(labels, scores, patients)

        def stored(test: pd.DataFrame, c: pd.DataFrame = clustered) -> pd.DataFrame:
            return test.assign(
                clustered_low=c["low"].to_numpy(),
                clustered_high=c["high"].to_numpy(),
                n_patients=c["n_patients"].to_numpy(),
                n_pos_patients=c["n_pos_patients"].to_numpy(),
            )

        edit_test_rows(run, stored)
    board = build_leaderboard([runs_dir], published=False)
    targets = board.targets.set_index(["entry", "target"])
    comparisons = board.comparisons.set_index(["level", "entry", "target"])
    checked = 0
    for target in TARGETS:
        row = targets.loc[("ecgfounder/tiny", target)]
        assert row["clustered_method"] == metrics.CLUSTERED_CI + " (stored)"
        assert row["n_patients"] == row["n"]
        assert (row["delong_low"], row["delong_high"]) == pytest.approx(
            (row["clustered_low"], row["clustered_high"]), abs=1e-12
        )
        assert row["delong_method"] == metrics.DELONG_CI
        comp = comparisons.loc[("target", "ecg_features/tiny", target)]
        if comp["best_entry"] == "ecgfounder/tiny":
            assert comp["delong_p"] == pytest.approx(comp["clustered_p"], rel=1e-9)
            assert comp["delong_method"] == metrics.DELONG_TEST
            checked += 1
    assert checked >= 3


def test_mixing_cohort_hashes_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "ecgfounder")
    write_run(runs_dir, "s4", cohort_hash=OTHER_COHORT)
    with pytest.raises(ComparabilityError) as caught:
        build_leaderboard([runs_dir])
    message = str(caught.value)
    assert "cohort hash" in message and COHORT[:12] in message and OTHER_COHORT[:12] in message
    assert TASK in message and "--cohort-hash" in message

    board = build_leaderboard([runs_dir], cohort_hash=COHORT[:8])
    assert list(board.summary.loc[board.summary["source"] == "ecglab", "entry"]) == ["ecgfounder/tiny"]
    assert "is not the chosen cohort" in board.refused.iloc[0]["reason"]

    assert run_cli(["leaderboard", str(runs_dir), "--out", str(tmp_path / "board")]) == 2
    assert "cohort hash" in capsys.readouterr().err


def test_a_different_task_version_is_not_comparable(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "ecgfounder", task="fixture_est_60min", task_version="1", task_digest="d1")
    write_run(runs_dir, "s4", task="fixture_est_60min", task_version="2", task_digest="d2")
    with pytest.raises(ComparabilityError, match="task version"):
        build_leaderboard([runs_dir], published=False)


def test_intervals_without_predictions_are_nan_with_the_reason(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    data = task_labels()
    write_run(runs_dir, "ecgfounder", data=data)
    for seed in (0, 1):
        write_run(runs_dir, "s4", seed=seed, data=data)
    (next(p for p in runs_dir.glob("s4*") if "-1-" in read_record(p).run_id) / "predictions.parquet").unlink()
    board = build_leaderboard([runs_dir], published=False)
    summary = board.summary.set_index("entry")
    assert np.isfinite(summary.loc["ecgfounder/tiny", "macro_auroc_low"])
    assert np.isnan(summary.loc["s4/tiny", "macro_auroc_low"])
    assert "predictions.parquet is missing" in summary.loc["s4/tiny", "macro_ci_note"]
    targets = board.targets.set_index(["entry", "target"])
    assert np.isnan(targets.loc[("s4/tiny", TARGETS[0]), "auroc_low"])
    assert "predictions.parquet is missing" in targets.loc[("s4/tiny", TARGETS[0]), "ci_note"]

    # resamples whose row count does not match the test anchors are refused, not used
    counts = next(runs_dir.glob("tasks/*/*.npy"))
    np.save(counts, np.load(counts)[:, :-1])
    board = build_leaderboard([runs_dir], published=False)
    row = board.summary.set_index("entry").loc["ecgfounder/tiny"]
    assert np.isnan(row["macro_auroc_low"]) and "resample columns" in row["macro_ci_note"]


def test_window_curves_for_tasks_sharing_a_training_digest(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    for window in (15, 30, 60):
        task = f"fixture_est_{window}min"
        for backbone in ("ecgfounder", "s4"):
            write_run(runs_dir, backbone, task=task, task_digest=f"d{window}", training_digest="shared")
    board = build_leaderboard([runs_dir], published=False)
    curves = board.curves
    assert set(curves["minutes"]) == {15.0, 30.0, 60.0} and set(curves["axis"]) == {"window"}
    assert set(curves["entry"]) == {"ecgfounder/tiny", "s4/tiny"}
    summary = board.summary.set_index(["task", "entry"])
    for row in curves.itertuples():
        assert row.macro_auroc == summary.loc[(row.task, row.entry), "macro_auroc"]
    paths = write_leaderboard(board, tmp_path / "out")
    assert 'id="fig-curve-' in paths["html"].read_text()  # the window curve figure is drawn
    assert "60 min" in paths["markdown"].read_text()


def test_submission_files_are_accepted_as_inputs(runs: Path, tmp_path: Path) -> None:
    file = tmp_path / "submission.csv"
    export_submission([runs], file)
    board = build_leaderboard([file], published=False)
    summary = board.summary.set_index("entry")
    results = run_results(runs, "ecgfounder")
    row = summary.loc["ecgfounder/tiny"]
    assert row["macro_auroc"] == pytest.approx(results["auroc"].mean(), rel=1e-12)
    assert np.isnan(row["macro_auroc_low"]) and "no predictions" in row["macro_ci_note"]
    targets = board.targets.set_index(["entry", "target"])
    assert targets.loc[("ecgfounder/tiny", TARGETS[0]), "auroc_low"] == pytest.approx(
        results.at[TARGETS[0], "auroc_low"], rel=1e-12
    )
    # a run given both as a folder and in a submission counts once (the folder, with predictions)
    both = build_leaderboard([runs, file], published=False)
    assert len(both.summary) == 4 and any("given twice" in n for n in both.notes)


def test_a_malformed_run_record_is_refused_with_the_reason(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "ecgfounder")
    broken = write_run(runs_dir, "s4")
    (broken / "run.json").write_text("{not json")
    board = build_leaderboard([runs_dir], published=False)
    assert list(board.summary["entry"]) == ["ecgfounder/tiny"]
    refused = board.refused.set_index("origin")
    reason = refused.loc[str(broken.resolve()), "reason"]
    assert reason.startswith("unreadable run folder: ") and "run.json cannot be read" in reason
    assert any("unreadable run folder" in n for n in board.notes)
    with pytest.raises(SubmissionError, match=r"run\.json cannot be read"):
        export_submission([runs_dir], tmp_path / "submission.csv")


def test_a_run_on_a_scale_store_is_refused_as_a_result(tmp_path: Path) -> None:
    """A scale store (``ecglab cohort synth --scale``) has the real datasets' shape but no signal: its runs
    measure speed and must never stand in a leaderboard."""
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "ecgfounder")
    scaled = write_run(runs_dir, "s4")
    record = read_record(scaled)
    scale = {"shape": "mcmed", "fraction": 0.01, "seed": 0, "planted_signal": False}
    write_record(scaled, record.replace(cohort=dataclasses.replace(record.cohort, scale=scale)))
    assert read_record(scaled).cohort.scale == scale  # the record keeps it
    board = build_leaderboard([runs_dir], published=False)
    assert list(board.summary["entry"]) == ["ecgfounder/tiny"]
    reason = board.refused.set_index("origin").loc[str(scaled.resolve()), "reason"]
    assert "scale store (mcmed" in reason and "never a result" in reason

"""Calibration: the Brier score, ECE and reliability bins against hand-computed values and scikit-learn,
temperature and isotonic recalibration fitted on validation only, the run folder's calibration files (with
note rows where there is nothing to measure), the ``calibration`` option, and ``ecglab evaluate`` rewriting
the files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from tiny_task_specs import tiny_task_specs

from ecglab.bench import metrics
from ecglab.bench.config import ConfigError, RunConfig, run_id
from ecglab.bench.engine.calibration_results import calibration_frames, write_calibration
from ecglab.tasks.build import TaskData
from ecglab.tasks.registry import get_task

NAN = float("nan")


# ------------------------------------------------------------------------------------------------ metrics
def test_brier_score_by_hand_masks_unmeasured_rows() -> None:
    y = np.array([1, 0, 1, -1])
    s = np.array([0.8, 0.4, 0.6, NAN])  # an unmeasured row's score is never looked at
    assert metrics.brier_score(y, s) == pytest.approx((0.2**2 + 0.4**2 + 0.4**2) / 3, abs=1e-15)


def test_ece_and_reliability_bins_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 1, -1, 0])
    s = np.array([0.05, 0.15, 0.15, 0.95, 1.0, 0.5, 0.1])  # 0.1 opens bin 1; 1.0 closes the last bin
    bins = metrics.reliability_bins(y, s)
    assert list(bins["bin"]) == list(range(10))
    np.testing.assert_allclose(bins["bin_low"], np.arange(10) / 10)
    assert list(bins["n"]) == [1, 3, 0, 0, 0, 0, 0, 0, 0, 2]
    np.testing.assert_allclose(bins.loc[[0, 1, 9], "mean_score"], [0.05, 0.4 / 3, 0.975])
    np.testing.assert_allclose(bins.loc[[0, 1, 9], "observed_rate"], [1.0, 1 / 3, 0.5])
    assert bins.loc[2, ["mean_score", "observed_rate"]].isna().all()  # empty bins: NaN, not 0
    by_hand = (1 * 0.95 + 3 * abs(0.4 / 3 - 1 / 3) + 2 * 0.475) / 6
    assert metrics.expected_calibration_error(y, s) == pytest.approx(by_hand, abs=1e-15)
    assert metrics.expected_calibration_error(y, s, n_bins=1) == pytest.approx(abs(np.mean(s[y != -1]) - 0.5))
    assert "10 equal-width bins over [0, 1]" in metrics.ece_binning(10)


def test_metrics_refuse_what_is_not_a_probability_or_a_label() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        metrics.brier_score([1, 0], [0.5, 1.7])  # a regression head's value, never clipped
    with pytest.raises(ValueError, match=r"1 \(abnormal\), 0 \(normal\) or -1"):
        metrics.expected_calibration_error([1, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="non-finite"):
        metrics.brier_score([1, 0], [0.5, NAN])
    with pytest.raises(ValueError, match="no observed rows"):
        metrics.brier_score([-1, -1], [0.5, 0.5])
    with pytest.raises(ValueError, match="both classes"):
        metrics.fit_temperature([1, 1], [0.5, 0.6])


def test_brier_and_isotonic_agree_with_scikit_learn() -> None:
    sklearn_isotonic = pytest.importorskip("sklearn.isotonic")
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(4)
    y = (rng.random(400) < 0.3).astype(np.int8)
    s = np.round(rng.beta(2, 3, 400), 2)  # ties on purpose
    y[rng.random(400) < 0.1] = -1
    seen = y != -1
    assert metrics.brier_score(y, s) == pytest.approx(brier_score_loss(y[seen], s[seen]), abs=1e-15)
    reference = sklearn_isotonic.IsotonicRegression(out_of_bounds="clip").fit(s[seen], y[seen])
    grid = np.linspace(-0.2, 1.2, 701)
    fitted = metrics.fit_isotonic(y, s)
    np.testing.assert_allclose(metrics.apply_isotonic(grid, fitted), reference.predict(grid), atol=1e-12)


def test_isotonic_pools_violators_and_ties_by_hand() -> None:
    fitted = metrics.fit_isotonic([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(fitted.y, [0, 0.5, 0.5, 1])
    out = metrics.apply_isotonic([0.0, 0.15, 0.25, 0.9, NAN], fitted)
    np.testing.assert_allclose(out, [0, 0.25, 0.5, 1, NAN])  # clipped outside, NaN stays NaN
    tied = metrics.fit_isotonic([1, 0, 0], [0.2, 0.2, 0.5])  # ties first (rate 1/2), then pooled with 0
    np.testing.assert_allclose(tied.y, [1 / 3, 1 / 3])


def test_temperature_solves_the_likelihood_equation_and_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 20000)
    y = (rng.random(z.size) < expit(z)).astype(np.int8)
    overconfident = expit(2.0 * z)  # logits doubled: temperature 2 undoes it
    t = metrics.fit_temperature(y, overconfident)
    assert t == pytest.approx(2.0, rel=0.05)
    u = logit(overconfident) / t  # at the optimum d NLL / dT = 0, i.e. sum (sigmoid(u) - y) u = 0
    assert abs(np.mean((expit(u) - y) * u)) < 1e-6
    np.testing.assert_allclose(metrics.apply_temperature(overconfident, t), expit(u), atol=1e-9)
    np.testing.assert_allclose(metrics.apply_temperature([0.2, 0.7], 1.0), [0.2, 0.7], atol=1e-12)
    calibrated = metrics.apply_temperature(overconfident, t)
    assert metrics.expected_calibration_error(y, calibrated) < metrics.expected_calibration_error(
        y, overconfident
    )


# ------------------------------------------------------------------------------------------------ writer
TARGETS = ["potassium_low", "potassium_high", "sodium_low"]


def tiny_task(n: int = 240, seed: int = 1) -> tuple[TaskData, np.ndarray]:
    """A built task of three targets (every other anchor validation, the rest test, a few train) and
    over-confident scores: the planted signal is real, its logits doubled."""
    rng = np.random.default_rng(seed)
    split = np.where(np.arange(n) % 2 == 0, "val", "test").astype(object)
    split[:6] = "train"
    z = rng.normal(0, 1.2, (n, len(TARGETS)))
    labels = (rng.random(z.shape) < expit(z)).astype(np.int8)
    labels[rng.random(z.shape) < 0.15] = -1
    scores = expit(2.0 * z)
    scores[labels == -1] = NAN  # unmeasured rows may hold anything, NaN included
    anchors = pd.DataFrame(
        {
            "anchor_id": [f"a{i}" for i in range(n)],
            "patient_id": [f"p{i // 2}" for i in range(n)],
            "visit_id": None,
            "time": pd.Timestamp("2020-01-01"),
            "split": split,
        }
    )
    targets = pd.DataFrame({"target": TARGETS, "kept": True})
    task = TaskData(
        get_task("anyecg_lab_est_60min"), "tiny", "h" * 64, anchors, targets, labels, pd.DataFrame()
    )
    return task, scores


def test_raw_rows_are_the_metrics_of_the_observed_test_rows() -> None:
    task, scores = tiny_task()
    calibration, reliability = calibration_frames(task, scores, "none")
    assert list(calibration["calibration"]) == ["none"] * 3
    test = np.flatnonzero(task.anchors["split"] == "test")
    for j, target in enumerate(TARGETS):
        y, s = task.labels[test, j], scores[test, j]
        row = calibration.set_index("target").loc[target]
        assert (row["n"], row["n_pos"]) == ((y != -1).sum(), (y == 1).sum())
        assert row["brier"] == pytest.approx(metrics.brier_score(y, s), abs=1e-15)
        assert row["ece"] == pytest.approx(metrics.expected_calibration_error(y, s), abs=1e-15)
        assert row["ece_bins"] == 10 and "equal-width" in row["ece_binning"]
        bins = reliability[reliability["target"] == target]
        assert list(bins["n"]) == list(metrics.reliability_bins(y, s)["n"])


@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_recalibration_is_fitted_on_validation_only_and_applied_to_test(method: str) -> None:
    task, scores = tiny_task()
    calibration, reliability = calibration_frames(task, scores, method)
    assert list(calibration["calibration"]) == ["none", method] * 3
    val = np.flatnonzero(task.anchors["split"] == "val")
    test = np.flatnonzero(task.anchors["split"] == "test")
    for j, target in enumerate(TARGETS):
        y_val, s_val = task.labels[val, j], scores[val, j]
        if method == "temperature":
            expected = metrics.apply_temperature(scores[test, j], metrics.fit_temperature(y_val, s_val))
        else:
            expected = metrics.apply_isotonic(scores[test, j], metrics.fit_isotonic(y_val, s_val))
        row = calibration[(calibration["target"] == target) & (calibration["calibration"] == method)].iloc[0]
        y_test = task.labels[test, j]
        assert row["brier"] == pytest.approx(metrics.brier_score(y_test, expected), abs=1e-12)
        assert "fitted on validation" in row["note"]
    fitted = calibration[calibration["calibration"] == method]
    raw = calibration[calibration["calibration"] == "none"]
    assert fitted["ece"].mean() < raw["ece"].mean()  # the doubled logits are undone
    assert set(reliability["calibration"]) == {"none", method}
    # the test labels never enter the fit: other test labels, the same recalibrated test scores
    fitted_means = reliability.loc[reliability["calibration"] == method, "mean_score"].to_numpy()
    flipped = dataclasses.replace(task, labels=task.labels.copy())
    flipped.labels[test] = np.where(flipped.labels[test] == -1, -1, 1 - flipped.labels[test])
    _, again = calibration_frames(flipped, scores, method)
    np.testing.assert_array_equal(again.loc[again["calibration"] == method, "mean_score"], fitted_means)
    moved = scores.copy()
    moved[val] = np.clip(moved[val] * 0.5 + 0.1, 0, 1)  # other validation scores: another fit
    _, other = calibration_frames(task, moved, method)
    assert not np.allclose(
        other.loc[other["calibration"] == method, "mean_score"], fitted_means, equal_nan=True
    )


def test_note_rows_instead_of_metrics_where_there_is_nothing_to_measure() -> None:
    task, scores = tiny_task()
    val = np.flatnonzero(task.anchors["split"] == "val")
    test = np.flatnonzero(task.anchors["split"] == "test")
    scores = scores.copy()
    scores[:, 0] = scores[:, 0] * 4 - 2  # a regression head's values: not probabilities
    labels = task.labels.copy()
    labels[val, 1] = np.where(labels[val, 1] == -1, -1, 0)  # validation of one class: nothing to fit
    labels[test, 2] = -1  # no observed test row
    task = dataclasses.replace(task, labels=labels)
    calibration, reliability = calibration_frames(task, scores, "isotonic")
    by = calibration.set_index(["target", "calibration"])
    assert by.loc[("potassium_low", "none"), "note"].startswith("scores are not probabilities in [0, 1]")
    assert by.loc[("potassium_low", "isotonic"), "note"].startswith("scores are not probabilities")
    assert by.loc[("potassium_high", "isotonic"), "note"].startswith("not fitted: validation has 0 positive")
    assert np.isfinite(by.loc[("potassium_high", "none"), "brier"])  # the raw row still measured
    assert by.loc[("sodium_low", "none"), "note"] == "no observed test row"
    assert by.loc[("sodium_low", "none"), "n"] == 0
    no_metrics = [("potassium_low", "none"), ("potassium_low", "isotonic"), ("potassium_high", "isotonic")]
    assert by.loc[no_metrics, ["brier", "ece"]].isna().all().all()
    assert set(zip(reliability["target"], reliability["calibration"], strict=True)) == {
        ("potassium_high", "none")
    }


def test_the_files_are_written_for_evaluated_test_splits_only(tmp_path: Path) -> None:
    task, scores = tiny_task()
    config = RunConfig(backbone="s4", task="anyecg_lab_est_60min", cohort="/c", calibration="temperature")
    write_calibration(task, scores, config, tmp_path)
    calibration = pd.read_parquet(tmp_path / "calibration.parquet")
    reliability = pd.read_parquet(tmp_path / "reliability.parquet")
    assert list(calibration.columns) == [
        "target", "calibration", "n", "n_pos", "brier", "ece", "ece_bins", "ece_binning", "note"
    ]  # fmt: skip
    assert list(reliability.columns) == [
        "target", "calibration", "bin", "bin_low", "bin_high", "n", "mean_score", "observed_rate"
    ]  # fmt: skip
    assert len(reliability) == 3 * 2 * 10 and not list(tmp_path.glob("*.tmp"))
    search = tmp_path / "search"
    search.mkdir()
    write_calibration(task, scores, dataclasses.replace(config, evaluate_test=False), search)
    assert not list(search.iterdir())  # a search trial never looks at the test split


# ------------------------------------------------------------------------------------------------ option
def test_the_calibration_option_is_checked_and_keeps_older_run_ids() -> None:
    from ecglab.bench.cli import build_parser
    from ecglab.bench.commands.train import build_config
    from ecglab.leaderboards.run_folders import config_key

    with pytest.raises(ConfigError, match="calibration must be one of"):
        RunConfig(backbone="s4", task="t", cohort="/c", calibration="platt")
    plain = RunConfig(backbone="s4", task="t", cohort="/c")
    fitted = dataclasses.replace(plain, calibration="isotonic")
    assert run_id(plain, "1", "d", "h") != run_id(fitted, "1", "d", "h")
    assert config_key(plain) != config_key(fitted)
    older = {k: v for k, v in plain.to_dict().items() if k != "calibration"}  # a record from before it
    assert config_key(older) == config_key(plain)
    argv = ["train", "--backbone", "s4", "--task", "t", "--cohort", "/c", "--calibration", "temperature"]
    assert build_config(build_parser().parse_args(argv)).calibration == "temperature"


# ------------------------------------------------------------------------------------------------ end to end
TASKS = tiny_task_specs("name: calibration_closest_15min", min_patients=2)


def test_a_run_and_its_re_evaluation_write_the_calibration_of_its_predictions(tmp_path: Path) -> None:
    """A baseline run with temperature scaling: its raw rows are the metrics of its own test predictions,
    and ``ecglab evaluate`` (evaluate_run) writes the same files again."""
    from ecglab.bench.engine import evaluate_run, run_pairing
    from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

    synth = SynthConfig(n_patients=32, seed=5, bout_minutes=(0.5, 1.0))
    store = build_synthetic_cohort(tmp_path / "cohort", synth, workers=1, progress=False)
    (tmp_path / "tasks.yaml").write_text(TASKS)
    config = RunConfig(
        backbone="ecg_features",
        task="calibration_closest_15min",
        cohort=str(store),
        n_boot=20,
        task_specs=(str(tmp_path / "tasks.yaml"),),
        calibration="temperature",
    )
    run = run_pairing(config, tmp_path / "runs", progress=False, track=False)
    calibration = pd.read_parquet(run / "calibration.parquet")
    predictions = pd.read_parquet(run / "predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    raw = calibration[calibration["calibration"] == "none"].set_index("target")
    assert set(calibration["calibration"]) == {"none", "temperature"} and len(raw) == test["target"].nunique()
    for target, rows in test.groupby("target"):
        labels, scores = rows["label"].to_numpy(), rows["score"].to_numpy()
        assert raw.loc[target, "brier"] == pytest.approx(metrics.brier_score(labels, scores), abs=1e-12)
        assert raw.loc[target, "ece"] == pytest.approx(
            metrics.expected_calibration_error(labels, scores), abs=1e-12
        )
    reliability = pd.read_parquet(run / "reliability.parquet")
    for name in ("calibration.parquet", "reliability.parquet"):
        (run / name).unlink()
    evaluate_run(run)
    pd.testing.assert_frame_equal(pd.read_parquet(run / "calibration.parquet"), calibration)
    pd.testing.assert_frame_equal(pd.read_parquet(run / "reliability.parquet"), reliability)

"""Lab values as regression (RunConfig objective gaussian_nll / mse): the task's values decide its labels and
travel with it, the losses see observed values only, the scores are P(abnormal) under the predicted
Gaussian, and one tiny run writes regression.parquet beside the classification files (re-evaluated alike)."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ecglab.bench.config import RunConfig, hashed_fields, run_id
from ecglab.bench.engine import run_pairing
from ecglab.bench.engine.distributed import single_process
from ecglab.bench.engine.prepare import RunError, build_model, prepare
from ecglab.bench.engine.reevaluate import evaluate_run
from ecglab.bench.engine.regression_results import auroc_at_threshold, regression_rows
from ecglab.bench.losses import masked_gaussian_nll, masked_mse
from ecglab.bench.regression import (
    ValuePredictions,
    ValueScaling,
    abnormal_probability,
    fit_scaling,
    pooled_distribution,
)
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.build import TaskData, task_folder
from ecglab.tasks.spec import PanelSpec

TASKS = """
defaults:
  version: "1"
  panel: {kind: anyecg_lab, min_positives: 2, min_negatives: 2PATIENTS}
  input: {leads: [II], fs: 100, seconds: 5}
  eval: {max_segments: null, crops: 1}
tasks:
  - name: regression_closest_15min
    kind: closest_estimation
    window_min: 15
  - name: regression_forecast_60min
    kind: forecast
    horizon_min: 60
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("regression")
    config = SynthConfig(n_patients=40, seed=5, bout_minutes=(0.5, 1.0))
    store = build_synthetic_cohort(root / "cohort", config, workers=1, progress=False)
    spec = root / "tasks.yaml"
    # a tiny cohort: a target needs no more patients than anchors (where the panel counts patients)
    patients = {"min_positive_patients", "min_negative_patients"} & {f.name for f in fields(PanelSpec)}
    spec.write_text(TASKS.replace("PATIENTS", "".join(f", {key}: 1" for key in sorted(patients))))
    return {"root": root, "store": store, "spec": spec}


def _config(setup: dict[str, Path], **changes: object) -> RunConfig:
    base = RunConfig(
        backbone="ecgfounder",
        task="regression_closest_15min",
        cohort=str(setup["store"]),
        epochs=1,
        batch_size=64,
        lr=3e-3,
        n_boot=50,
        objective="gaussian_nll",
        task_specs=(str(setup["spec"]),),
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def trained(setup: dict[str, Path]) -> Path:
    return run_pairing(_config(setup), setup["root"] / "runs", progress=False, track=False)


# ------------------------------------------------------------------------------------------------ task
@pytest.mark.parametrize("task", ["regression_closest_15min", "regression_forecast_60min"])
def test_task_values_are_saved_loaded_and_decide_every_observed_label(setup: dict, task: str) -> None:
    cohort, data, _ = prepare(_config(setup, task=task), setup["root"] / "runs", single_process())
    loaded = TaskData.load(task_folder(setup["root"] / "runs" / "tasks", data.spec, cohort))
    np.testing.assert_array_equal(loaded.values, data.values)
    assert loaded.values.shape == loaded.labels.shape
    kept = loaded.targets[loaded.targets["kept"]].reset_index(drop=True)
    has = np.isfinite(loaded.values)
    assert has.sum() > 100
    for j, t in enumerate(kept.itertuples(index=False)):
        v = loaded.values[has[:, j], j]
        abnormal = v > t.threshold if t.direction == "high" else v < t.threshold
        np.testing.assert_array_equal(loaded.labels[has[:, j], j], abnormal.astype(np.int8))
    assert (loaded.labels[~has] != -1).sum() <= (loaded.labels != -1).sum()  # a value never without a label
    assert not (has & (loaded.labels == -1)).any()


# ------------------------------------------------------------------------------------------------ losses
def test_gaussian_nll_is_the_mean_over_observed_values_and_never_sees_a_missing_one() -> None:
    values = torch.tensor([[0.5, float("nan")], [-1.0, 2.0]])
    outputs = torch.tensor([[0.1, 0.7, 0.2, -0.4], [-0.3, 1.5, 0.0, 0.3]], requires_grad=True)
    loss = masked_gaussian_nll(outputs, values)
    by_hand = 0.0
    for i, j in ((0, 0), (1, 0), (1, 1)):
        mu, log_var = float(outputs[i, j].detach()), float(outputs[i, 2 + j].detach())
        by_hand += 0.5 * (
            log_var + (float(values[i, j]) - mu) ** 2 / math.exp(log_var) + math.log(2 * math.pi)
        )
    assert loss.item() == pytest.approx(by_hand / 3, rel=1e-6)
    loss.backward()
    assert torch.isfinite(outputs.grad).all()
    assert outputs.grad[0, 1] == 0 and outputs.grad[0, 3] == 0  # the missing value's mean and variance
    moved = outputs.detach().clone()
    moved[0, 1], moved[0, 3] = 40.0, -3.0  # what the model says where nothing was measured
    assert float(masked_gaussian_nll(moved, values)) == pytest.approx(loss.item(), rel=1e-7)
    other = values.clone()
    other[0, 1] = float("inf")  # any non-finite value is unobserved
    assert float(masked_gaussian_nll(outputs.detach(), other)) == pytest.approx(loss.item(), rel=1e-7)
    assert float(masked_gaussian_nll(outputs.detach(), torch.full_like(values, float("nan")))) == 0.0


def test_mse_is_the_mean_squared_error_of_observed_values() -> None:
    values = torch.tensor([[1.0, float("nan")], [0.0, 2.0]])
    outputs = torch.tensor([[0.5, 9.0], [1.0, 1.0]])
    assert float(masked_mse(outputs, values)) == pytest.approx((0.25 + 1 + 1) / 3, rel=1e-6)


# ------------------------------------------------------------------------------------------------ scores
def test_scores_are_probabilities_monotone_in_the_predicted_mean() -> None:
    mean = np.linspace(-4, 4, 81)
    for sign in (1.0, -1.0):
        p = abnormal_probability(mean, np.full_like(mean, 0.5), 0.3, sign)
        assert ((p >= 0) & (p <= 1)).all()
        steps = np.diff(p)
        assert (steps > 0).all() if sign > 0 else (steps < 0).all()
    assert abnormal_probability(np.array([0.3]), np.array([2.0]), 0.3, 1.0)[0] == pytest.approx(0.5)


def test_pooling_adds_the_variance_of_the_means_to_the_mean_variance() -> None:
    means, variances = np.array([1.0, 3.0]), np.array([0.5, 1.5])
    pooled = np.array([[means.mean(), variances.mean(), (means**2).mean()]])
    mean, variance = pooled_distribution(pooled, "gaussian_nll", 1)
    assert mean[0, 0] == 2.0 and variance[0, 0] == pytest.approx(1.0 + 1.0)


def test_mae_and_spearman_in_the_labs_unit_on_a_hand_example() -> None:
    anchors = pd.DataFrame(
        {"anchor_id": [1, 2, 3, 4], "patient_id": ["a", "a", "b", "c"], "split": ["test"] * 4}
    )
    targets = pd.DataFrame(
        {
            "target": ["k_high"],
            "lab": ["K"],
            "lab_codes": [("K",)],
            "direction": ["high"],
            "threshold": [5.0],
            "unit": ["mmol/L"],
            "kept": [True],
            "drop_reason": [""],
        }
    )
    values = np.array([[4.0], [6.0], [np.nan], [5.0]])
    task = TaskData(
        None,
        "c",
        "h",
        anchors,
        targets,
        np.array([[0], [1], [-1], [0]], np.int8),
        pd.DataFrame(),
        values=values,
    )
    scaling = ValueScaling(
        np.array([True]), np.array([np.log(5.0)]), np.array([0.5]), np.array([0.0]), np.array([1.0])
    )
    predicted = np.array([[4.5], [5.0], [7.0], [5.5]])  # lab units; the logged lab is predicted by its median
    z = (np.log(predicted) - np.log(5.0)) / 0.5
    rows = regression_rows(task, ValuePredictions("gaussian_nll", z, np.ones_like(z), scaling), ("test",))
    row = rows.iloc[0]
    assert (row["n"], row["n_patients"], row["transform"], row["unit"]) == (3, 2, "log", "mmol/L")
    assert row["mae"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert row["spearman"] == pytest.approx(0.5)  # predicted ranks 1, 2, 3 against measured 1, 3, 2


def test_scaling_is_the_training_splits_and_log_is_refused_for_values_below_zero(setup: dict) -> None:
    _, data, _ = prepare(_config(setup), setup["root"] / "runs", single_process())
    scaling = fit_scaling(data, "auto")
    train = (data.anchors["split"] == "train").to_numpy()
    j = int(np.argmax(np.isfinite(data.values[train]).sum(axis=0)))
    observed = data.values[train, j][np.isfinite(data.values[train, j])]
    transformed = np.log(observed) if scaling.log[j] else observed
    assert scaling.center[j] == pytest.approx(transformed.mean())
    assert scaling.scale[j] == pytest.approx(transformed.std())
    negative = replace(data, values=np.where(np.isfinite(data.values), data.values - 1e3, np.nan))
    with pytest.raises(Exception, match="log needs positive"):
        fit_scaling(negative, "log")
    assert not fit_scaling(negative, "auto").log.any()


# ------------------------------------------------------------------------------------------------ a run
def test_a_regression_run_writes_probabilities_and_regression_tables(trained: Path) -> None:
    predictions = pd.read_parquet(trained / "predictions.parquet")
    scores = predictions["score"].dropna()
    assert len(scores) and ((scores >= 0) & (scores <= 1)).all()
    results = pd.read_parquet(trained / "results.parquet")
    assert results.loc[results["split"] == "test", "auroc"].notna().any()
    regression = pd.read_parquet(trained / "regression.parquet")
    assert {"target", "split", "n", "n_patients", "mae", "spearman", "unit", "transform"} <= set(regression)
    assert set(regression["split"]) == {"val", "test"} and (regression["n"] > 0).any()
    assert (regression["mae"].dropna() >= 0).all()
    thresholds = pd.read_parquet(trained / "regression_thresholds.parquet")
    assert {"task", "anyecg_lab"} <= set(thresholds["source"])
    assert thresholds["auroc"].dropna().between(0, 1).all()


def test_the_auroc_at_any_threshold_comes_from_the_stored_value_predictions(trained: Path) -> None:
    thresholds = pd.read_parquet(trained / "regression_thresholds.parquet").query("split == 'test'")
    stored = thresholds[(thresholds["source"] == "task") & thresholds["auroc"].notna()].iloc[0]
    auroc, n, n_pos = auroc_at_threshold(trained, stored["target"], stored["threshold"])
    assert (auroc, n, n_pos) == (pytest.approx(stored["auroc"]), stored["n"], stored["n_pos"])
    rows = pd.read_parquet(trained / "value_predictions.parquet").query("target == @stored.target")
    measured = rows.loc[rows["split"] == "test", "value"].dropna()
    middle = float(measured.median())  # another threshold: about half the anchors are positive
    _, _, half = auroc_at_threshold(trained, stored["target"], middle)
    high = stored["direction"] == "high"
    assert half == int((measured > middle).sum() if high else (measured < middle).sum())


def test_the_checkpoint_holds_the_scaling_and_re_evaluation_gives_the_same_tables(
    setup: dict, trained: Path
) -> None:
    state = torch.load(trained / "best.pt", weights_only=True)
    assert "value_scaling" in state["model"]
    before = pd.read_parquet(trained / "regression.parquet")
    evaluate_run(trained)
    pd.testing.assert_frame_equal(pd.read_parquet(trained / "regression.parquet"), before)


def test_objective_changes_the_run_id_only_when_set(setup: dict) -> None:
    config = _config(setup)
    classification = replace(config, objective="classification")
    assert "objective" not in hashed_fields(classification.to_dict())
    assert run_id(config, "1", "d", "c") != run_id(classification, "1", "d", "c")
    _, data, _ = prepare(config, setup["root"] / "runs", single_process())
    assert build_model(config, data, None).head.out_features == 2 * len(data.kept_targets)
    assert build_model(replace(config, objective="mse"), data, None).head.out_features == len(
        data.kept_targets
    )


def test_a_baseline_refuses_a_regression_objective(setup: dict) -> None:
    with pytest.raises(RunError, match="classifier baseline"):
        prepare(_config(setup, backbone="tabular"), setup["root"] / "runs", single_process())

"""Hyperparameter search: two workers share one SQLite study, trials are MLflow child runs of the study's
parent run, the test split is never scored, pruning stops a trial, joining workers cannot change the study's
settings, and the best trial runs on the test split labelled tuned."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from locations import TESTS
from suite_fixtures import forecast_task_yaml

import ecglab.bench.engine as engine
from ecglab.bench.engine import run as engine_run
from ecglab.bench.run_folder import read_record
from ecglab.bench.tune import (
    TuneError,
    open_storage,
    pruning_callback,
    run_best,
    tune,
    validation_macro_auroc,
)
from ecglab.bench.tune import settings as tune_settings
from ecglab.bench.tune.settings import ATTR_MLFLOW
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

TASKS = forecast_task_yaml("tune_forecast_60min")


def logistic_space(trial: Any) -> dict[str, Any]:
    """The tabular baseline's space without gradient boosting (seconds per trial, not minutes)."""
    return {"model": "logistic", "c": trial.suggest_float("c", 1e-2, 1e1, log=True)}


def tiny_s4_space(trial: Any) -> dict[str, Any]:
    return {"d_model": trial.suggest_categorical("d_model", [8, 16]), "n_layers": 1}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("tune")
    config = SynthConfig(n_patients=60, seed=5, bout_minutes=(1.5, 3.0))
    store = build_synthetic_cohort(root / "cohort", config, workers=2, progress=False)
    spec = root / "tasks.yaml"
    spec.write_text(TASKS)
    return {
        "root": root,
        "store": store,
        "spec": spec,
        "storage": f"sqlite:///{root / 'optuna.db'}",
        "uri": f"sqlite:///{root / 'mlflow.db'}",
        "runs": root / "runs",
    }


@pytest.fixture(scope="module")
def shared_study(setup: dict[str, Any]) -> optuna.Study:
    """Study S created here (and the MLflow experiment with it), then two worker processes of 2 trials."""
    created = tune(
        cohort=setup["store"],
        n_trials=0,
        backbone="tabular",
        task="tune_forecast_60min",
        run_options={"n_boot": 20},
        storage=setup["storage"],
        study_name="S",
        sampler="random",
        seed=3,
        space=logistic_space,
        task_specs=[setup["spec"]],
        runs_dir=setup["runs"],
        tracking_uri=setup["uri"],
        out=lambda line: None,
    )
    assert created.n_trials_study == 0 and created.parent_run_id
    env = {
        **os.environ,
        # this module (the search space is test_tune:logistic_space) and the tests' helpers
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), str(TESTS), os.environ.get("PYTHONPATH", "")]
        ),
    }
    command = [
        sys.executable,
        "-m",
        "ecglab.bench.cli",
        "tune",
        "--study",
        "S",
        "--storage",
        setup["storage"],
    ]
    command += ["--cohort", str(setup["store"]), "--trials", "2", "--task-spec", str(setup["spec"])]
    command += ["--runs-dir", str(setup["runs"]), "--tracking-uri", setup["uri"]]
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        assert "this worker's trials: 2 complete" in out, out
    return optuna.load_study(study_name="S", storage=open_storage(setup["storage"]))


def test_two_workers_share_one_sqlite_study_and_their_trials_add_up(shared_study: optuna.Study) -> None:
    trials = shared_study.get_trials()
    assert len(trials) == 4 and {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    assert len({t.params["c"] for t in trials}) == 4  # the workers drew different trials from one seed
    assert len({t.user_attrs["ecglab.run_dir"] for t in trials}) == 4
    assert shared_study.user_attrs["ecglab.settings"]["sampler"] == "random"


def test_tuning_never_scores_the_test_split(shared_study: optuna.Study) -> None:
    for trial in shared_study.get_trials():
        run_dir = Path(trial.user_attrs["ecglab.run_dir"])
        record = read_record(run_dir)
        assert record.config.evaluate_test is False and record.bootstrap is None
        assert set(pd.read_parquet(run_dir / "results.parquet")["split"]) == {"val"}
        assert set(pd.read_parquet(run_dir / "predictions.parquet")["split"]) == {"val"}
        assert trial.value == pytest.approx(validation_macro_auroc(run_dir))
        assert not (run_dir / "best.pt").exists()  # trial checkpoints are dropped unless kept


def test_a_results_file_with_test_rows_is_refused(tmp_path: Path) -> None:
    pd.DataFrame({"split": ["val", "test"], "auroc": [0.6, 0.9]}).to_parquet(tmp_path / "results.parquet")
    with pytest.raises(TuneError, match="test rows"):
        validation_macro_auroc(tmp_path)


def test_trials_are_mlflow_child_runs_of_the_study_parent(
    setup: dict[str, Any], shared_study: optuna.Study
) -> None:
    from mlflow import MlflowClient

    parent = shared_study.user_attrs[ATTR_MLFLOW]["parent_run_id"]
    client = MlflowClient(setup["uri"])
    experiment = client.get_experiment_by_name("ecglab")
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'"
    )
    assert sorted(int(r.data.tags["ecglab.trial"]) for r in children) == [0, 1, 2, 3]
    assert all(
        "val_macro_auroc" in r.data.metrics and "test_macro_auroc" not in r.data.metrics for r in children
    )
    assert client.get_run(parent).data.tags["ecglab.study"] == "S"


def test_a_joining_worker_cannot_change_the_study_settings(
    setup: dict[str, Any], shared_study: optuna.Study
) -> None:
    common = {"cohort": setup["store"], "n_trials": 0, "storage": setup["storage"], "study_name": "S"}
    common.update(task_specs=[setup["spec"]], runs_dir=setup["runs"], track=False)
    with pytest.raises(TuneError, match=r"sampler='tpe' \(the study's: 'random'\)"):
        tune(sampler="tpe", **common)
    with pytest.raises(TuneError, match=r"epochs=3 \(the study's: 20\)"):
        tune(run_options={"epochs": 3}, **common)
    assert tune(pruner="median", seed=3, backbone="tabular", **common).study_name == "S"  # the same: joins


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return True


def test_the_pruner_stops_a_trial_through_the_epoch_callback(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(tune_settings.PRUNERS, "always", lambda: AlwaysPrune())
    epochs: list[int] = []

    def train(config, cohort, task, run_dir, where, resume, progress, epoch_callback=None):
        for epoch in range(3):  # what the engine does after each epoch's validation
            epochs.append(epoch)
            epoch_callback(epoch, 0.6 + epoch / 100)
        pytest.fail("the trial was not pruned")

    monkeypatch.setattr(engine_run, "train", train)
    result = tune(
        cohort=setup["store"],
        n_trials=2,
        backbone="s4",
        task="tune_forecast_60min",
        run_options={"epochs": 3, "n_boot": 20},
        storage=setup["storage"],
        study_name="P",
        pruner="always",
        space=tiny_s4_space,
        task_specs=[setup["spec"]],
        runs_dir=setup["runs"],
        tracking_uri=setup["uri"],
        out=lambda line: None,
    )
    assert result.states == {"PRUNED": 2} and epochs == [0, 0]
    study = optuna.load_study(study_name="P", storage=open_storage(setup["storage"]))
    for trial in study.get_trials():
        assert trial.intermediate_values == {0: pytest.approx(0.6)}
        assert {"lr", "weight_decay", "d_model"} <= set(trial.params)  # framework's and backbone's spaces
        run_dir = Path(trial.user_attrs["ecglab.run_dir"])
        assert read_record(run_dir).status == "pruned"

    from mlflow import MlflowClient

    client = MlflowClient(setup["uri"])
    parent = study.user_attrs[ATTR_MLFLOW]["parent_run_id"]
    experiment = client.get_experiment_by_name("ecglab")
    children = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(children) == 2 and {r.info.status for r in children} == {"KILLED"}
    assert {r.data.tags["ecglab.status"] for r in children} == {"pruned"}


def test_the_epoch_callback_reports_finite_scores_and_prunes_on_request() -> None:
    class Trial:
        def __init__(self) -> None:
            self.number, self.reported, self.prune = 7, [], False

        def report(self, value: float, step: int) -> None:
            self.reported.append((value, step))

        def should_prune(self) -> bool:
            return self.prune

    trial = Trial()
    callback = pruning_callback(trial)
    callback(0, float("nan"))
    callback(1, 0.7)
    assert trial.reported == [(0.7, 1)]
    trial.prune = True
    with pytest.raises(engine.PrunedRun, match="trial 7 pruned after epoch 2"):
        callback(2, 0.5)


def test_tune_best_runs_the_best_trial_on_the_test_split_labelled_tuned(
    setup: dict[str, Any], shared_study: optuna.Study
) -> None:
    (run_dir,) = run_best(
        "S",
        setup["storage"],
        runs_dir=setup["runs"],
        tracking_uri=setup["uri"],
        progress=False,
        out=lambda s: None,
    )
    best = max((t for t in shared_study.get_trials() if t.value is not None), key=lambda t: t.value)
    config = read_record(run_dir).config
    assert config.label == "tuned" and config.evaluate_test is True
    assert config.backbone_options == {"model": "logistic", "c": best.params["c"]}
    results = pd.read_parquet(run_dir / "results.parquet")
    assert set(results["split"]) == {"val", "test"} and results["auroc_low"].notna().any()

    from mlflow import MlflowClient

    client = MlflowClient(setup["uri"])
    experiment = client.get_experiment_by_name("ecglab")
    (tuned,) = client.search_runs([experiment.experiment_id], "tags.`ecglab.label` = 'tuned'")
    assert (
        tuned.data.tags["ecglab.best_trial"] == str(best.number) and "test_macro_auroc" in tuned.data.metrics
    )

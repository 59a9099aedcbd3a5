"""The engine: losses, a real training run that finds the planted signal and no fake one, resume, DDP,
result files and MLflow tracking."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_task_specs import tiny_task_specs

import ecglab.bench.engine as engine
from ecglab.bench import metrics
from ecglab.bench.config import RunConfig, run_id
from ecglab.bench.data import EvalBatches, shard_of
from ecglab.bench.engine import run as engine_run
from ecglab.bench.engine import run_pairing, training
from ecglab.bench.engine.distributed import gather_to_main, single_process
from ecglab.bench.engine.evaluate import local_pool, pooled_scores, predict
from ecglab.bench.engine.prepare import build_model, model_input_plan, prepare, split_rows
from ecglab.bench.losses import masked_bce, masked_focal
from ecglab.bench.resample_file import digest_of_test_set, resample_aurocs
from ecglab.bench.run_folder import RunRecordError, read_record, record_from_dict, run_folder
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.cohort.synth.labs import NULL_LABS

TASKS = tiny_task_specs(
    "name: engine_closest_15min",
    "name: engine_forecast_60min\nkind: forecast\nwindow_min: null\nhorizon_min: 60\ntabular: true",
)


def test_masked_bce_is_the_sum_over_observed_labels_over_their_count() -> None:
    logits = torch.tensor([[0.3, -1.2, 2.0], [-0.5, 0.8, 0.0]])
    labels = torch.tensor([[1, -1, 0], [0, 1, -1]])
    observed = [(0, 0, 1), (0, 2, 0), (1, 0, 0), (1, 1, 1)]
    by_hand = 0.0
    for i, j, y in observed:
        p = 1 / (1 + np.exp(-float(logits[i, j])))
        by_hand += -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(masked_bce(logits, labels)) == pytest.approx(by_hand / (4 + 1e-8), rel=1e-6)
    assert float(masked_bce(logits, torch.full_like(labels, -1))) == 0.0  # nothing observed: no loss


def test_focal_loss_averages_per_label_and_sums_over_labels() -> None:
    logits = torch.tensor([[0.3, -1.2], [-0.5, 0.8], [1.5, 0.1]])
    labels = torch.tensor([[1, -1], [0, 1], [1, 0]])
    total = 0.0
    for j in range(2):
        terms = []
        for i in range(3):
            y = int(labels[i, j])
            if y == -1:
                continue
            p = 1 / (1 + np.exp(-float(logits[i, j])))
            p_true = p if y == 1 else 1 - p
            terms.append((1 - p_true) ** 2 * -np.log(p_true))
        total += np.mean(terms)
    assert float(masked_focal(logits, labels, gamma=2.0)) == pytest.approx(total, rel=1e-5)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine")
    config = SynthConfig(n_patients=160, seed=5, bout_minutes=(1.5, 3.0))
    store = build_synthetic_cohort(root / "cohort", config, workers=2, progress=False)
    spec = root / "tasks.yaml"
    spec.write_text(TASKS)
    return {"root": root, "store": store, "spec": spec}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A smaller store for the tests that check mechanics (resume, DDP, baselines), not learning."""
    root = tmp_path_factory.mktemp("engine_small")
    config = SynthConfig(n_patients=48, seed=5, bout_minutes=(0.5, 1.0))
    store = build_synthetic_cohort(root / "cohort", config, workers=2, progress=False)
    spec = root / "tasks.yaml"
    spec.write_text(TASKS)
    return {"root": root, "store": store, "spec": spec}


def _config(setup: dict[str, Path], **changes: object) -> RunConfig:
    base = RunConfig(
        backbone="ecgfounder",
        task="engine_closest_15min",
        cohort=str(setup["store"]),
        preset="tiny",
        epochs=3,
        batch_size=64,
        lr=3e-3,
        n_boot=200,
        task_specs=(str(setup["spec"]),),
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def trained(setup: dict[str, Path]) -> Path:
    return run_pairing(_config(setup), setup["root"] / "runs", progress=False, track=False)


def test_a_tiny_backbone_finds_planted_labs_and_no_signal_in_null_labs(trained: Path) -> None:
    results = pd.read_parquet(trained / "results.parquet")
    test = results[results["split"] == "test"].set_index("target")
    potassium = test.loc[["potassium_low", "potassium_high"], "auroc"]  # the strongest planted coupling
    assert (potassium > 0.7).all(), potassium
    nulls = test.loc[
        [t for t in test.index if t.startswith(tuple(n.split(" ")[0].lower() for n in NULL_LABS))]
    ]
    assert len(nulls) >= 3
    covers_half = (nulls["auroc_low"] < 0.5) & (nulls["auroc_high"] > 0.5)
    assert covers_half.mean() >= 0.75, nulls[["auroc", "auroc_low", "auroc_high"]]


def test_the_run_stores_its_per_resample_aurocs_as_a_leaderboard_computes_them(trained: Path) -> None:
    """test_resamples.npz: on the task's resamples (one seed for every run), equal to what the leaderboard
    computes from predictions.parquet, so a leaderboard over many runs can read it instead."""
    from ecglab.bench.resample_file import read_resample_file
    from ecglab.leaderboards.inputs import load_run_folder
    from ecglab.leaderboards.resamples import load_predictions, stored_aurocs

    record = read_record(trained)
    assert record.bootstrap is not None and record.bootstrap.seed == 0
    assert record.bootstrap.file.endswith(f"bootstrap_test_seed0_n{record.config.n_boot}.npy")
    stored = read_resample_file(trained)
    assert stored is not None and stored.bootstrap_file == record.bootstrap.file
    run = load_run_folder(trained)
    assert stored_aurocs(run) is not None
    predictions = load_predictions(run)
    counts = np.load(trained.parent / record.bootstrap.file)
    recomputed = resample_aurocs(predictions.labels, predictions.scores, counts)
    np.testing.assert_array_equal(stored.aurocs, recomputed)
    assert np.isfinite(stored.aurocs).any()
    for j in np.flatnonzero(np.isfinite(stored.aurocs).any(axis=1))[:3]:  # one target at a time, too
        one = metrics.bootstrap_aurocs(predictions.labels[:, j], predictions.scores[:, j], counts)
        np.testing.assert_array_equal(stored.aurocs[j], one)
    assert stored.test_digest == digest_of_test_set(predictions.anchors, predictions.labels)


def test_run_folder_holds_typed_results_predictions_and_provenance(trained: Path) -> None:
    record = json.loads((trained / "run.json").read_text())
    assert record["status"] == "finished" and len(record["run_id"]) == 64
    typed = read_record(trained)
    assert typed.to_dict() == record and trained == run_folder(trained.parent, typed.run_id)
    assert typed.bootstrap is not None and (trained.parent / typed.bootstrap.file).is_file()
    assert (record["world_size"], record["global_batch"]) == (1, 64)
    older = {k: v for k, v in record.items() if k not in ("world_size", "global_batch")}
    assert record_from_dict(older).to_dict() == record  # a run.json from before world sizes: one process
    with pytest.raises(RunRecordError, match="world_size"):
        record_from_dict({**record, "world_size": 0})
    assert record["provenance"]["packages"]["torch"] == torch.__version__.split("+")[0] or record[
        "provenance"
    ]["packages"]["torch"].startswith(torch.__version__.split("+")[0])
    results = pd.read_parquet(trained / "results.parquet")
    assert results["auroc"].dtype == np.float64 and set(results["split"]) == {"val", "test"}
    predictions = pd.read_parquet(trained / "predictions.parquet")
    assert set(predictions.columns) == {"anchor_id", "patient_id", "split", "target", "label", "score"}
    assert predictions["label"].isin([-1, 0, 1]).all()
    history = [json.loads(line) for line in (trained / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1, 2]


def test_a_finished_run_is_not_redone(
    setup: dict[str, Path], trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_run, "train", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert run_pairing(_config(setup), setup["root"] / "runs", progress=False, track=False) == trained


def test_resume_reproduces_an_uninterrupted_run(
    small: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(small, backbone="s4", epochs=2, lr=1e-3, n_boot=50)
    whole = run_pairing(config, small["root"] / "whole", progress=False, track=False)

    real_save = training.save_checkpoint

    def interrupted_save(state: dict, path: Path) -> None:
        real_save(state, path)
        if path.name == "last.pt" and state["epoch"] == 0:
            raise KeyboardInterrupt  # Ctrl-C right after the first epoch's checkpoint

    monkeypatch.setattr(training, "save_checkpoint", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        run_pairing(config, small["root"] / "split", progress=False, track=False)
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    with pytest.raises(engine.RunError, match="--resume"):
        run_pairing(config, small["root"] / "split", progress=False, track=False)
    resumed = run_pairing(config, small["root"] / "split", resume=True, progress=False, track=False)
    first = pd.read_parquet(whole / "predictions.parquet")
    second = pd.read_parquet(resumed / "predictions.parquet")
    np.testing.assert_array_equal(first["score"].to_numpy(), second["score"].to_numpy())


def test_baselines_and_fusion_run_on_a_task_with_tabular_inputs(small: dict[str, Path]) -> None:
    for backbone, extra in (("tabular", {}), ("ecg_features", {}), ("s4", {"fusion": True, "epochs": 1})):
        config = _config(small, backbone=backbone, task="engine_forecast_60min", n_boot=50, **extra)
        run = run_pairing(config, small["root"] / "runs", progress=False, track=False)
        results = pd.read_parquet(run / "results.parquet")
        assert results.loc[results["split"] == "test", "auroc"].notna().any()


def test_results_are_tracked_in_mlflow(setup: dict[str, Path], trained: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{setup['root'] / 'mlflow.db'}"
    run_pairing(
        _config(setup), setup["root"] / "runs", progress=False, tracking_uri=uri
    )  # finished: no retrain
    from ecglab.bench.tracking import ensure_experiment, log_run

    ensure_experiment(uri, "ecglab")
    mlflow_id = log_run(trained, uri, "ecglab")
    run = MlflowClient(uri).get_run(mlflow_id)
    assert run.data.params["backbone"] == "ecgfounder" and "test_macro_auroc" in run.data.metrics


def test_shards_cover_every_input_once_and_pool_as_one_process(setup: dict[str, Path]) -> None:
    for n, world in itertools.product((0, 1, 5, 17), (1, 2, 3, 4)):
        parts = [np.arange(n)[shard_of(n, rank, world)] for rank in range(world)]
        np.testing.assert_array_equal(np.concatenate(parts), np.arange(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    config = _config(setup, backbone="s4")
    where = single_process()
    cohort, task, _ = prepare(config, setup["root"] / "runs", where)
    model = build_model(config, task, None).to(where.device)
    plan = model_input_plan(config, cohort, task)
    whole = EvalBatches(cohort.path, plan, task, "val", config.batch_size)
    shards = [EvalBatches(cohort.path, plan, task, "val", 64, None, rank, 2) for rank in range(2)]
    for name in ("rows", "segments", "starts"):
        together = np.concatenate([getattr(shard, name) for shard in shards])
        np.testing.assert_array_equal(together, getattr(whole, name))
    n, k = len(task.anchors), len(task.kept_targets)
    assert gather_to_main("part", where) == ["part"]
    unsharded = predict(model, whole, n, where, 0)
    parts = [local_pool(model, shard, n, where, 0) for shard in shards]
    np.testing.assert_allclose(pooled_scores(parts, n, k), unsharded, rtol=1e-5, equal_nan=True)
    assert (
        np.isfinite(unsharded[split_rows(task, "val")]).all()
        and np.isnan(unsharded[split_rows(task, "test")]).all()
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_train_and_score_sharded_as_one_process_scores(small: dict[str, Path]) -> None:
    """Two torchrun launchers of one process each, on loopback: DDP training, sharded evaluation, and the
    world size in the record and the run id. Without dropout (drawn per rank, so never the same as one
    process's), training at a global batch of 2 x 32 gives the one-process training at 64 within float
    tolerance (the loss is normalised by the global batch's observed labels, the last step shared out); and
    the sharded scores of the run's best checkpoint equal the ones a single process computes from it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    port = free_port()
    runs = small["root"] / "ddp"
    launchers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1"),
                *("--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--node-rank", str(node)),
                *("--rdzv-conf", f"is_host={int(node == 0)}", "--local-addr", "127.0.0.1"),
                *("-m", "ecglab.bench.cli", "train", "--backbone", "s4", "--task", "engine_closest_15min"),
                *("--cohort", str(small["store"]), "--task-spec", str(small["spec"]), "--epochs", "1"),
                *("--batch-size", "32", "--n-boot", "20", "--runs-dir", str(runs), "--no-track", "--quiet"),
                *("--option", "dropout=0"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for node in (0, 1)
    ]
    outputs = [launcher.communicate(timeout=600)[0] for launcher in launchers]
    assert [launcher.returncode for launcher in launchers] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    (run,) = [p for p in runs.iterdir() if p.name != "tasks"]
    record = read_record(run)
    assert (record.status, record.world_size, record.global_batch) == ("finished", 2, 64)
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    config = record.config
    assert record.run_id == run_id(config, "1", record.task.digest, record.cohort.hash, world_size=2)
    assert record.run_id != run_id(config, "1", record.task.digest, record.cohort.hash)
    sharded = pd.read_parquet(run / "results.parquet")
    sharded_scores = pd.read_parquet(run / "predictions.parquet")["score"].to_numpy()
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    engine.evaluate_run(run)  # the same best checkpoint, scored by this one process, unsharded
    single = pd.read_parquet(run / "results.parquet")
    single_scores = pd.read_parquet(run / "predictions.parquet")["score"].to_numpy()
    np.testing.assert_allclose(sharded_scores, single_scores, rtol=1e-5, atol=1e-7)
    assert set(single["split"]) == {"val", "test"}
    for column in ("auroc", "auprc", "auroc_low", "auroc_high", "sensitivity", "specificity"):
        np.testing.assert_allclose(sharded[column], single[column], atol=1e-6, equal_nan=True)
    val = single.loc[single["split"] == "val", "auroc"]
    assert history[0]["val_macro_auroc"] == pytest.approx(float(np.nanmean(val)), abs=1e-6)
    one = run_pairing(replace(config, batch_size=64), runs_dir=runs, track=False, progress=False)
    one_scores = pd.read_parquet(one / "predictions.parquet")["score"].to_numpy()
    np.testing.assert_allclose(sharded_scores, one_scores, rtol=1e-4, atol=1e-6)

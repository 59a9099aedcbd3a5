"""MLflow tracking of run folders: what is logged (nothing row-level unless asked), idempotency, nesting,
refused and unreachable stores.

Only SQLite files under pytest's temporary folders are used, and a loopback port nothing listens on for the
unreachable server. Creating an MLflow database takes seconds (its migrations), so one database serves the
module and each test logs into its own experiment.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from tracking_fixtures import (
    HISTORY,
    TARGETS,
    artifact_names,
    make_record,
    make_run_dir,
    snapshot,
)

from ecglab.bench.run_folder import (
    BackboneIdentity,
    CohortIdentity,
    TaskIdentity,
)
from ecglab.bench.tracking import (
    COMPLETE_TAG,
    RUN_ID_TAG,
    RunFolderError,
    TrackingError,
    ensure_experiment,
    log_run,
    resolve_tracking_uri,
)
from ecglab.errors import EcglabError


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """One SQLite store for the module (created, and migrated, once)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        uri = f"sqlite:///{tmp_path_factory.mktemp('tracking')}/mlflow.db"
        ensure_experiment(uri, "warm-up")
    return uri


@pytest.fixture
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def experiment(request) -> str:
    return f"ecglab-{request.node.name}"


def test_log_run_logs_params_metrics_tags_and_artifacts(tmp_path, tracking_uri, client, experiment):
    run_dir = make_run_dir(tmp_path / "run")
    before = snapshot(run_dir)

    run_id = log_run(run_dir, tracking_uri, experiment, tags={"study": "smoke", RUN_ID_TAG: "overridden?"})

    run = client.get_run(run_id)
    assert run.info.run_name == "net1d/cardiolab_now"
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == client.get_experiment_by_name(experiment).experiment_id

    params = run.data.params
    assert params["backbone"] == "net1d"
    assert params["task_version"] == "2"
    assert params["seed"] == "7"
    assert params["backbone_options.width"] == "64"
    assert params["backbone_options.kernel_sizes"] == "[3, 5, 7]"
    assert params["backbone_options.norm"] == "null"
    assert params["backbone_options.extra"] == "{}"
    assert params["lr"] == "0.001"
    assert params["batch_size"] == "64"
    assert params["backbone_options.amp"] == "true"
    assert params["backbone_options.optimizer.name"] == "adamw"
    assert params["backbone_options.optimizer.betas"] == "[0.9, 0.999]"
    assert params["backbone_options.augment_shift"] == "0.1"  # '/' is not a param-name character
    notes = params["backbone_options.notes"]
    assert len(notes) <= 6000 and notes.startswith("xxx") and notes.endswith("full value in run.json]")

    for key in ("train_loss", "val_macro_auroc", "lr", "epoch_seconds"):
        history = client.get_metric_history(run_id, key)
        source = "seconds" if key == "epoch_seconds" else key
        assert sorted((m.step, m.value) for m in history) == [(row["epoch"], row[source]) for row in HISTORY]

    metrics = run.data.metrics
    assert metrics["test_macro_auroc"] == pytest.approx((0.75 + 0.85) / 2)  # the NaN target is skipped
    assert metrics["test_macro_auprc"] == pytest.approx((0.3 + 0.4) / 2)
    assert metrics["test_macro_specificity"] == pytest.approx((0.6 + 0.7 + 0.8) / 3)
    assert metrics["test_n_targets"] == 3
    assert metrics["test_n_targets_scored"] == 2
    assert metrics["best_epoch"] == 1
    assert metrics["time_train_s"] == pytest.approx(301.5)
    assert metrics["val_macro_auroc"] == pytest.approx(0.68)  # last epoch; the val split adds no point

    tags = run.data.tags
    assert tags[RUN_ID_TAG] == "3f2a9c0d1e"  # ecglab's tags win over the caller's
    assert tags["study"] == "smoke"
    assert tags["ecglab.cohort_hash"] == "c0ffee12"
    assert tags["ecglab.task_version"] == "2"
    assert tags["ecglab.status"] == "finished"
    assert tags["ecglab.git_commit"] == tags["mlflow.source.git.commit"] == "19f6a68abc"
    assert tags["ecglab.device"] == "cuda:0 NVIDIA H100"
    assert tags["ecglab.package.torch"] == "2.13.0"
    assert tags[COMPLETE_TAG] == "complete"
    assert "mlflow.parentRunId" not in tags

    assert artifact_names(client, run_id) == {  # no predictions.parquet: row-level, only when asked
        "run.json",
        "history.jsonl",
        "results.parquet",
        "best.pt",
        "test_results.csv",
    }
    assert tags["ecglab.row_level"] == "false"
    downloaded = Path(client.download_artifacts(run_id, "", str(tmp_path / "download")))
    assert (downloaded / "run.json").read_bytes() == before["run.json"]
    assert (downloaded / "best.pt").read_bytes() == before["best.pt"]  # checkpoints still go
    table = pd.read_csv(downloaded / "test_results.csv")
    assert list(table["target"]) == sorted(TARGETS)
    assert "split" not in table.columns and "run_id" not in table.columns
    assert table.set_index("target").loc["sodium_low", "auroc"] == pytest.approx(0.85)
    assert math.isnan(table.set_index("target").loc["troponin_high", "auroc"])

    # artifacts live next to the database, not under the working folder; the run folder is untouched
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    assert run.info.artifact_uri.startswith((database.parent / "mlartifacts").as_uri())
    assert snapshot(run_dir) == before


PRIVATE_IDS = ("PT-7f3a91c2-priv", "AN-5d0e44b8-priv", "VS-0c9d13aa-priv", "SG-e21f7b60-priv")


def store_bytes(tracking_uri: str) -> bytes:
    """Every byte of the tracking store: the database and every artifact file next to it."""
    root = Path(tracking_uri.removeprefix("sqlite:///")).parent
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_nothing_row_level_reaches_mlflow_unless_asked(tmp_path, tracking_uri, client, experiment):
    """Patient, visit, anchor and segment ids and per-row scores stay out of the store (database and
    artifacts) without row_level; with it, predictions.parquet goes, and a later row_level log adds it."""
    run_dir = make_run_dir(tmp_path / "run", run_id="a9e1c0private")
    patient, anchor, visit, segment = PRIVATE_IDS
    rows = pd.DataFrame(
        {
            "anchor_id": [f"{anchor}{i}" for i in range(4)],
            "patient_id": [patient] * 4,
            "visit_id": [visit] * 4,
            "segment_id": [f"{segment}{i}" for i in range(4)],
            "split": ["test"] * 4,
            "target": ["potassium_high"] * 4,
            "label": [0.0, 1.0, 0.0, 1.0],
            "score": [0.123456789, 0.9, 0.2, 0.8],
        }
    )
    rows.to_parquet(run_dir / "predictions.parquet", index=False, compression=None)  # ids as plain bytes
    assert all(i.encode() in (run_dir / "predictions.parquet").read_bytes() for i in PRIVATE_IDS)

    run = client.get_run(log_run(run_dir, tracking_uri, experiment))
    everything = store_bytes(tracking_uri)
    assert not [i for i in PRIVATE_IDS if i.encode() in everything]
    logged = [*run.data.params.items(), *run.data.tags.items(), *((k, "") for k in run.data.metrics)]
    assert not [(k, v) for k, v in logged if any(i in k or i in v for i in PRIVATE_IDS)]
    assert "predictions.parquet" not in artifact_names(client, run.info.run_id)
    assert {"results.parquet", "best.pt"} <= artifact_names(client, run.info.run_id)

    again = log_run(run_dir, tracking_uri, experiment, row_level=True)  # asked now: added to the same run
    assert again == run.info.run_id and "predictions.parquet" in artifact_names(client, again)
    assert client.get_run(again).data.tags["ecglab.row_level"] == "true"
    everything = store_bytes(tracking_uri)
    assert all(i.encode() in everything for i in PRIVATE_IDS)

    other = make_run_dir(tmp_path / "other", run_id="b7c2private")
    rows.to_parquet(other / "predictions.parquet", index=False)
    flagged = log_run(other, tracking_uri, experiment, row_level=True)
    downloaded = Path(client.download_artifacts(flagged, "predictions.parquet", str(tmp_path / "dl")))
    assert set(pd.read_parquet(downloaded)["patient_id"]) == {patient}


def test_logging_twice_reuses_the_run(tmp_path, tracking_uri, client, experiment):
    run_dir = make_run_dir(tmp_path / "run", checkpoint=False)
    experiment_id = ensure_experiment(tracking_uri, experiment)

    first = log_run(run_dir, tracking_uri, experiment)
    second = log_run(run_dir, tracking_uri, experiment)

    assert first == second
    runs = client.search_runs([experiment_id])
    assert [r.info.run_id for r in runs] == [first]
    assert len(client.get_metric_history(first, "train_loss")) == len(HISTORY)
    assert "best.pt" not in artifact_names(client, first)  # a scikit-learn baseline has none

    other = log_run(make_run_dir(tmp_path / "other", run_id="99aa"), tracking_uri, experiment)
    assert other != first
    assert len(client.search_runs([experiment_id])) == 2


def test_a_partly_logged_run_is_replaced(tmp_path, tracking_uri, client, experiment):
    run_dir = make_run_dir(tmp_path / "run")
    experiment_id = ensure_experiment(tracking_uri, experiment)
    tags = {RUN_ID_TAG: "3f2a9c0d1e"}  # tagged at creation, but never marked complete
    failed = client.create_run(experiment_id, tags=tags).info.run_id  # an attempt that failed
    client.set_terminated(failed, "FAILED")
    two_hours_ago = int((time.time() - 7200) * 1000)
    killed = client.create_run(experiment_id, start_time=two_hours_ago, tags=tags).info.run_id  # SIGKILLed
    ongoing = client.create_run(experiment_id, tags=tags).info.run_id  # another process, logging now

    with pytest.raises(TrackingError, match=f"MLflow run {ongoing} is logging this run folder right now"):
        log_run(run_dir, tracking_uri, experiment)
    client.set_terminated(ongoing, "KILLED")
    run_id = log_run(run_dir, tracking_uri, experiment)

    assert run_id not in (failed, killed, ongoing)
    for partial in (failed, killed, ongoing):
        assert client.get_run(partial).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    assert client.get_run(run_id).data.tags[COMPLETE_TAG] == "complete"


def test_child_run_is_nested_under_its_parent(tmp_path, tracking_uri, client, experiment):
    experiment_id = ensure_experiment(tracking_uri, experiment)
    parent = client.create_run(experiment_id, run_name="optuna/net1d/cardiolab_now").info.run_id

    children = [
        log_run(make_run_dir(tmp_path / f"trial{i}", run_id=f"trial{i}"), tracking_uri, experiment, parent)
        for i in range(2)
    ]

    nested = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    assert sorted(r.info.run_id for r in nested) == sorted(children)
    assert client.get_run(parent).data.tags.get("mlflow.parentRunId") is None

    other_experiment = ensure_experiment(tracking_uri, experiment + "-other")
    stranger = client.create_run(other_experiment).info.run_id
    with pytest.raises(TrackingError, match="belongs to experiment"):
        log_run(make_run_dir(tmp_path / "lost", run_id="lost"), tracking_uri, experiment, stranger)


def test_a_failed_pairing_is_logged_as_failed(tmp_path, tracking_uri, client, experiment):
    run_dir = make_run_dir(tmp_path / "run", status="failed", results=False, checkpoint=False)

    run = client.get_run(log_run(run_dir, tracking_uri, experiment))

    assert run.info.status == "FAILED"
    assert run.data.tags["ecglab.status"] == "failed"
    assert "test_macro_auroc" not in run.data.metrics
    assert artifact_names(client, run.info.run_id) == {"run.json", "history.jsonl"}


def test_versions_and_hashes_come_from_run_json_sections(tmp_path, tracking_uri, client, experiment):
    """The engine keeps a flat config and puts task version and cohort hash in run.json's own sections."""
    base = make_record(status="failed")
    record = base.replace(
        config=replace(base.config, backbone_options={}, epochs=20),
        task=TaskIdentity(name="cardiolab_now", version="3", digest="d1g357", targets=TARGETS),
        cohort=CohortIdentity(name="mcmed", hash="feedbeef"),
        backbone=BackboneIdentity(name="net1d", kind="torch", preset="small"),
        error="RuntimeError: CUDA out of memory",
        provenance=replace(base.provenance, python="3.11.9", packages={"torch": "2.13.0", "optuna": None}),
    )
    run_dir = make_run_dir(tmp_path / "run", results=False, record=record)

    run = client.get_run(log_run(run_dir, tracking_uri, experiment))

    params, tags = run.data.params, run.data.tags
    assert params["lr"] == "0.001" and params["epochs"] == "20" and params["task_specs"] == "[]"
    assert params["backbone_options"] == "{}"
    assert params["task_version"] == "3" and params["cohort_hash"] == "feedbeef"
    assert params["task_digest"] == "d1g357"
    assert tags["ecglab.task_version"] == "3" and tags["ecglab.cohort_hash"] == "feedbeef"
    assert tags["ecglab.backbone_kind"] == "torch"
    assert tags["ecglab.error"] == "RuntimeError: CUDA out of memory"
    assert tags["ecglab.python"] == "3.11.9"
    assert tags["ecglab.package.torch"] == "2.13.0" and "ecglab.package.optuna" not in tags
    assert run.info.status == "FAILED"


def test_an_incomplete_run_folder_is_not_logged(tmp_path, tracking_uri, client, experiment):
    run_dir = make_run_dir(tmp_path / "run")
    (run_dir / "results.parquet").unlink()

    with pytest.raises(RunFolderError, match=r"results\.parquet"):
        log_run(run_dir, tracking_uri, experiment)
    with pytest.raises(RunFolderError, match=r"run\.json"):
        log_run(tmp_path / "empty", tracking_uri, experiment)
    assert client.get_experiment_by_name(experiment) is None


def test_ensure_experiment_is_idempotent(tracking_uri, client, experiment):
    first = ensure_experiment(tracking_uri, experiment)
    assert ensure_experiment(tracking_uri, experiment) == first
    location = client.get_experiment(first).artifact_location
    assert location.endswith(f"/mlartifacts/{experiment}")

    client.delete_experiment(first)
    with pytest.raises(TrackingError, match="deleted"):
        ensure_experiment(tracking_uri, experiment)


def test_resolve_tracking_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(None) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:///runs/track.db") == f"sqlite:///{tmp_path / 'runs' / 'track.db'}"
    assert resolve_tracking_uri("sqlite:////abs/track.db") == "sqlite:////abs/track.db"
    assert not (tmp_path / "mlflow.db").exists()  # resolving creates nothing


@pytest.mark.parametrize("uri", ["file:///tmp/mlruns", "file:mlruns", "./mlruns", "/tmp/mlruns"])
def test_file_store_is_refused(tmp_path, monkeypatch, uri):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TrackingError, match="sqlite:///"):
        resolve_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(TrackingError, match="file store"):
        resolve_tracking_uri(None)
    run_dir = make_run_dir(tmp_path / "run")
    with pytest.raises(TrackingError, match="MLflow 3 refuses"):
        log_run(run_dir, uri, "ecglab")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_unreachable_server_raises_quickly_and_leaves_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    run_dir = make_run_dir(tmp_path / "run")
    before = snapshot(run_dir)

    started = time.monotonic()
    with pytest.raises(TrackingError) as caught:
        log_run(run_dir, "http://127.0.0.1:9", "ecglab")
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert isinstance(caught.value, EcglabError)
    assert str(run_dir) in message and "complete and intact" in message
    assert f"ecglab track {run_dir}" in message
    assert "127.0.0.1:9" in message
    assert elapsed < 10
    assert snapshot(run_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]

    with pytest.raises(TrackingError, match="could not open or create"):
        ensure_experiment("http://127.0.0.1:9", "ecglab")

"""The MLflow view of a study: its parent run (created once, stored in the study), each trial a child run
of it (pruned trials too, with the epochs they ran; failed ones with their error), and the study's counts
and best value on the parent. The study holds the truth; MLflow failures never change a trial's result."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecglab.bench.run_folder import read_record
from ecglab.bench.tracking import redact_uri
from ecglab.bench.tune.settings import (
    ATTR_CONFIG,
    ATTR_MLFLOW,
    ATTR_SETTINGS,
    LOCAL_FIELDS,
    METRIC,
    TuneError,
)
from ecglab.bench.tune.study import TuneStudy


def mlflow_client(uri: str) -> Any:
    """An MLflow client of the tracking store ``uri`` (telemetry off, HTTP retries bounded to ~30 s)."""
    from mlflow import MlflowClient

    from ecglab.bench.tracking import bound_http_retries

    bound_http_retries()
    return MlflowClient(tracking_uri=uri)


def ensure_parent_run(tuned: TuneStudy | Any, uri: str, experiment: str) -> str:
    """The MLflow run id of the study's parent run, created (and stored in the study) when it has none.
    Raises TuneError when the stored one is not in this tracking store or experiment."""
    from ecglab.bench.tracking import ensure_experiment, flatten

    study = tuned.study if isinstance(tuned, TuneStudy) else tuned
    experiment_id = ensure_experiment(uri, experiment)
    client = mlflow_client(uri)
    stored = study.user_attrs.get(ATTR_MLFLOW)
    if stored:
        parent = stored["parent_run_id"]
        try:
            run = client.get_run(parent)
        except Exception as err:
            raise TuneError(
                f"the MLflow parent run {parent} of study {study.study_name!r} is not in {redact_uri(uri)} "
                f"(its trials are logged at {stored.get('tracking_uri')}): pass that --tracking-uri, or "
                "--no-track"
            ) from err
        if run.info.experiment_id != experiment_id:
            raise TuneError(
                f"the MLflow parent run of study {study.study_name!r} is in experiment "
                f"{stored.get('experiment')!r}, not {experiment!r}: "
                f"pass --experiment {stored.get('experiment')}"
            )
        return parent
    attrs = study.user_attrs
    config = attrs.get(ATTR_CONFIG, {})
    tags = {
        "ecglab.kind": "optuna-study",
        "ecglab.study": study.study_name,
        "ecglab.backbone": str(config.get("backbone", "")),
        "ecglab.task": str(config.get("task", "")),
    }
    run_id = client.create_run(experiment_id, run_name=f"optuna:{study.study_name}", tags=tags).info.run_id
    settings = attrs.get(ATTR_SETTINGS) or {}
    params = {f"study.{k}": v for k, v in flatten(settings)}
    params.update({k: v for k, v in flatten(config) if k not in LOCAL_FIELDS})
    from mlflow.entities import Param

    batch = [Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in params.items()]
    for start in range(0, len(batch), 100):
        client.log_batch(run_id, params=batch[start : start + 100])
    client.set_terminated(run_id, "FINISHED")
    study.set_user_attr(
        ATTR_MLFLOW, {"parent_run_id": run_id, "experiment": experiment, "tracking_uri": redact_uri(uri)}
    )
    return run_id


def log_trial(
    run_dir: Path,
    uri: str,
    experiment: str,
    parent: str | None,
    tags: dict[str, str],
    value: float,
    row_level: bool = False,
) -> str:
    """A complete trial's run folder as a child run, with the objective (the run logs test metrics only);
    its predictions (patient and anchor ids) only with ``row_level``."""
    from ecglab.bench.tracking import log_run

    mlflow_id = log_run(run_dir, uri, experiment, parent_run_id=parent, tags=tags, row_level=row_level)
    mlflow_client(uri).log_metric(mlflow_id, METRIC, value)
    return mlflow_id


def log_unfinished(
    run_dir: Path,
    scores: list[tuple[int, float]],
    uri: str,
    experiment: str,
    parent: str,
    tags: dict[str, str],
) -> str:
    """A child run for a pruned trial (run.json says pruned, which log_run does not take): its config,
    the epochs it ran, status KILLED."""
    from mlflow.entities import Metric, Param, RunTag

    from ecglab.bench.tracking import (
        PARENT_TAG,
        RUN_ID_TAG,
        RunFolder,
        ensure_experiment,
        epoch_metrics,
        run_params,
        run_tags,
    )

    history = [{"epoch": e, METRIC: s} for e, s in scores if math.isfinite(s)]
    folder = RunFolder(path=run_dir, record=read_record(run_dir), history=history, results=None)
    client = mlflow_client(uri)
    experiment_id = ensure_experiment(uri, experiment)
    run_id = client.create_run(
        experiment_id, run_name=folder.name, tags={RUN_ID_TAG: folder.run_id, PARENT_TAG: parent}
    ).info.run_id
    now = int(time.time() * 1000)
    params = [Param(k, v) for k, v in run_params(folder).items()]
    run_tags_ = [RunTag(k, v) for k, v in run_tags(folder, tags).items()]
    for start in range(0, max(len(params), len(run_tags_)), 100):
        client.log_batch(run_id, params=params[start : start + 100], tags=run_tags_[start : start + 100])
    client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v, step in epoch_metrics(folder)])
    client.set_terminated(run_id, "KILLED")
    return run_id


def update_parent(uri: str, parent: str, trials: Sequence[Any], best: Any) -> None:
    """The study's trial counts by state and its best value and trial, on the parent run (a view only)."""
    from mlflow.entities import Metric

    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    now, step = int(time.time() * 1000), len(trials)
    metrics = [Metric(f"n_trials_{state.lower()}", float(n), now, step) for state, n in counts.items()]
    if best is not None:
        metrics.append(Metric(f"best_{METRIC}", float(best.value), now, step))
        metrics.append(Metric("best_trial", float(best.number), now, step))
    with contextlib.suppress(Exception):  # a view only; the study holds the truth
        mlflow_client(uri).log_batch(parent, metrics=metrics)

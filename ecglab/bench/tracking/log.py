"""Logging one run folder as one MLflow run, idempotently: keyed on the tag ``ecglab.run_id`` and marked
complete last, so a partly logged run (its process died, the server went away) is replaced on the next try.

Privacy by default: the run's aggregates (params, tags, metrics, ``run.json``, ``history.jsonl``,
``results.parquet``, the per-target test table) and its checkpoint go to MLflow; its row-level file
(``predictions.parquet``: anchor and patient ids with per-row scores) goes only with ``row_level=True``
(``--log-row-level``), which the data use agreement of the cohort must allow for the tracking server."""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecglab.bench.tracking.contents import (
    COMPLETE_TAG,
    COMPLETE_VALUE,
    PARENT_TAG,
    RUN_ID_TAG,
    epoch_metrics,
    per_target_table,
    run_params,
    run_tags,
    summary_metrics,
)
from ecglab.bench.tracking.folder import ROW_LEVEL_FILES, RUN_STATUS, RunFolder, read_run_folder
from ecglab.bench.tracking.store import (
    TrackingError,
    check_tracking_uri,
    experiment_id,
    first_line,
    mlflow_client,
    redact_text,
    redact_uri,
    uri_argument,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

STALE_AFTER_S = 3600  # an unfinished log this old is taken for one whose process died, and replaced
TEST_TABLE = "test_results.csv"
PARAMS_PER_BATCH = 100  # batch sizes of log_batch
METRICS_PER_BATCH = 1000
ROW_LEVEL_TAG = "ecglab.row_level"  # "true" when the row-level files were logged too
ROW_LEVEL_FLAG = "--log-row-level"


def log_run(
    run_dir: str | os.PathLike[str],
    uri: str,
    experiment: str,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    row_level: bool = False,
) -> str:
    """Log one run folder as one MLflow run (named backbone/task) in experiment ``experiment`` (a name).

    Returns the MLflow run id. Idempotent: when the experiment already holds a completely logged run with the
    same ``ecglab.run_id`` tag, that run's id is returned and nothing is logged (but the row-level files,
    when asked now and not logged then); a partly logged one (an earlier attempt died) is deleted and logged
    afresh. ``parent_run_id`` nests the run under that MLflow run (e.g. an Optuna study's). ``row_level``
    also logs ``predictions.parquet`` (patient and anchor ids, per-row scores): only where the data use
    agreement allows it. Raises :class:`RunFolderError` when the folder is incomplete and
    :class:`TrackingError` when MLflow fails; in both cases nothing in ``run_dir`` has been touched.
    """
    folder = read_run_folder(run_dir)
    check_tracking_uri(uri)
    try:
        return _log_run(folder, uri, experiment, parent_run_id, tags, row_level)
    except Exception as err:
        raise TrackingError(failure_message(folder.path, uri, experiment, err, row_level)) from err


def track_command(run_dir: str | os.PathLike[str], uri: str, experiment: str, row_level: bool = False) -> str:
    """The ``ecglab track RUN ...`` command that logs ``run_dir`` later (a URI with a password is given as
    ``"$MLFLOW_TRACKING_URI"``: no password is ever printed)."""
    command = shlex.join(["ecglab", "track", str(run_dir)])
    command += f" --tracking-uri {uri_argument(uri)} --experiment {shlex.quote(experiment)}"
    return command + (f" {ROW_LEVEL_FLAG}" if row_level else "")


def failure_message(
    run_dir: Path, uri: str, experiment: str, err: BaseException, row_level: bool = False
) -> str:
    """Why logging failed, that the run folder is intact, and the command that logs it later."""
    reason = str(err) if isinstance(err, TrackingError) else f"{type(err).__name__}: {first_line(err)}"
    reason = redact_text(reason, uri)
    return (
        f"could not log {run_dir} to MLflow experiment {experiment!r} at {redact_uri(uri)}: {reason}. "
        f"The result files in {run_dir} are complete and intact (tracking only reads them); log them later "
        f"with `{track_command(run_dir, uri, experiment, row_level)}` (or ecglab.bench.tracking.log_run), "
        "which skips what is already logged."
    )


def find_logged_run(client: MlflowClient, experiment_id: str, ecglab_run_id: str) -> list[Any]:
    """Active MLflow runs of the experiment tagged with this ecglab run id, oldest first."""
    from mlflow.entities import ViewType

    return list(
        client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_ID_TAG}` = '{ecglab_run_id}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            order_by=["attributes.start_time ASC"],
        )
    )


def _log_run(
    folder: RunFolder,
    uri: str,
    experiment: str,
    parent_run_id: str | None,
    tags: Mapping[str, Any] | None,
    row_level: bool,
) -> str:
    client = mlflow_client(uri)
    experiment_key = experiment_id(client, uri, experiment)
    status = RUN_STATUS[folder.status]
    logged = find_logged_run(client, experiment_key, folder.run_id)
    for run in logged:
        if run.data.tags.get(COMPLETE_TAG) == COMPLETE_VALUE:
            if row_level and run.data.tags.get(ROW_LEVEL_TAG) != "true":  # asked now, not then
                _log_row_level(client, run.info.run_id, folder)
            if run.info.status == "RUNNING":  # died between the last tag and set_terminated
                client.set_terminated(run.info.run_id, status)
            return run.info.run_id
    _drop_partial_logs(client, logged)
    if parent_run_id is not None:
        parent = client.get_run(parent_run_id)
        if parent.info.experiment_id != experiment_key:
            raise TrackingError(
                f"parent run {parent_run_id} belongs to experiment {parent.info.experiment_id}, "
                f"not {experiment!r} ({experiment_key})"
            )

    first_tags = {RUN_ID_TAG: folder.run_id}
    if parent_run_id is not None:
        first_tags[PARENT_TAG] = parent_run_id
    run_id = client.create_run(experiment_key, run_name=folder.name, tags=first_tags).info.run_id
    try:
        _log_contents(client, run_id, folder, tags)
        if row_level:
            _log_row_level(client, run_id, folder)
        else:
            client.set_tag(run_id, ROW_LEVEL_TAG, "false")
        client.set_tag(run_id, COMPLETE_TAG, COMPLETE_VALUE)
        client.set_terminated(run_id, status)
    except BaseException:
        with suppress(Exception):
            client.set_terminated(run_id, "FAILED")  # no COMPLETE_TAG: the next attempt replaces it
        raise
    return run_id


def _drop_partial_logs(client: MlflowClient, logged: list[Any]) -> None:
    """Delete partial logs of earlier attempts; refuse while one is being logged right now."""
    for run in logged:
        age_s = time.time() - (run.info.start_time or 0) / 1000
        if run.info.status == "RUNNING" and age_s < STALE_AFTER_S:
            raise TrackingError(
                f"MLflow run {run.info.run_id} is logging this run folder right now (started {age_s:.0f} s "
                "ago, not complete yet); wait for it, or if the process logging it died, delete that MLflow "
                f"run (`mlflow runs delete --run-id {run.info.run_id}`) and log again"
            )
        client.delete_run(run.info.run_id)


def _log_contents(
    client: MlflowClient, run_id: str, folder: RunFolder, extra: Mapping[str, Any] | None
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    params = [Param(k, v) for k, v in run_params(folder).items()]
    tags = [RunTag(k, v) for k, v in run_tags(folder, extra).items()]
    metrics = [Metric(k, v, now, step) for k, v, step in epoch_metrics(folder)]
    metrics += [Metric(k, v, now, 0) for k, v in summary_metrics(folder).items()]
    for start in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + PARAMS_PER_BATCH])
    for start in range(0, len(tags), PARAMS_PER_BATCH):
        client.log_batch(run_id, tags=tags[start : start + PARAMS_PER_BATCH])
    for start in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + METRICS_PER_BATCH])

    for file in folder.files():
        if file.name not in ROW_LEVEL_FILES:  # those only with row_level (_log_row_level)
            client.log_artifact(run_id, str(file))
    table = per_target_table(folder)
    if table is not None:
        with tempfile.TemporaryDirectory(prefix="ecglab-track-") as scratch:  # never inside the run folder
            csv = Path(scratch) / TEST_TABLE
            table.to_csv(csv, index=False)
            client.log_artifact(run_id, str(csv))


def _log_row_level(client: MlflowClient, run_id: str, folder: RunFolder) -> None:
    """The row-level files (``predictions.parquet``), then the tag saying they were logged."""
    for file in folder.files():
        if file.name in ROW_LEVEL_FILES:
            client.log_artifact(run_id, str(file))
    client.set_tag(run_id, ROW_LEVEL_TAG, "true")

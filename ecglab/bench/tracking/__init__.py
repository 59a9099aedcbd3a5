"""MLflow tracking of finished run folders: the folder's files are the data of record, MLflow is a view.

The engine writes ``RUN_DIR`` (``run.json``, ``history.jsonl``, ``results.parquet``, ``predictions.parquet``,
``best.pt``) atomically first; :func:`log_run` then reads those files, and only reads them, to make one MLflow
run per (backbone, task) pairing. Logging is idempotent (keyed on the tag ``ecglab.run_id``), so a run folder
whose tracking failed (server down, disk full) can simply be logged again later with ``ecglab track RUN_DIR``.
Nothing row-level (``predictions.parquet``: patient and anchor ids, per-row scores) is logged unless asked
(``row_level=True``, ``--log-row-level``); MLflow's HTTP retries are bounded to ~30 s in all.

MLflow 3 refuses the plain ``file:`` store; the default here is ``sqlite:///<absolute ./mlflow.db>``, with the
artifacts next to the database. Create the experiment (and with it a fresh database) once with
:func:`ensure_experiment` before starting parallel workers: two processes creating the same new database at
once can crash. ``mlflow`` is imported only inside the functions that talk to it, so importing this package
stays light.

Modules: ``store`` (tracking URI, client, experiments), ``folder`` (reading a run folder), ``contents``
(params, tags and metrics of a run) and ``log`` (logging, idempotently).
"""

from __future__ import annotations

from ecglab.bench.tracking.contents import (
    COMPLETE_TAG,
    PARENT_TAG,
    RUN_ID_TAG,
    epoch_metrics,
    flatten,
    identity,
    per_target_table,
    run_params,
    run_tags,
    summary_metrics,
)
from ecglab.bench.tracking.folder import RunFolder, RunFolderError, read_run_folder
from ecglab.bench.tracking.log import ROW_LEVEL_FLAG, ROW_LEVEL_TAG, find_logged_run, log_run, track_command
from ecglab.bench.tracking.store import (
    TrackingError,
    bound_http_retries,
    check_tracking_uri,
    ensure_experiment,
    first_line,
    redact_text,
    redact_uri,
    resolve_tracking_uri,
    uri_argument,
)

__all__ = [
    "COMPLETE_TAG",
    "PARENT_TAG",
    "ROW_LEVEL_FLAG",
    "ROW_LEVEL_TAG",
    "RUN_ID_TAG",
    "RunFolder",
    "RunFolderError",
    "TrackingError",
    "bound_http_retries",
    "check_tracking_uri",
    "ensure_experiment",
    "epoch_metrics",
    "find_logged_run",
    "first_line",
    "flatten",
    "identity",
    "log_run",
    "per_target_table",
    "read_run_folder",
    "redact_text",
    "redact_uri",
    "resolve_tracking_uri",
    "run_params",
    "run_tags",
    "summary_metrics",
    "track_command",
    "uri_argument",
]

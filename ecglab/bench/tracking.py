"""MLflow tracking of finished run folders: the folder's files are the data of record, MLflow is a view.

The engine writes ``RUN_DIR`` (``run.json``, ``history.jsonl``, ``results.parquet``, ``predictions.parquet``,
``best.pt``) atomically first; :func:`log_run` then reads those files, and only reads them, to make one MLflow
run per (backbone, task) pairing. Logging is idempotent (keyed on the tag ``ecglab.run_id``), so a run folder
whose tracking failed (server down, disk full) can simply be logged again later with ``ecglab track RUN_DIR``.

MLflow 3 refuses the plain ``file:`` store; the default here is ``sqlite:///<absolute ./mlflow.db>``. SQLite
stores get their artifacts next to the database (``<db folder>/mlartifacts/<experiment>``) instead of MLflow's
default ``./mlruns`` under whatever folder the process happens to run in. Create the experiment (and with it a
fresh database) once with :func:`ensure_experiment` before starting parallel workers: two processes creating
the same new database at once can crash.

``mlflow`` is imported only inside the functions that talk to it, so importing this module stays light.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ecglab.errors import EcglabError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

DEFAULT_DB = "mlflow.db"
ARTIFACTS_FOLDER = "mlartifacts"

RUN_ID_TAG = "ecglab.run_id"
COMPLETE_TAG = "ecglab.tracking"  # set to COMPLETE_VALUE last, after every param, metric and artifact
COMPLETE_VALUE = "complete"
PARENT_TAG = "mlflow.parentRunId"
STALE_AFTER_S = 3600  # an unfinished log this old is taken for one whose process died, and replaced

RUN_FILES = ("run.json", "history.jsonl", "results.parquet", "predictions.parquet", "best.pt")
REQUIRED_WHEN_FINISHED = ("history.jsonl", "results.parquet", "predictions.parquet")
TEST_TABLE = "test_results.csv"
SUMMARY_METRICS = ("auroc", "auprc", "sensitivity", "specificity", "ppv", "npv", "f1")
RUN_STATUS = {"finished": "FINISHED", "failed": "FAILED"}
RECORD_FIELDS = {  # name: where run.json keeps it when the config does not
    "task_version": ("task", "version"),
    "task_digest": ("task", "digest"),
    "cohort_hash": ("cohort", "hash"),
    "backbone_kind": ("backbone", "kind"),
}

# MLflow's limits (mlflow.utils.validation, 3.17.2) and batch sizes of log_batch
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
TRUNCATED = "...[truncated; full value in run.json]"
_BAD_KEY_CHARS = re.compile(r"[^\w.\- :]")
_SAFE_RUN_ID = re.compile(r"^[\w.:\-]+$")


class TrackingError(EcglabError):
    """MLflow could not be reached or refused the tracking; the run folder itself is untouched."""


class RunFolderError(EcglabError):
    """A run folder lacks a file the engine writes, or one of its files cannot be read."""


# --- tracking URI


def resolve_tracking_uri(cli_value: str | None = None) -> str:
    """The tracking URI: the CLI flag, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<abs ./mlflow.db>``.

    A relative SQLite path is made absolute (workers started elsewhere then write to the same database);
    ``file:`` URIs and bare paths (MLflow's file store) are refused with a :class:`TrackingError`.
    """
    uri = (cli_value or "").strip() or os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        return "sqlite:///" + str(Path(DEFAULT_DB).resolve())
    check_tracking_uri(uri)
    path = _sqlite_path(uri)
    if path is not None and not path.is_absolute():
        query = uri.partition("?")[2]
        uri = "sqlite:///" + str(path.resolve()) + (f"?{query}" if query else "")
    return uri


def check_tracking_uri(uri: str) -> None:
    """Refuse what MLflow 3 refuses (its file store), with the fix in the message."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "file" or scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        raise TrackingError(
            f"tracking URI {uri!r} names MLflow's file store, which MLflow 3 refuses; use a database, e.g. "
            f"--tracking-uri sqlite:///{Path(DEFAULT_DB).resolve()} (the default), or a tracking server "
            "such as http://HOST:5000 (existing ./mlruns folders convert with `mlflow migrate-filestore`)"
        )


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URI; None for other URIs and in-memory SQLite."""
    if not uri.lower().startswith("sqlite:///"):
        return None
    raw = unquote(uri[len("sqlite:///") :].partition("?")[0])
    if not raw or raw == ":memory:":
        return None
    return Path(raw)


def redact_uri(uri: str) -> str:
    """The URI without a password, for messages."""
    with suppress(ValueError):
        parts = urlsplit(uri)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    return uri


def _client(uri: str) -> MlflowClient:
    # ecglab makes no network calls of its own: MLflow's usage telemetry stays off unless the user opts in
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    check_tracking_uri(uri)
    path = _sqlite_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


# --- experiment


def ensure_experiment(uri: str, name: str) -> str:
    """The id of experiment ``name``, created when missing (call once before workers start)."""
    check_tracking_uri(uri)
    try:
        return _ensure_experiment(_client(uri), uri, name)
    except TrackingError:
        raise
    except Exception as err:
        raise TrackingError(
            f"could not open or create MLflow experiment {name!r} at {redact_uri(uri)}: "
            f"{type(err).__name__}: {_first_line(err)}"
        ) from err


def _ensure_experiment(client: MlflowClient, uri: str, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=_artifact_location(uri, name))
        except Exception:
            experiment = client.get_experiment_by_name(name)  # created meanwhile by another process
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise TrackingError(
            f"MLflow experiment {name!r} at {redact_uri(uri)} is deleted; restore it "
            f"(MlflowClient().restore_experiment({experiment.experiment_id!r})) or choose another name"
        )
    return experiment.experiment_id


def _artifact_location(uri: str, name: str) -> str | None:
    """For SQLite: ``<db folder>/mlartifacts/<experiment>``, not ``./mlruns`` under the working folder."""
    path = _sqlite_path(uri)
    if path is None:
        return None  # a server or another database decides
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "experiment"
    if slug != name:
        slug += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return (path.resolve().parent / ARTIFACTS_FOLDER / slug).as_uri()


# --- run folder


@dataclass(frozen=True)
class RunFolder:
    """What ``log_run`` reads from a run folder (the folder itself is never written)."""

    path: Path
    record: dict[str, Any]
    history: list[dict[str, Any]]
    results: pd.DataFrame | None

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def config(self) -> dict[str, Any]:
        return self.record["config"]

    @property
    def status(self) -> str:
        return str(self.record["status"])

    @property
    def name(self) -> str:
        return f"{self.config.get('backbone', '?')}/{self.config.get('task', '?')}"

    def files(self) -> list[Path]:
        return [self.path / name for name in RUN_FILES if (self.path / name).is_file()]


def read_run_folder(run_dir: str | os.PathLike[str]) -> RunFolder:
    """Read and check run.json, history.jsonl and results.parquet (else :class:`RunFolderError`)."""
    import pandas as pd

    path = Path(run_dir)
    run_json = path / "run.json"
    if not run_json.is_file():
        raise RunFolderError(f"{run_json} does not exist: {path} is not a finished ecglab run folder")
    try:
        record = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{run_json} cannot be read: {err}") from err
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise RunFolderError(f"{run_json} has no 'config' object; it was not written by the ecglab engine")
    run_id = record.get("run_id")
    if not isinstance(run_id, str) or not _SAFE_RUN_ID.match(run_id):
        raise RunFolderError(f"{run_json}: 'run_id' must be a hash of letters and digits, got {run_id!r}")
    if record.get("status") not in RUN_STATUS:
        raise RunFolderError(
            f"{run_json}: 'status' must be one of {sorted(RUN_STATUS)}, got {record.get('status')!r}"
        )
    if record["status"] == "finished":
        missing = [name for name in REQUIRED_WHEN_FINISHED if not (path / name).is_file()]
        if missing:
            raise RunFolderError(f"{path} says it finished but lacks {', '.join(missing)}")

    history: list[dict[str, Any]] = []
    history_file = path / "history.jsonl"
    if history_file.is_file():
        try:
            lines = history_file.read_text(encoding="utf-8").splitlines()
            history = [json.loads(line) for line in lines if line.strip()]
        except (OSError, ValueError) as err:
            raise RunFolderError(f"{history_file} cannot be read: {err}") from err
        if not all(isinstance(row, dict) for row in history):
            raise RunFolderError(f"{history_file}: every line must be a JSON object")

    results = None
    results_file = path / "results.parquet"
    if results_file.is_file():
        try:
            results = pd.read_parquet(results_file)
        except Exception as err:
            raise RunFolderError(f"{results_file} cannot be read: {err}") from err
        missing = {"target", "split", "auroc"} - set(results.columns)
        if missing:
            raise RunFolderError(f"{results_file} lacks the columns {sorted(missing)}")
        if "run_id" in results.columns and not (results["run_id"].astype(str) == run_id).all():
            raise RunFolderError(f"{results_file} holds rows of another run than {run_id} (run.json)")
    return RunFolder(path=path, record=record, history=history, results=results)


# --- what is logged


def _key(raw: str) -> str:
    """A key MLflow accepts: only ``[\\w.- :]`` (no slashes, so no path tricks) and at most 250 characters."""
    key = _BAD_KEY_CHARS.sub("_", raw) or "_"
    if key == "." or key.startswith(".."):
        key = "_" + key
    if len(key) > MAX_KEY_LENGTH:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
        key = key[: MAX_KEY_LENGTH - len(digest) - 1] + "-" + digest
    return key


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` -> ``("a.b", 1)``; lists and empty dicts are leaves."""
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, dotted + ".")
        else:
            yield dotted, value


def identity(folder: RunFolder) -> dict[str, Any]:
    """Backbone, task, cohort, seed and the versions and hashes that make results comparable.

    Read from the config, or else from run.json's ``task``/``cohort``/``backbone`` sections (the engine keeps
    ``task_version`` as ``task.version`` and ``cohort_hash`` as ``cohort.hash`` there).
    """
    config, record = folder.config, folder.record
    found = {
        name: config[name]
        for name in ("backbone", "preset", "task", "cohort", "seed")
        if config.get(name) is not None and not isinstance(config[name], (Mapping, list))
    }
    for name, (section, key) in RECORD_FIELDS.items():
        value = config.get(name)
        if value is None and isinstance(record.get(section), Mapping):
            value = record[section].get(key)
        if value is not None and not isinstance(value, (Mapping, list)):
            found[name] = value
    return found


def run_params(folder: RunFolder) -> dict[str, str]:
    """The flattened config as MLflow params (dotted keys, JSON-ish text values within MLflow's limits),
    plus task_version, task_digest and cohort_hash when the config does not hold them itself."""
    params: dict[str, str] = {}
    for dotted, value in flatten(folder.config):
        key = _key(dotted)
        if key in params:  # two raw keys sanitised to the same key
            key = _key(f"{key}-{hashlib.sha256(dotted.encode()).hexdigest()[:10]}")
        params[key] = _text(value, MAX_PARAM_VALUE_LENGTH)
    found = identity(folder)
    for name in ("task_version", "task_digest", "cohort_hash"):
        if name in found and name not in params:
            params[name] = _text(found[name], MAX_PARAM_VALUE_LENGTH)
    return params


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def epoch_metrics(folder: RunFolder) -> list[tuple[str, float, int]]:
    """(key, value, step=epoch) for each number of each history line; seconds becomes epoch_seconds."""
    rows = []
    for index, line in enumerate(folder.history):
        epoch = line.get("epoch", index)
        step = int(epoch) if _number(epoch) is not None else index
        for name, value in line.items():
            number = _number(value)
            if name == "epoch" or number is None:
                continue
            rows.append((_key("epoch_seconds" if name == "seconds" else name), number, step))
    return rows


def per_target_table(folder: RunFolder) -> pd.DataFrame | None:
    """The per-target rows of the test split, without the run_id and split columns."""
    if folder.results is None:
        return None
    test = folder.results[folder.results["split"].astype(str) == "test"]
    columns = [c for c in test.columns if c not in ("run_id", "split")]
    return test[columns].sort_values("target", kind="stable").reset_index(drop=True)


def summary_metrics(folder: RunFolder) -> dict[str, float]:
    """Test macro averages over targets (NaN targets skipped), target counts, best epoch and timings."""

    summary: dict[str, float] = {}
    test = per_target_table(folder)
    if test is not None and len(test):
        summary["test_n_targets"] = float(test["target"].nunique())
        summary["test_n_targets_scored"] = float(test["auroc"].astype("float64").notna().sum())
        for name in SUMMARY_METRICS:
            if name in test.columns:
                values = test[name].astype("float64").dropna()
                if len(values):
                    summary[f"test_macro_{name}"] = float(values.mean())
    record = folder.record
    for name in ("best_epoch", "n_targets"):
        if (number := _number(record.get(name))) is not None:
            summary[name] = number
    timings = record.get("timings") if isinstance(record.get("timings"), dict) else {}
    for name, value in timings.items():
        if (number := _number(value)) is not None:
            summary[_key(f"time_{name}")] = number
    return summary


def run_tags(folder: RunFolder, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The caller's tags, then ecglab's (which win): identity, versions and provenance."""
    tags = {_key(str(k)): _text(v, MAX_TAG_VALUE_LENGTH) for k, v in (extra or {}).items()}
    ours: dict[str, Any] = {RUN_ID_TAG: folder.run_id, "ecglab.status": folder.status}
    ours.update({f"ecglab.{name}": value for name, value in identity(folder).items()})
    if folder.record.get("error"):
        ours["ecglab.error"] = folder.record["error"]
    provenance = folder.record.get("provenance")
    provenance = provenance if isinstance(provenance, Mapping) else {}
    if provenance.get("git_commit"):
        ours["ecglab.git_commit"] = provenance["git_commit"]
        ours["mlflow.source.git.commit"] = provenance["git_commit"]
    for name in ("device", "python"):
        if provenance.get(name):
            ours[f"ecglab.{name}"] = provenance[name]
    packages = provenance.get("packages") if isinstance(provenance.get("packages"), Mapping) else {}
    for package, version in sorted(packages.items()):
        if version is not None:  # None: not installed
            ours[_key(f"ecglab.package.{package}")] = version
    tags.update({key: _text(value, MAX_TAG_VALUE_LENGTH) for key, value in ours.items()})
    tags.pop(COMPLETE_TAG, None)  # only log_run sets it, last
    tags.pop(PARENT_TAG, None)  # set through parent_run_id
    return tags


# --- logging


def log_run(
    run_dir: str | os.PathLike[str],
    uri: str,
    experiment: str,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> str:
    """Log one run folder as one MLflow run (named backbone/task) in experiment ``experiment`` (a name).

    Returns the MLflow run id. Idempotent: when the experiment already holds a completely logged run with the
    same ``ecglab.run_id`` tag, that run's id is returned and nothing is logged; a partly logged one (an
    earlier attempt died) is deleted and logged afresh. ``parent_run_id`` nests the run under that MLflow run
    (e.g. an Optuna study's). Raises :class:`RunFolderError` when the folder is incomplete and
    :class:`TrackingError` when MLflow fails; in both cases nothing in ``run_dir`` has been touched.
    """
    folder = read_run_folder(run_dir)
    check_tracking_uri(uri)
    try:
        return _log_run(folder, uri, experiment, parent_run_id, tags)
    except Exception as err:
        raise TrackingError(_failure_message(folder.path, uri, experiment, err)) from err


def _failure_message(run_dir: Path, uri: str, experiment: str, err: BaseException) -> str:
    reason = str(err) if isinstance(err, TrackingError) else f"{type(err).__name__}: {_first_line(err)}"
    command = shlex.join(["ecglab", "track", str(run_dir), "--tracking-uri", redact_uri(uri)])
    return (
        f"could not log {run_dir} to MLflow experiment {experiment!r} at {redact_uri(uri)}: {reason}. "
        f"The result files in {run_dir} are complete and intact (tracking only reads them); log them later "
        f"with `{command} --experiment {shlex.quote(experiment)}` (or ecglab.bench.tracking.log_run), "
        "which skips what is already logged."
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else repr(err))[:1000]


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
) -> str:
    client = _client(uri)
    experiment_id = _ensure_experiment(client, uri, experiment)
    status = RUN_STATUS[folder.status]
    logged = find_logged_run(client, experiment_id, folder.run_id)
    for run in logged:
        if run.data.tags.get(COMPLETE_TAG) == COMPLETE_VALUE:
            if run.info.status == "RUNNING":  # died between the last tag and set_terminated
                client.set_terminated(run.info.run_id, status)
            return run.info.run_id
    for run in logged:  # partial logs of earlier attempts, or of one going on now
        age_s = time.time() - (run.info.start_time or 0) / 1000
        if run.info.status == "RUNNING" and age_s < STALE_AFTER_S:
            raise TrackingError(
                f"MLflow run {run.info.run_id} is logging this run folder right now (started {age_s:.0f} s "
                "ago, not complete yet); wait for it, or if the process logging it died, delete that MLflow "
                f"run (`mlflow runs delete --run-id {run.info.run_id}`) and log again"
            )
        client.delete_run(run.info.run_id)
    if parent_run_id is not None:
        parent = client.get_run(parent_run_id)
        if parent.info.experiment_id != experiment_id:
            raise TrackingError(
                f"parent run {parent_run_id} belongs to experiment {parent.info.experiment_id}, "
                f"not {experiment!r} ({experiment_id})"
            )

    first_tags = {RUN_ID_TAG: folder.run_id}
    if parent_run_id is not None:
        first_tags[PARENT_TAG] = parent_run_id
    run_id = client.create_run(experiment_id, run_name=folder.name, tags=first_tags).info.run_id
    try:
        _log_contents(client, run_id, folder, tags)
        client.set_tag(run_id, COMPLETE_TAG, COMPLETE_VALUE)
        client.set_terminated(run_id, status)
    except BaseException:
        with suppress(Exception):
            client.set_terminated(run_id, "FAILED")  # no COMPLETE_TAG: the next attempt replaces it
        raise
    return run_id


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
        client.log_artifact(run_id, str(file))
    table = per_target_table(folder)
    if table is not None:
        with tempfile.TemporaryDirectory(prefix="ecglab-track-") as scratch:  # never inside the run folder
            csv = Path(scratch) / TEST_TABLE
            table.to_csv(csv, index=False)
            client.log_artifact(run_id, str(csv))

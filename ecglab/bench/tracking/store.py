"""Where MLflow keeps the runs: the tracking URI (resolved, checked, redacted for messages), the client, and
experiments, created once with their artifacts next to a SQLite database.

MLflow 3 refuses the plain ``file:`` store; the default here is ``sqlite:///<absolute ./mlflow.db>``. SQLite
stores get their artifacts next to the database (``<db folder>/mlartifacts/<experiment>``) instead of MLflow's
default ``./mlruns`` under whatever folder the process happens to run in.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from ecglab.errors import EcglabError

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_DB = "mlflow.db"
ARTIFACTS_FOLDER = "mlartifacts"
URI_ENV = "MLFLOW_TRACKING_URI"
# MLflow's HTTP retries, bounded: MLflow's own defaults (7 retries, backoff factor 2, 120 s timeout) wait ~5
# minutes on a dead server. These give at most 3 attempts of at most 10 s each and ~2.5 s of backoff (~33 s
# when the host does not answer at all, ~3 s when the port refuses); set the variables to change them.
HTTP_RETRY_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


class TrackingError(EcglabError):
    """MLflow could not be reached or refused the tracking; the run folder itself is untouched."""


def resolve_tracking_uri(cli_value: str | None = None) -> str:
    """The tracking URI: the CLI flag, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<abs ./mlflow.db>``.

    A relative SQLite path is made absolute (workers started elsewhere then write to the same database);
    ``file:`` URIs and bare paths (MLflow's file store) are refused with a :class:`TrackingError`.
    """
    uri = (cli_value or "").strip() or os.environ.get(URI_ENV, "").strip()
    if not uri:
        return "sqlite:///" + str(Path(DEFAULT_DB).resolve())
    check_tracking_uri(uri)
    path = sqlite_path(uri)
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


def sqlite_path(uri: str) -> Path | None:
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


def redact_text(text: str, uri: str) -> str:
    """``text`` (e.g. an MLflow error, which may quote the whole URI) without the URI's password."""
    with suppress(ValueError):
        password = urlsplit(uri).password
        if password:
            for form in {password, unquote(password)}:
                text = text.replace(form, "***")
    return text


def uri_argument(uri: str, env: str = URI_ENV) -> str:
    """The URI as a shell argument for a printed command: quoted, or ``"$ENV"`` when it holds a password
    (a password is never printed; the user keeps the URL in that environment variable)."""
    with suppress(ValueError):
        if urlsplit(uri).password:
            return f'"${env}"'
    return shlex.quote(uri)


def first_line(err: BaseException) -> str:
    """The first line of an error's message (at most 1000 characters), for messages."""
    text = str(err).strip()
    return (text.splitlines()[0] if text else repr(err))[:1000]


def bound_http_retries() -> None:
    """MLflow's HTTP retries bounded to ~30 s in all (:data:`HTTP_RETRY_ENV`), unless the user set them, and
    MLflow's usage telemetry off unless the user opts in (ecglab makes no network calls of its own)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for name, value in HTTP_RETRY_ENV.items():
        os.environ.setdefault(name, value)


def mlflow_client(uri: str) -> MlflowClient:
    """An MLflow client of a checked URI (a SQLite database's folder is created; HTTP retries bounded)."""
    bound_http_retries()
    from mlflow import MlflowClient

    check_tracking_uri(uri)
    path = sqlite_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(uri: str, name: str) -> str:
    """The id of experiment ``name``, created when missing (call once before workers start: two processes
    creating the same new database at once can crash)."""
    check_tracking_uri(uri)
    try:
        return experiment_id(mlflow_client(uri), uri, name)
    except TrackingError:
        raise
    except Exception as err:
        raise TrackingError(
            f"could not open or create MLflow experiment {name!r} at {redact_uri(uri)}: "
            f"{type(err).__name__}: {redact_text(first_line(err), uri)} (start the server or fix "
            "--tracking-uri; --no-track writes the result files only, and `ecglab track RUN` logs a run "
            "folder later)"
        ) from err


def experiment_id(client: MlflowClient, uri: str, name: str) -> str:
    """The id of the active experiment ``name`` through ``client``, created when missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location(uri, name))
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


def artifact_location(uri: str, name: str) -> str | None:
    """For SQLite: ``<db folder>/mlartifacts/<experiment>``, not ``./mlruns`` under the working folder."""
    path = sqlite_path(uri)
    if path is None:
        return None  # a server or another database decides
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "experiment"
    if slug != name:
        slug += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return (path.resolve().parent / ARTIFACTS_FOLDER / slug).as_uri()

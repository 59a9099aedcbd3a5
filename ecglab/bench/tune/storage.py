"""Where studies live, and how a dead worker's trial is found: an Optuna RDB storage for a SQLAlchemy URL
(``sqlite:///...``, ``postgresql://...``; by default ``sqlite:///<runs dir>/optuna.db``) or a journal file
shared without a server (``journal:PATH``, or a path ending ``.log``: Optuna's JournalStorage on a
JournalFileBackend, :mod:`~ecglab.bench.tune.journal`).

The URL comes from ``--storage``, else ``$ECGLAB_OPTUNA_STORAGE`` (keep a URL holding a password there: it is
never printed, and commands ecglab prints name the variable instead), else the default. Every storage runs a
heartbeat for each running trial (every :data:`HEARTBEAT_INTERVAL_S`); a running trial whose heartbeat is
older than :data:`GRACE_PERIOD_S` (its worker was killed) is failed when any worker starts or starts a trial,
and retried (up to :data:`STALE_RETRIES` times) as a waiting trial with the same parameters.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ecglab.bench.tracking import redact_uri, uri_argument
from ecglab.bench.tune.settings import DEFAULT_DB, TuneError

STORAGE_ENV = "ECGLAB_OPTUNA_STORAGE"
JOURNAL_PREFIX = "journal:"
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 40  # a running trial without a heartbeat this long is taken for dead, failed and retried
STALE_RETRIES = 2  # times a dead worker's trial is retried (as a new waiting trial, same parameters)
CONNECT_TIMEOUT_S = 10
DRIVERS = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pymysql": "PyMySQL"}


def default_storage(runs_dir: str | Path = "runs") -> str:
    """``sqlite:///<absolute runs dir>/optuna.db``."""
    return "sqlite:///" + str((Path(runs_dir) / DEFAULT_DB).resolve())


def resolve_storage(cli_value: str | None, runs_dir: str | Path = "runs") -> str:
    """The study storage: ``--storage``, else ``$ECGLAB_OPTUNA_STORAGE``, else :func:`default_storage`."""
    url = (cli_value or "").strip() or os.environ.get(STORAGE_ENV, "").strip()
    return url or default_storage(runs_dir)


def storage_argument(url: str, cli_value: str | None) -> str:
    """``--storage ...`` for a printed command: nothing for the default, ``"$ECGLAB_OPTUNA_STORAGE"`` when
    the URL came from there or holds a password (never printed), else the URL quoted."""
    from_env = not (cli_value or "").strip() and os.environ.get(STORAGE_ENV, "").strip() == url
    if not from_env and not (cli_value or "").strip():
        return ""
    argument = f'"${STORAGE_ENV}"' if from_env else uri_argument(url, STORAGE_ENV)
    return f" --storage {argument}"


def has_password(url: str) -> bool:
    """Whether a storage URL holds a password."""
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def journal_path(url: str) -> Path | None:
    """The journal file of ``journal:PATH`` or of a plain path ending ``.log``; None for other URLs."""
    if url.lower().startswith(JOURNAL_PREFIX):
        raw = unquote(url[len(JOURNAL_PREFIX) :])
        raw = raw[2:] if raw.startswith("//") else raw  # journal:///abs/path too
        if not raw:
            raise TuneError(f"storage {url!r}: name the journal file, e.g. journal:runs/optuna.log")
        return Path(raw)
    if "://" not in url and url.endswith(".log"):
        return Path(url)
    return None


def check_storage_url(url: str) -> None:
    """Refuse what is neither a SQLAlchemy URL nor a journal file, with the accepted forms."""
    if journal_path(url) is not None:
        return
    scheme = urlsplit(url).scheme if "://" in url else ""
    if not scheme:
        raise TuneError(
            f"storage {redact_uri(url)!r} is not a storage URL: use sqlite:///PATH (the default is "
            "sqlite:///RUNS_DIR/optuna.db), postgresql://USER@HOST/DB (pip install 'ecglab[postgres]'), "
            "or journal:PATH / a PATH ending .log (a journal file that workers share without a server)"
        )


def open_storage(url: str) -> Any:
    """The Optuna storage of ``url`` (see the module docstring): heartbeats on, dead workers' trials failed
    and retried; SQLite waits for locks (several local workers). Raises TuneError naming what to do."""
    import optuna

    check_storage_url(url)
    path = journal_path(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
        warnings.simplefilter("ignore", FutureWarning)  # RetryFailedTrialCallback's old name on old Optuna
        if path is not None:
            return _open_journal(path)
        return _open_rdb(url)


def fail_dead_trials(study: Any) -> None:
    """Fail (and queue the retries of) the study's running trials whose worker died: what every worker does
    when it starts, before Optuna does it again before each trial."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def retry_callback(max_retry: int = STALE_RETRIES) -> Any:
    """Optuna's retry of a failed trial, a callable(study, trial) that queues it again with the same
    parameters, at most ``max_retry`` times (RetryHeartbeatStaleTrialCallback; its old name
    RetryFailedTrialCallback before Optuna 4.9)."""
    import optuna

    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if retry is None:
        retry = optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return retry(max_retry=max_retry)


def _open_journal(path: Path) -> Any:
    from ecglab.bench.tune.journal import heartbeat_journal

    path = path.resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return heartbeat_journal(path, HEARTBEAT_INTERVAL_S, GRACE_PERIOD_S, retry_callback())
    except OSError as err:
        raise TuneError(f"cannot open the Optuna journal file {path}: {err}") from err


def _open_rdb(url: str) -> Any:
    import optuna

    kwargs: dict[str, Any] = {}
    engine_url = url
    if url.lower().startswith("postgresql://"):  # psycopg 3 (ecglab[postgres]) on every SQLAlchemy 2.x
        engine_url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.lower().startswith("sqlite:"):
        path = url.split("///", 1)[1].partition("?")[0] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    if url.lower().startswith("postgresql"):  # a host that does not answer: an error in 10 s, not minutes
        kwargs["engine_kwargs"]["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    callback = (
        "heartbeat_stale_trial_callback"
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback")
        else "failed_trial_callback"
    )
    kwargs[callback] = retry_callback()
    try:
        return optuna.storages.RDBStorage(
            engine_url, heartbeat_interval=HEARTBEAT_INTERVAL_S, grace_period=GRACE_PERIOD_S, **kwargs
        )
    except Exception as err:
        raise TuneError(open_failure(url, err)) from err


def open_failure(url: str, err: BaseException) -> str:
    """Why a storage did not open: a missing database driver by name (and the package that installs it),
    else the error, without the URL's password."""
    missing = _missing_module(err)
    shown = redact_uri(url)
    if missing is not None:
        package = DRIVERS.get(missing, missing)
        hint = " (postgresql:// uses psycopg 3: pip install 'ecglab[postgres]')" if "postgres" in url else ""
        return (
            f"cannot open the Optuna storage {shown}: its database driver {missing!r} is not installed: "
            f"pip install '{package}'{hint}"
        )
    text = f"{type(err).__name__}: {err}"
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return f"cannot open the Optuna storage {shown}: {text.splitlines()[0][:500]}"


def _missing_module(err: BaseException | None) -> str | None:
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, ModuleNotFoundError) and err.name:
            return err.name.split(".")[0]
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None

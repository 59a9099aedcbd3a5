"""Where studies live: an Optuna RDB storage for any SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``),
by default ``sqlite:///<runs dir>/optuna.db``; URLs are shown without their password."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ecglab.bench.tracking import redact_uri
from ecglab.bench.tune.settings import DEFAULT_DB, TuneError


def default_storage(runs_dir: str | Path = "runs") -> str:
    """``sqlite:///<absolute runs dir>/optuna.db``."""
    return "sqlite:///" + str((Path(runs_dir) / DEFAULT_DB).resolve())


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for a SQLAlchemy URL: SQLite waits for locks (several local workers), and
    trials of a worker that died are failed by the others after a missed heartbeat."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.lower().startswith("sqlite:"):
        path = url.split("///", 1)[1].partition("?")[0] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", optuna.exceptions.ExperimentalWarning
            )  # heartbeats: stable enough
            return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180, **kwargs)
    except Exception as err:
        raise TuneError(
            f"cannot open the Optuna storage {redact_uri(url)}: {type(err).__name__}: {err}"
        ) from err

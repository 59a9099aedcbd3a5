"""The run folder, the data of record of one pairing: its name, its typed record ``run.json`` (the one module
that writes and reads it), atomic file writes, and the provenance stored with every run.

A run folder ``RUNS/<first 16 characters of the run id>/`` holds ``run.json`` (configuration, status,
task, cohort and backbone identity, world size and global batch, stored bootstrap resamples, timings,
provenance), ``history.jsonl``,
``results.parquet``, ``predictions.parquet``, ``best.pt`` and ``last.pt``. Nothing display-formatted is
stored: floats stay floats. Every file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from ecglab.backbones.provenance import git_commit
from ecglab.bench.config import ConfigError, RunConfig, build_run_config
from ecglab.errors import EcglabError

RECORD_FILE = "run.json"
FOLDER_NAME_LENGTH = 16
STATUSES = ("running", "finished", "failed", "pruned")
PACKAGES = (
    "ecglab",
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "mlflow",
    "optuna",
    "wfdb",
    "pyarrow",
)
SAFE_RUN_ID = re.compile(r"^[\w.:\-]+$")


class RunRecordError(EcglabError):
    """A run folder's ``run.json`` is missing, unreadable, or not what the engine writes."""


@dataclass(frozen=True)
class TaskIdentity:
    name: str
    version: str
    digest: str
    training_digest: str = ""
    targets: tuple[str, ...] = ()
    spec: dict[str, Any] | None = None  # the spec's content: the run re-evaluates without its spec file


@dataclass(frozen=True)
class CohortIdentity:
    name: str
    hash: str
    scale: dict[str, Any] | None = None  # set for a scale store (``--scale``): a speed test, never a result


@dataclass(frozen=True)
class BackboneIdentity:
    """The backbone and the package it comes from (its distribution's name, version and, where it can be
    told, commit: :mod:`ecglab.backbones.provenance`); None in records older than them."""

    name: str
    kind: str
    preset: str
    package: str | None = None
    version: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class BootstrapFile:
    """The stored bootstrap resamples of the task's test set, relative to the runs folder."""

    file: str
    n_boot: int
    seed: int
    rows: str = "test anchors in task order"


@dataclass(frozen=True)
class Provenance:
    packages: dict[str, str | None] = field(default_factory=dict)
    git_commit: str | None = None
    device: str = ""
    python: str = ""


@dataclass(frozen=True)
class RunRecord:
    """What ``run.json`` holds; ``to_dict`` gives exactly the JSON the engine writes."""

    run_id: str
    status: str
    config: RunConfig
    task: TaskIdentity
    cohort: CohortIdentity
    backbone: BackboneIdentity
    provenance: Provenance = field(default_factory=Provenance)
    world_size: int = 1  # processes that trained it (torchrun's WORLD_SIZE); 1 in records older than it
    global_batch: int | None = None  # anchors per optimizer step: batch_size x world_size when not given
    bootstrap: BootstrapFile | None = None
    best_epoch: int | None = None
    n_targets: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RunRecordError(f"run status must be one of {STATUSES}, got {self.status!r}")
        if isinstance(self.world_size, bool) or not isinstance(self.world_size, int) or self.world_size < 1:
            raise RunRecordError(f"world_size must be a positive integer, got {self.world_size!r}")
        if self.global_batch is None:
            object.__setattr__(self, "global_batch", self.config.batch_size * self.world_size)
        elif isinstance(self.global_batch, bool) or not isinstance(self.global_batch, int):
            raise RunRecordError(f"global_batch must be a positive integer, got {self.global_batch!r}")

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def name(self) -> str:
        return f"{self.config.backbone}/{self.config.task}"

    def replace(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status,
            "config": self.config.to_dict(),
            "task": {
                k: v
                for k, v in {**dataclasses.asdict(self.task), "targets": list(self.task.targets)}.items()
                if v is not None
            },
            "cohort": {k: v for k, v in dataclasses.asdict(self.cohort).items() if v is not None},
            "backbone": dataclasses.asdict(self.backbone),
            "world_size": self.world_size,
            "global_batch": self.global_batch,
            "provenance": dataclasses.asdict(self.provenance),
        }
        if self.bootstrap is not None:
            data["bootstrap"] = dataclasses.asdict(self.bootstrap)
        optional = {"best_epoch": self.best_epoch, "n_targets": self.n_targets, "error": self.error}
        data.update({k: v for k, v in optional.items() if v is not None})
        if self.timings:
            data["timings"] = dict(self.timings)
        return data


def folder_name(run_id: str) -> str:
    """The name of a run's folder: the first 16 characters of its id."""
    return run_id[:FOLDER_NAME_LENGTH]


def run_folder(runs_dir: str | Path, run_id: str) -> Path:
    """Where the run ``run_id`` lives under ``runs_dir``."""
    return Path(runs_dir) / folder_name(run_id)


def is_run_folder(path: str | Path) -> bool:
    return (Path(path) / RECORD_FILE).is_file()


def _section(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    raw = data.get(key)
    if not isinstance(raw, Mapping):
        raise RunRecordError(f"{where}: no {key!r} section; it was not written by the ecglab engine")
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise RunRecordError(f"{where}: unknown fields {unknown} in {key!r}")
    try:
        values = {k: tuple(v) if k == "targets" else v for k, v in raw.items()}
        return kind(**values)
    except TypeError as err:
        raise RunRecordError(f"{where}: {key!r} is incomplete: {err}") from None


def record_from_dict(data: Any, where: str = RECORD_FILE) -> RunRecord:
    """Check and type a parsed ``run.json`` (else :class:`RunRecordError` naming ``where``); a record older
    than ``world_size`` and ``global_batch`` was a one-process run."""
    if not isinstance(data, Mapping) or not isinstance(data.get("config"), Mapping):
        raise RunRecordError(f"{where} has no 'config' object; it was not written by the ecglab engine")
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not SAFE_RUN_ID.match(run_id):
        raise RunRecordError(f"{where}: 'run_id' must be a hash of letters and digits, got {run_id!r}")
    if data.get("status") not in STATUSES:
        raise RunRecordError(f"{where}: 'status' must be one of {list(STATUSES)}, got {data.get('status')!r}")
    known = {f.name for f in dataclasses.fields(RunRecord)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RunRecordError(f"{where}: unknown fields {unknown}")
    try:
        config = build_run_config(data["config"], source=f"{where} 'config'")
    except ConfigError as err:
        raise RunRecordError(str(err)) from None
    bootstrap = _section(data, "bootstrap", BootstrapFile, where) if data.get("bootstrap") else None
    timings = data.get("timings") or {}
    if not isinstance(timings, Mapping):
        raise RunRecordError(f"{where}: 'timings' must be an object, got {timings!r}")
    for key in ("world_size", "global_batch"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise RunRecordError(f"{where}: {key!r} must be a positive integer, got {value!r}")
    return RunRecord(
        run_id=run_id,
        status=data["status"],
        config=config,
        task=_section(data, "task", TaskIdentity, where),
        cohort=_section(data, "cohort", CohortIdentity, where),
        backbone=_section(data, "backbone", BackboneIdentity, where),
        provenance=_section(data, "provenance", Provenance, where) if "provenance" in data else Provenance(),
        world_size=data.get("world_size", 1),
        global_batch=data.get("global_batch"),
        bootstrap=bootstrap,
        best_epoch=data.get("best_epoch"),
        n_targets=data.get("n_targets"),
        timings=dict(timings),
        error=data.get("error"),
    )


def read_record(run_dir: str | Path) -> RunRecord:
    """The typed ``run.json`` of a run folder; :class:`RunRecordError` when it is missing or malformed."""
    path = Path(run_dir) / RECORD_FILE
    if not path.is_file():
        raise RunRecordError(f"{path} does not exist: {Path(run_dir)} is not an ecglab run folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunRecordError(f"{path} cannot be read: {err}") from err
    return record_from_dict(data, str(path))


def write_record(run_dir: str | Path, record: RunRecord) -> None:
    """Write ``run.json`` atomically."""
    write_json(Path(run_dir) / RECORD_FILE, record.to_dict())


def write_json(path: Path, data: Any) -> None:
    """JSON written to a temporary file, synced and renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """A Parquet table written to a temporary file and renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def provenance(device: str) -> Provenance:
    """Package versions, the git commit of a source checkout (None for an installed wheel), the device."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    commit = None
    repo = Path(__file__).resolve().parents[2]
    if (repo / ".git").exists():
        commit = git_commit(repo)  # None without git: never a failed run
    return Provenance(packages=packages, git_commit=commit, device=device, python=platform.python_version())

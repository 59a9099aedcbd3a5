"""Reading a run folder for tracking, and only reading it: its typed record (through
:func:`ecglab.bench.run_folder.read_record`), its history and its results, checked to be complete."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecglab.bench.run_folder import RECORD_FILE, RunRecord, RunRecordError, read_record
from ecglab.errors import EcglabError

if TYPE_CHECKING:
    import pandas as pd

RUN_FILES = (RECORD_FILE, "history.jsonl", "results.parquet", "predictions.parquet", "best.pt")
ROW_LEVEL_FILES = ("predictions.parquet",)  # patient and anchor ids, per-row scores: MLflow only on request
REQUIRED_WHEN_FINISHED = ("history.jsonl", "results.parquet", "predictions.parquet")
RUN_STATUS = {"finished": "FINISHED", "failed": "FAILED"}  # the statuses log_run takes, as MLflow's


class RunFolderError(EcglabError):
    """A run folder lacks a file the engine writes, or one of its files cannot be read."""


@dataclass(frozen=True)
class RunFolder:
    """What ``log_run`` reads from a run folder (the folder itself is never written)."""

    path: Path
    record: RunRecord
    history: list[dict[str, Any]]
    results: pd.DataFrame | None

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def config(self) -> dict[str, Any]:
        """The configuration as ``run.json`` stores it (plain JSON values)."""
        return self.record.config.to_dict()

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def name(self) -> str:
        return self.record.name

    def files(self) -> list[Path]:
        return [self.path / name for name in RUN_FILES if (self.path / name).is_file()]


def read_run_folder(run_dir: str | os.PathLike[str]) -> RunFolder:
    """Read and check run.json, history.jsonl and results.parquet (else :class:`RunFolderError`)."""
    path = Path(run_dir)
    try:
        record = read_record(path)
    except RunRecordError as err:
        raise RunFolderError(str(err)) from err
    if record.status not in RUN_STATUS:
        raise RunFolderError(
            f"{path / RECORD_FILE}: 'status' must be one of {sorted(RUN_STATUS)}, got {record.status!r}"
        )
    if record.finished:
        missing = [name for name in REQUIRED_WHEN_FINISHED if not (path / name).is_file()]
        if missing:
            raise RunFolderError(f"{path} says it finished but lacks {', '.join(missing)}")
    return RunFolder(path=path, record=record, history=read_history(path), results=read_results(path, record))


def read_history(path: Path) -> list[dict[str, Any]]:
    """The lines of ``history.jsonl`` (none when the file is missing)."""
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
    return history


def read_results(path: Path, record: RunRecord) -> pd.DataFrame | None:
    """``results.parquet`` (None when missing), checked to hold this run's rows."""
    import pandas as pd

    results_file = path / "results.parquet"
    if not results_file.is_file():
        return None
    try:
        results = pd.read_parquet(results_file)
    except Exception as err:
        raise RunFolderError(f"{results_file} cannot be read: {err}") from err
    missing = {"target", "split", "auroc"} - set(results.columns)
    if missing:
        raise RunFolderError(f"{results_file} lacks the columns {sorted(missing)}")
    if "run_id" in results.columns and not (results["run_id"].astype(str) == record.run_id).all():
        raise RunFolderError(f"{results_file} holds rows of another run than {record.run_id} (run.json)")
    return results

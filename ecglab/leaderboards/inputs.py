"""The leaderboard's inputs: the test results of run folders (read through their typed ``run.json``) and of
checked submission files, as ``RunResult``s, and the refusals of run folders that cannot be rows, each with
its reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ecglab.bench.run_folder import RECORD_FILE, RunRecord, RunRecordError, read_record
from ecglab.errors import EcglabError
from ecglab.leaderboards.errors import LeaderboardError, RunRefused, SearchTrial
from ecglab.leaderboards.run_folders import config_key, find_run_folders
from ecglab.leaderboards.submission import load_submission

# the columns of results.parquet a leaderboard reads, per target of the test split
TEST_COLUMNS = (
    "n",
    "n_pos",
    "auroc",
    "auroc_low",
    "auroc_high",
    "n_boot_used",
    "delong_low",
    "delong_high",
    "auprc",
)


@dataclass
class RunResult:
    """One run's test results, from a run folder or a submission file."""

    run_id: str
    origin: str
    source: str  # "run folder" or "submission"
    backbone: str
    backbone_kind: str
    preset: str
    label: str
    config_key: str
    seed: int
    task: str
    task_version: str
    task_digest: str
    training_digest: str
    cohort_name: str
    cohort_hash: str
    results: pd.DataFrame  # test rows, one per target
    run_dir: Path | None = None
    bootstrap_file: Path | None = None
    task_specs: tuple[str, ...] = ()

    @property
    def targets(self) -> list[str]:
        return list(self.results["target"])


def load_run_folder(run_dir: str | Path, record: RunRecord | None = None) -> RunResult:
    """A finished run folder's test results (``record``: its ``run.json``, read here when not given). Raises
    RunRefused when the run is not finished, lacks results, or has no test split, and RunRecordError when
    its ``run.json`` is missing or malformed."""
    run_dir = Path(run_dir)
    record = record or read_record(run_dir)
    config = record.config
    if not record.finished:
        error = f" ({record.error})" if record.error else ""
        raise RunRefused(f"status {record.status!r}, not finished{error}")
    if record.cohort.scale is not None:
        raise RunRefused(
            f"trained on a scale store ({record.cohort.scale.get('shape')}, built by `ecglab cohort synth "
            "--scale`): its labs carry no ECG signal, so its numbers measure speed, never a result"
        )
    if not (run_dir / "results.parquet").is_file():
        raise RunRefused("no results.parquet")
    test = _test_rows(run_dir / "results.parquet")
    if test.empty:
        if config.evaluate_test is False:
            raise SearchTrial("a validation-only run of a hyperparameter search")
        raise RunRefused("no test results")
    bootstrap = record.bootstrap
    return RunResult(
        run_id=record.run_id,
        origin=str(run_dir),
        source="run folder",
        backbone=config.backbone,
        backbone_kind=record.backbone.kind,
        preset=config.preset,
        label=config.label or "",
        config_key=config_key(config),
        seed=int(config.seed),
        task=record.task.name,
        task_version=str(record.task.version),
        task_digest=record.task.digest,
        training_digest=record.task.training_digest,
        cohort_name=record.cohort.name,
        cohort_hash=record.cohort.hash,
        results=test,
        run_dir=run_dir,
        bootstrap_file=(run_dir.parent / bootstrap.file)
        if bootstrap is not None and bootstrap.file
        else None,
        task_specs=tuple(config.task_specs),
    )


def _test_rows(path: Path) -> pd.DataFrame:
    """The test rows of a results.parquet: target and the TEST_COLUMNS as float64 (NaN where a column is
    absent). Read with pyarrow, only these columns, and built in one step: a leaderboard reads one per run."""
    handle = pq.ParquetFile(path)
    present = set(handle.schema_arrow.names)
    if not {"split", "target"} <= present:
        raise RunRefused(f"{path}: results without 'split' and 'target' columns")
    wanted = ["split", "target", *(c for c in TEST_COLUMNS if c in present)]
    table = handle.read(columns=wanted)
    test = np.asarray(table.column("split").to_pylist(), dtype=object) == "test"
    columns: dict[str, Any] = {"target": np.asarray(table.column("target").to_pylist(), dtype=object)[test]}
    for column in TEST_COLUMNS:
        if column in present:
            values = pd.to_numeric(pd.Series(table.column(column).to_numpy(zero_copy_only=False)[test]))
            columns[column] = values.to_numpy(dtype="float64", na_value=np.nan)
        else:
            columns[column] = np.full(int(test.sum()), np.nan)
    frame = pd.DataFrame(columns)
    frame["target"] = frame["target"].astype(str)
    return frame


def submission_runs(path: str | Path) -> list[RunResult]:
    """The runs of a submission file (checked first: an invalid file raises SubmissionError)."""
    frame = load_submission(path)
    runs = []
    for run_id, rows in frame.groupby("run_id", sort=False):
        first = rows.iloc[0]
        test = rows[rows["split"] == "test"].reset_index(drop=True)
        runs.append(
            RunResult(
                run_id=str(run_id),
                origin=f"{path} (submission)",
                source="submission",
                backbone=first["backbone"],
                backbone_kind=first["backbone_kind"],
                preset=first["preset"],
                label=first["label"],
                config_key=first["config_key"],
                seed=int(first["seed"]),
                task=first["task"],
                task_version=first["task_version"],
                task_digest=first["task_digest"],
                training_digest=first["training_digest"],
                cohort_name=first["cohort_name"],
                cohort_hash=first["cohort_hash"],
                results=test,
            )
        )
    return runs


def load_results(inputs: Iterable[str | Path]) -> tuple[list[RunResult], list[dict[str, Any]]]:
    """Runs of run folders, folders of run folders and submission files (``.csv``/``.parquet``), and the
    refused run folders with their reasons."""
    runs: list[RunResult] = []
    refused: list[dict[str, Any]] = []
    for raw in inputs:
        path = Path(raw)
        if path.name == RECORD_FILE and path.is_file():
            path = path.parent
        if path.is_file():
            runs.extend(submission_runs(path))
            continue
        try:
            folders = find_run_folders([path])
        except EcglabError as err:
            raise LeaderboardError(str(err)) from err
        for run_dir in folders:
            try:
                record = read_record(run_dir)
            except RunRecordError as err:
                refused.append(refusal(str(run_dir), f"unreadable run folder: {err}"))
                continue
            try:
                runs.append(load_run_folder(run_dir, record))
            except SearchTrial:
                continue  # search trials live beside benchmark runs; their tuned re-run is the row
            except (RunRefused, KeyError, ValueError, OSError) as err:
                reason = str(err) if isinstance(err, RunRefused) else f"unreadable run folder: {err!r}"
                refused.append(refusal(str(run_dir), reason, record=record))
    return runs, refused


def refusal(
    origin: str, reason: str, *, record: RunRecord | None = None, run: RunResult | None = None
) -> dict[str, Any]:
    """A row of the refused table: the run (as far as it is known: from its result or its ``run.json``)
    and why it is left out."""
    if run is not None:
        return {
            "origin": run.origin,
            "run_id": run.run_id,
            "backbone": run.backbone,
            "task": run.task,
            "cohort_hash": run.cohort_hash,
            "reason": reason,
        }
    return {
        "origin": origin,
        "run_id": record.run_id if record else "",
        "backbone": record.config.backbone if record else "",
        "task": record.task.name if record else "",
        "cohort_hash": record.cohort.hash if record else "",
        "reason": reason,
    }

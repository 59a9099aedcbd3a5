"""The leaderboard's inputs: the test results of run folders (read through their typed ``run.json``) and of
checked submission files, as ``RunResult``s, and the refusals of run folders that cannot be rows, each with
its reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.bench.resample_file import RESAMPLE_FILE, ResampleAurocs, read_resample_file
from ecglab.bench.run_folder import RECORD_FILE, RunRecord, RunRecordError, read_record
from ecglab.errors import EcglabError
from ecglab.leaderboards.errors import LeaderboardError, RunRefused, SearchTrial
from ecglab.leaderboards.run_folders import config_key, find_run_folders
from ecglab.leaderboards.submission import SUBMISSION_SUFFIXES, check_submission, load_submission
from ecglab.leaderboards.validation import refuse, result_problems, stored_problems

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
# read where present, NaN where absent (run folders written before the clustered statistics)
OPTIONAL_TEST_COLUMNS = ("clustered_low", "clustered_high", "n_patients", "n_pos_patients")


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
    stored: ResampleAurocs | None = None  # its test_resamples.npz, where it belongs to these results
    objective: str = "classification"  # what it trained on: the labels, or the lab values (gaussian_nll, mse)
    calibration: str = "none"  # the recalibration its run fitted on validation (temperature, isotonic)
    task_spec: dict[str, Any] | None = None  # the spec's data stored with the run or embedded in a submission

    @property
    def targets(self) -> list[str]:
        return list(self.results["target"])


def load_run_folder(run_dir: str | Path, record: RunRecord | None = None) -> RunResult:
    """A finished run folder's test results (``record``: its ``run.json``, read here when not given), checked
    (:mod:`ecglab.leaderboards.validation`), with its stored per-resample AUROCs where they belong to them.
    Raises RunRefused when the run is not finished, lacks results, has no test split or fails a check, and
    RunRecordError when its ``run.json`` is missing or malformed."""
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
    columns = _test_columns(run_dir / "results.parquet")
    test = _frame(columns)
    if test.empty:
        if config.evaluate_test is False:
            raise SearchTrial("a validation-only run of a hyperparameter search")
        raise RunRefused("no test results")
    bootstrap = record.bootstrap
    n_boot = bootstrap.n_boot if bootstrap is not None else config.n_boot
    refuse("results.parquet", result_problems(columns, n_boot, record.task.targets))
    run = RunResult(
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
        objective=config.objective,
        calibration=config.calibration,
        task_spec=record.task.spec,
    )
    run.stored = _belonging_resamples(run)
    if run.stored is not None:
        refuse(RESAMPLE_FILE, stored_problems(run.stored, columns))
    return run


def _belonging_resamples(run: RunResult) -> ResampleAurocs | None:
    """The run's ``test_resamples.npz`` when it was computed for these targets on the stored resamples
    named in ``run.json`` (else None: a leaderboard then recomputes from the predictions)."""
    if run.run_dir is None or run.bootstrap_file is None:
        return None
    stored = read_resample_file(run.run_dir)
    if stored is None or stored.targets != tuple(run.targets):
        return None
    if run.run_dir.parent / stored.bootstrap_file != run.bootstrap_file:
        return None
    return stored


def _test_columns(path: Path) -> dict[str, np.ndarray]:
    """The test rows of a results.parquet: target, the TEST_COLUMNS and the OPTIONAL_TEST_COLUMNS (NaN where
    the file has none) as float64 arrays (empty when it has no test row). Read with pyarrow, only these
    columns: a leaderboard reads one per run. RunRefused for a file that cannot be read, or test rows
    without a column or with other than numbers in one."""
    try:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
        if not {"split", "target"} <= set(schema.names):
            raise RunRefused(f"{path}: results without 'split' and 'target' columns")
        wanted = (*TEST_COLUMNS, *OPTIONAL_TEST_COLUMNS)
        table = handle.read(columns=["split", "target", *(c for c in wanted if c in schema.names)])
    except (pa.ArrowException, OSError) as err:
        reason = " ".join(str(err).split())[:200]
        raise RunRefused(f"{path.name}: unreadable, truncated or not Parquet ({reason})") from err
    test = np.asarray(table.column("split").to_pylist(), dtype=object) == "test"
    if not test.any():
        empty = {c: np.array([]) for c in (*TEST_COLUMNS, *OPTIONAL_TEST_COLUMNS)}
        return {"target": np.array([], dtype=object), **empty}
    _check_columns(path, schema)
    columns: dict[str, np.ndarray] = {
        "target": np.asarray(table.column("target").to_pylist(), dtype=object)[test]
    }
    for column in TEST_COLUMNS:
        values = pd.Series(table.column(column).to_numpy(zero_copy_only=False)[test])
        columns[column] = values.to_numpy(dtype="float64", na_value=np.nan)
    for column in OPTIONAL_TEST_COLUMNS:
        if column not in schema.names:
            columns[column] = np.full(int(test.sum()), np.nan)
            continue
        values = pd.Series(table.column(column).to_numpy(zero_copy_only=False)[test])
        columns[column] = values.to_numpy(dtype="float64", na_value=np.nan)
    return columns


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The test rows as the leaderboard holds them: target as str, the TEST_COLUMNS as float64."""
    frame = pd.DataFrame(columns)
    frame["target"] = frame["target"].astype(str)
    return frame


def _check_columns(path: Path, schema: pa.Schema) -> None:
    """RunRefused when a column the leaderboard reads is absent or not numeric."""
    missing = [c for c in TEST_COLUMNS if c not in schema.names]
    if missing:
        raise RunRefused(f"{path.name}: missing column(s) {', '.join(missing)}")
    types = {c: schema.field(c).type for c in (*TEST_COLUMNS, *OPTIONAL_TEST_COLUMNS) if c in schema.names}
    wrong = [
        f"{c} ({t})"
        for c, t in types.items()
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t))
    ]
    if wrong:
        raise RunRefused(f"{path.name}: column(s) not numeric: {', '.join(wrong)}")


def submission_runs(path: str | Path, frame: pd.DataFrame | None = None) -> list[RunResult]:
    """The runs of a submission file (``frame``: its checked rows; else the file is checked here and an
    invalid one raises SubmissionError), with their objective, calibration and embedded task spec."""
    frame = load_submission(path) if frame is None else frame
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
                objective=first["objective"],
                calibration=first["calibration"],
                task_spec=json.loads(first["task_spec"]) if first["task_spec"] else None,
            )
        )
    return runs


def load_results(inputs: Iterable[str | Path]) -> tuple[list[RunResult], list[dict[str, Any]]]:
    """Runs of run folders, folders of run folders and submission files (``.csv``/``.parquet``), and the
    refused run folders and submission files with their reasons. A path that does not exist, holds no run
    folder or is a file of another kind raises LeaderboardError."""
    runs: list[RunResult] = []
    refused: list[dict[str, Any]] = []
    for raw in inputs:
        path = Path(raw)
        if path.name == RECORD_FILE and path.is_file():
            path = path.parent
        if path.is_file():
            if path.suffix.lower() not in SUBMISSION_SUFFIXES:
                raise LeaderboardError(
                    f"{path}: expected a run folder, a folder of run folders or a submission file "
                    f"({' or '.join(SUBMISSION_SUFFIXES)})"
                )
            report = check_submission(path)
            if report.ok:
                runs.extend(submission_runs(path, report.frame))
            else:
                reason = "not a valid submission: " + "; ".join(" ".join(p.split()) for p in report.problems)
                refused.append(refusal(f"{path} (submission)", reason))
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

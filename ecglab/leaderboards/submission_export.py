"""Writing a submission file from run folders: the aggregate rows of each finished run (read from its typed
``run.json`` and ``results.parquet``), in the submission's canonical dtypes, checked before they are written;
each row carries its run's task spec and backbone package, so the file stands on its own.
The schema and the check are :mod:`ecglab.leaderboards.submission`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench.run_folder import RunRecord, RunRecordError, read_record
from ecglab.leaderboards.run_folders import config_key, find_run_folders, register_specs
from ecglab.leaderboards.submission import (
    ALL_COLUMNS,
    SUBMISSION_VERSION,
    SubmissionError,
    check_frame,
)
from ecglab.leaderboards.submission_tasks import run_spec_json


def read_run(run_dir: str | Path) -> RunRecord:
    """The typed ``run.json`` of a run folder; SubmissionError when it is missing or malformed."""
    try:
        return read_record(run_dir)
    except RunRecordError as err:
        raise SubmissionError(str(err)) from err


def run_rows(run_dir: Path, record: RunRecord | None = None) -> pd.DataFrame:
    """The submission rows of one finished run folder (all its result rows, aggregates only). Raises
    SubmissionError when the run is not finished or has no test results."""
    run_dir = Path(run_dir)
    record = record or read_run(run_dir)
    if not record.finished:
        raise SubmissionError(f"{run_dir}: run status is {record.status!r}, not finished")
    results_path = run_dir / "results.parquet"
    if not results_path.is_file():
        raise SubmissionError(f"{run_dir}: no results.parquet")
    results = pd.read_parquet(results_path)
    if not (results["split"] == "test").any():
        raise SubmissionError(
            f"{run_dir}: no test results (a validation-only run, e.g. a hyperparameter search trial)"
        )
    run_values = {"submission_version": SUBMISSION_VERSION, **_run_values(record)}
    frame = pd.DataFrame({name: [value] * len(results) for name, value in run_values.items()})
    for column in ALL_COLUMNS:
        if column in run_values:
            continue
        frame[column] = results[column].to_numpy() if column in results.columns else np.nan
    return normalise(frame[list(ALL_COLUMNS)])


def _run_values(record: RunRecord) -> dict[str, Any]:
    """The columns of a submission that are the same on every row of one run: with the configuration and
    identities, its objective and calibration, the backbone's package and the task's spec (its stored one,
    as canonical JSON)."""
    config, backbone, task = record.config, record.backbone, record.task
    return {
        "backbone": config.backbone,
        "backbone_kind": record.backbone.kind,
        "preset": config.preset,
        "label": config.label or "",
        "config_key": config_key(config),
        "task": record.task.name,
        "task_version": str(record.task.version),
        "task_digest": record.task.digest,
        "training_digest": record.task.training_digest,
        "cohort_name": record.cohort.name,
        "cohort_hash": record.cohort.hash,
        "seed": int(config.seed),
        "n_boot": record.bootstrap.n_boot if record.bootstrap is not None else config.n_boot,
        "run_id": record.run_id,
        "objective": config.objective,
        "calibration": config.calibration,
        "backbone_package": backbone.package or "",
        "backbone_version": backbone.version or "",
        "backbone_commit": backbone.commit or "",
        "task_spec": run_spec_json(task.spec, task.name, task.digest),
    }


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Submission columns in their canonical dtypes: text as str, int as int64, count as Int64, float."""
    out = pd.DataFrame(index=frame.index)
    for column, kind in ALL_COLUMNS.items():
        values = frame[column]
        if kind.startswith("text"):
            out[column] = values.fillna("").astype(str)
        elif kind == "int":
            out[column] = pd.to_numeric(values).astype("int64")
        elif kind == "count":
            out[column] = pd.to_numeric(values).astype("Float64").round().astype("Int64")
        else:
            out[column] = pd.to_numeric(values).astype("float64")
    return out.reset_index(drop=True)


def export_submission(runs: Sequence[str | Path], out: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Write the submission file ``out`` (``.csv`` or ``.parquet``) for the finished runs among ``runs``
    (run folders or folders of them). Returns the rows written and the runs skipped, with why. The rows are
    checked before writing (no identifier columns, schema, task versions, cohort hashes, AUROC bounds)."""
    out = Path(out)
    writer = _writer(out)
    parts, skipped = [], []
    for run_dir in find_run_folders(runs):
        record = read_run(run_dir)  # a malformed run.json stops the export, naming the file
        register_specs(record.config.task_specs)
        try:
            rows = run_rows(run_dir, record)
        except SubmissionError as err:
            skipped.append(str(err))
            continue
        report = check_frame(rows, source=str(run_dir))
        if report.ok:
            parts.append(rows)
        else:  # results a leaderboard would refuse are not exported either
            skipped.append(f"{run_dir}: not exported, its results are invalid: {'; '.join(report.problems)}")
    if not parts:
        raise SubmissionError("no finished run with valid test results to export: " + "; ".join(skipped))
    frame = pd.concat(parts, ignore_index=True)
    report = check_frame(frame, source=str(out))
    if not report.ok:
        raise SubmissionError(
            f"{out}: not written, the runs do not make a valid submission: " + "; ".join(report.problems)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer(frame, tmp)
    os.replace(tmp, out)
    return frame, skipped


def _writer(out: Path) -> Any:
    suffix = out.suffix.lower()
    if suffix == ".csv":
        return lambda frame, path: frame.to_csv(path, index=False)
    if suffix in (".parquet", ".pq"):
        return lambda frame, path: frame.to_parquet(path, index=False)
    raise SubmissionError(f"{out}: a submission file ends in .csv or .parquet")

"""The regression table of a leaderboard: per entry trained on lab values (RunConfig ``objective``
gaussian_nll or mse) and target, on the test split, the MAE (in the lab's unit) and Spearman correlation of
the predicted values, and the AUROC of the same predictions at the task's, AnyECG-Lab's and CardioLab's
thresholds, read from the run folders' ``regression.parquet`` and ``regression_thresholds.parquet`` (the
mean over an entry's seeds). A run folder without them is a row with the reason in ``note``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import REGRESSION_COLUMNS, table_frame

REGRESSION_FILE = "regression.parquet"
THRESHOLDS_FILE = "regression_thresholds.parquet"
SOURCES = ("task", "anyecg_lab", "cardiolab")


def _run_rows(run: RunResult) -> pd.DataFrame | None:
    """One row per target of a run's test split: its regression figures and AUROCs per threshold source
    (None when the run folder lacks the files)."""
    if run.run_dir is None or not (run.run_dir / REGRESSION_FILE).is_file():
        return None
    table = pd.read_parquet(run.run_dir / REGRESSION_FILE)
    table = table[table["split"] == "test"].set_index("target")
    thresholds_path = run.run_dir / THRESHOLDS_FILE
    if thresholds_path.is_file():
        thresholds = pd.read_parquet(thresholds_path)
        thresholds = thresholds[thresholds["split"] == "test"]
        for source in SOURCES:
            chosen = thresholds[thresholds["source"] == source].set_index("target")
            table[f"auroc_{source}"] = chosen["auroc"].reindex(table.index)
            if source != "task":
                table[f"threshold_{source}"] = chosen["threshold"].reindex(table.index)
    return table


def _entry_rows(task: str, entry: str, runs: list[RunResult]) -> list[dict]:
    """The rows of one entry: per target the mean over the seeds whose run folders hold the files."""
    tables = [t for t in (_run_rows(r) for r in runs) if t is not None]
    if not tables:
        where = "a submission" if runs[0].run_dir is None else f"{runs[0].origin}"
        return [
            {
                "task": task,
                "entry": entry,
                "objective": runs[0].objective,
                "n_seeds": 0,
                "note": f"no {REGRESSION_FILE} in {where} (a run folder older than the regression results)",
            }
        ]
    stacked = pd.concat([t.reset_index() for t in tables], ignore_index=True)
    rows = []
    for target, group in stacked.groupby("target", sort=False):
        first = group.iloc[0]
        row = {
            "task": task,
            "entry": entry,
            "target": target,
            "lab": first["lab"],
            "n": int(first["n"]),
            "n_patients": int(first["n_patients"]),
            "objective": first["objective"],
            "n_seeds": len(group),
            "unit": first["unit"],
            "transform": first["transform"],
            "note": ""
            if len(tables) == len(runs)
            else f"{len(runs) - len(tables)} seed(s) without the files",
        }
        for column in (
            "mae",
            "spearman",
            *(c for c in REGRESSION_COLUMNS if c.startswith(("auroc_", "threshold_"))),
        ):
            if column in group:
                row[column] = float(np.nanmean(group[column])) if group[column].notna().any() else np.nan
        rows.append(row)
    return rows


def regression_table(runs: dict[str, list[tuple[str, RunResult]]]) -> pd.DataFrame:
    """The regression rows of ``runs``: per task, the (entry name, run) pairs scored on it; only entries
    trained on the lab values have rows."""
    rows: list[dict] = []
    for task, named in runs.items():
        entries: dict[str, list[RunResult]] = {}
        for entry, run in named:
            if run.objective != "classification":
                entries.setdefault(entry, []).append(run)
        for entry, entry_runs in entries.items():
            rows += _entry_rows(task, entry, entry_runs)
    return table_frame(rows, REGRESSION_COLUMNS)

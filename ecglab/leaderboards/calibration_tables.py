"""The calibration tables of a leaderboard: per entry and target the Brier score and expected calibration
error of the test probabilities (``calibration``), and the reliability diagram's bins (``reliability``), read
from the run folders' ``calibration.parquet`` and ``reliability.parquet`` (written by
``ecglab.bench.engine.calibration_results``).

One row per entry (a backbone configuration with its seeds) x target x calibration method (``none``: the raw
probabilities; ``temperature`` or ``isotonic`` where the entry's runs fitted one on validation). With several
seeds, ``brier`` and ``ece`` are the means over the seeds that have them (``n_seeds`` counts them, the note
says so) and each reliability bin pools the seeds' test rows (its ``n`` counts anchor x seed; its mean score
and observed rate are over those pooled rows). ``n`` and ``n_pos`` are the test set's (the same for every
seed). Submissions carry no calibration and are skipped; a run folder without the files (a run from before
calibration) gives a note row, not a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.bench.calibration_files import (
    CALIBRATION_FILE,
    RELIABILITY_FILE,
    RUN_CALIBRATION_COLUMNS,
    RUN_RELIABILITY_COLUMNS,
)
from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import CALIBRATION_COLUMNS, RELIABILITY_COLUMNS, table_frame

RunFiles = tuple[RunResult, pd.DataFrame, pd.DataFrame]


def read_run_files(run: RunResult) -> tuple[pd.DataFrame, pd.DataFrame] | str:
    """A run folder's (calibration, reliability) tables, or why there are none."""
    assert run.run_dir is not None
    folder = Path(run.run_dir)
    missing = [name for name in (CALIBRATION_FILE, RELIABILITY_FILE) if not (folder / name).is_file()]
    if missing:
        return (
            f"run {run.run_id[:16]} (seed {run.seed}): no {' or '.join(missing)} (a run folder from before "
            "calibration; `ecglab evaluate RUN` writes it)"
        )
    calibration = pd.read_parquet(folder / CALIBRATION_FILE)
    reliability = pd.read_parquet(folder / RELIABILITY_FILE)
    lacking = [c for c in RUN_CALIBRATION_COLUMNS if c not in calibration]
    lacking += [c for c in RUN_RELIABILITY_COLUMNS if c not in reliability]
    if lacking:
        return f"run {run.run_id[:16]} (seed {run.seed}): its calibration files lack {', '.join(lacking)}"
    return calibration, reliability


def entry_rows(task: str, entry: str, runs: list[RunFiles]) -> list[dict]:
    """The calibration rows of one entry: per (target, method), the seed means of brier and ece."""
    stacked = pd.concat([c.assign(seed=run.seed) for run, c, _ in runs], ignore_index=True)
    rows = []
    for (target, method), part in stacked.groupby(["target", "calibration"], sort=False):
        measured = part[part["brier"].notna()]
        first = part.iloc[0]
        if len(runs) == 1:
            note = str(first["note"])
        else:
            seeds = ";".join(str(s) for s in measured["seed"])
            plural = "s" if len(measured) > 1 else ""
            notes = [f"mean over {len(measured)} seed{plural} ({seeds})"] if len(measured) else []
            notes += [f"seed {r.seed}: {r.note}" for r in part.itertuples() if pd.isna(r.brier) and r.note]
            note = "; ".join(notes)
        rows.append(
            {
                "task": task,
                "entry": entry,
                "target": target,
                "calibration": method,
                "n": first["n"],
                "n_pos": first["n_pos"],
                "n_seeds": len(measured),
                "brier": measured["brier"].mean() if len(measured) else np.nan,
                "ece": measured["ece"].mean() if len(measured) else np.nan,
                "ece_bins": first["ece_bins"],
                "ece_binning": first["ece_binning"],
                "note": note,
            }
        )
    return rows


def entry_bins(task: str, entry: str, runs: list[RunFiles]) -> list[dict]:
    """The reliability bins of one entry: per (target, method, bin), the seeds' test rows pooled."""
    stacked = pd.concat([r for _, _, r in runs], ignore_index=True)
    stacked = stacked.assign(
        score_sum=stacked["n"] * stacked["mean_score"].fillna(0.0),
        hits=stacked["n"] * stacked["observed_rate"].fillna(0.0),
        seeds=1,
    )
    keys = ["target", "calibration", "bin", "bin_low", "bin_high"]
    pooled = stacked.groupby(keys, sort=False)[["n", "score_sum", "hits", "seeds"]].sum().reset_index()
    n = pooled["n"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled["mean_score"] = np.where(n > 0, pooled["score_sum"] / n, np.nan)
        pooled["observed_rate"] = np.where(n > 0, pooled["hits"] / n, np.nan)
    pooled = pooled.rename(columns={"seeds": "n_seeds"}).assign(task=task, entry=entry)
    return pooled[RELIABILITY_COLUMNS].to_dict("records")


def calibration_tables(runs: dict[str, list[tuple[str, RunResult]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration, reliability) of ``runs``: per task, the (entry name, run) pairs scored on it."""
    rows: list[dict] = []
    bins: list[dict] = []
    for task, pairs in runs.items():
        entries: dict[str, list[RunFiles]] = {}
        for entry, run in pairs:
            if run.run_dir is None:
                continue  # a submission: aggregates only, no calibration
            found = read_run_files(run)
            if isinstance(found, str):
                rows.append({"task": task, "entry": entry, "target": "", "calibration": "", "note": found})
                continue
            entries.setdefault(entry, []).append((run, *found))
        for entry, entry_runs in entries.items():
            rows += entry_rows(task, entry, entry_runs)
            bins += entry_bins(task, entry, entry_runs)
    calibration = table_frame(rows, CALIBRATION_COLUMNS)
    calibration["ece_bins"] = pd.to_numeric(calibration["ece_bins"]).astype("Float64").round().astype("Int64")
    return calibration, table_frame(bins, RELIABILITY_COLUMNS)

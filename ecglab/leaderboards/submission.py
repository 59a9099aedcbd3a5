"""Submission files: the aggregate results of finished runs, shareable under the data use agreements; their
schema and their check.

A submission is a CSV or Parquet file with one row per (run, target, split) holding only aggregates: the
backbone and its configuration, the task (name, version, digest), the cohort (name, content hash), the seed
and run id, and per target the counts, AUROC with its confidence intervals, AUPRC and the threshold metrics
(optionally the clustered interval by patient and the patient counts, ``OPTIONAL_COLUMNS``); since version 2
also, per run, its objective and calibration, the backbone's package (name, version, commit) and the task's
spec as canonical JSON (``VERSION_2_COLUMNS``: a version-1 file lacks them and needs the registered task).
It never holds patient, visit, anchor, segment or record identifiers, nor per-row predictions: the MC-MED and
MIMIC-IV data use agreements forbid sharing them. ``check_submission`` refuses a file with any such column
(naming it; the names are in :mod:`ecglab.leaderboards.identifiers`), checks the schema and types, the task
version and digest (:mod:`ecglab.leaderboards.submission_tasks`), that each task has one cohort hash, the
seeds, AUROC bounds (in [0, 1], low <= auroc <= high) and counts (an AUROC exactly where 0 < n_pos < n,
n_boot_used <= n_boot, confusion counts adding up to n and n_pos). The leaderboard reads checked submissions
beside run folders (without predictions, so no paired resampling for them) and lists an invalid one as
refused, with why. Writing a submission from run folders is :mod:`ecglab.leaderboards.submission_export`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.bench.config import CHOICES
from ecglab.errors import EcglabError
from ecglab.leaderboards.identifiers import IDENTIFIER_NAMES, IDENTIFIER_PARTS
from ecglab.leaderboards.submission_tasks import check_tasks

SUBMISSION_VERSION = 2
VERSIONS = (1, 2)  # the versions read: a version-1 file lacks VERSION_2_COLUMNS
# column -> kind: text (non-empty unless noted), int (whole numbers), count (whole numbers or missing),
# float (numbers or missing)
COLUMNS: dict[str, str] = {
    "submission_version": "int",
    "backbone": "text",
    "backbone_kind": "text?",
    "preset": "text",
    "label": "text?",
    "config_key": "text",
    "task": "text",
    "task_version": "text",
    "task_digest": "text",
    "training_digest": "text?",
    "cohort_name": "text?",
    "cohort_hash": "text",
    "seed": "int",
    "n_boot": "count",
    "run_id": "text",
    "target": "text",
    "split": "text",
    "n": "int",
    "n_pos": "int",
    "auroc": "float",
    "auroc_low": "float",
    "auroc_high": "float",
    "n_boot_used": "count",
    "delong_low": "float",
    "delong_high": "float",
    "auprc": "float",
    "threshold": "float",
    "sensitivity": "float",
    "specificity": "float",
    "ppv": "float",
    "npv": "float",
    "f1": "float",
    "tp": "count",
    "fp": "count",
    "tn": "count",
    "fn": "count",
}
# optional columns (the clustered statistics): files written before them lack them (read as missing)
OPTIONAL_COLUMNS: dict[str, str] = {
    "clustered_low": "float",
    "clustered_high": "float",
    "n_patients": "count",
    "n_pos_patients": "count",
}
# required from version 2 on, and what a version-1 file means without them
VERSION_2_COLUMNS: dict[str, str] = {
    "objective": "text",
    "calibration": "text",
    "backbone_package": "text?",
    "backbone_version": "text?",
    "backbone_commit": "text?",
    "task_spec": "text?",  # the run's task spec as canonical JSON (empty: needs the registered task)
}
VERSION_1_VALUES = {"objective": "classification", "calibration": "none"}  # the rest empty
ALL_COLUMNS: dict[str, str] = {**COLUMNS, **OPTIONAL_COLUMNS, **VERSION_2_COLUMNS}
RUN_COLUMNS = (
    "backbone",
    "backbone_kind",
    "preset",
    "label",
    "config_key",
    "task",
    "task_version",
    "task_digest",
    "training_digest",
    "cohort_name",
    "cohort_hash",
    "seed",
    "n_boot",
    *VERSION_2_COLUMNS,
)
SPLITS = ("val", "test")
SUBMISSION_SUFFIXES = (".csv", ".parquet", ".pq")
UNIT_INTERVAL = (
    "auroc",
    "auroc_low",
    "auroc_high",
    "delong_low",
    "delong_high",
    "clustered_low",
    "clustered_high",
    "auprc",
)
RATIOS = ("sensitivity", "specificity", "ppv", "npv", "f1")


class SubmissionError(EcglabError):
    """A submission file is malformed, carries identifiers, or does not match the registered tasks."""


def bulleted(items: list[str]) -> str:
    """Items as an indented list, each on a line of its own."""
    return "".join(f"\n  - {item}" for item in items)


# ----------------------------------------------------------------------------------------------- checks
@dataclass
class SubmissionReport:
    """What ``check_submission`` found: problems (empty when the file is valid) and the typed rows."""

    source: str
    problems: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        return f"{self.source}: not a valid submission:" + bulleted(self.problems)

    def summary(self) -> str:
        if self.frame is None or not self.ok:
            return self.message()
        frame = self.frame
        tasks = ", ".join(sorted(frame["task"].unique()))
        return (
            f"{self.source}: valid submission: {frame['run_id'].nunique()} runs, "
            f"{frame['backbone'].nunique()} backbones, tasks {tasks}"
        )


def identifier_columns(columns: Iterable[str]) -> list[str]:
    """Columns whose names look like patient, visit, anchor, segment or record identifiers, paths, or
    per-row scores or predictions."""
    flagged = []
    for column in columns:
        if column in ALL_COLUMNS:  # n_patients counts patients: an aggregate, not an identifier
            continue
        name = re.sub(r"[^a-z0-9]+", "_", str(column).lower()).strip("_")
        if name in IDENTIFIER_NAMES or any(part in name for part in IDENTIFIER_PARTS):
            flagged.append(str(column))
    return flagged


def read_submission(path: str | Path) -> pd.DataFrame:
    """The raw rows of a submission file (CSV read as text, Parquet with its own types); unchecked."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such submission file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in SUBMISSION_SUFFIXES[1:]:
            return pd.read_parquet(path)
    except (ValueError, OSError) as err:
        raise SubmissionError(f"{path}: cannot be read as a submission ({err})") from err
    raise SubmissionError(f"{path}: a submission file ends in .csv or .parquet")


def check_submission(path: str | Path) -> SubmissionReport:
    """Check one submission file; never raises for bad content (see ``SubmissionReport.problems``)."""
    try:
        raw = read_submission(path)
    except SubmissionError as err:
        return SubmissionReport(str(path), [str(err)])
    return check_frame(raw, source=str(path))


def load_submission(path: str | Path) -> pd.DataFrame:
    """The typed rows of a valid submission file; raises SubmissionError listing every problem."""
    report = check_submission(path)
    if not report.ok:
        raise SubmissionError(report.message())
    assert report.frame is not None
    return report.frame


def check_frame(raw: pd.DataFrame, source: str = "submission") -> SubmissionReport:
    """Check submission rows (as read from a file, or built by ``export_submission``)."""
    report = SubmissionReport(source)
    problems = report.problems
    for column in identifier_columns(raw.columns):
        problems.append(
            f"column {column!r} looks like a patient, visit or record identifier or a per-row prediction: "
            "submissions carry aggregates only (the MC-MED and MIMIC-IV data use agreements forbid sharing "
            "them); remove the column"
        )
    required = {**COLUMNS, **({} if version_1(raw) else VERSION_2_COLUMNS)}
    missing = [c for c in required if c not in raw.columns]
    if missing:
        problems.append(f"missing columns {missing}")
    unknown = [c for c in raw.columns if c not in ALL_COLUMNS and c not in identifier_columns([c])]
    if unknown:
        problems.append(
            f"unknown columns {unknown} (a submission holds exactly the columns {list(required)}, and "
            f"optionally {list(OPTIONAL_COLUMNS)})"
        )
    if problems:
        return report
    raw = raw.assign(**{c: np.nan for c in OPTIONAL_COLUMNS if c not in raw.columns})
    raw = raw.assign(**{c: VERSION_1_VALUES.get(c, "") for c in VERSION_2_COLUMNS if c not in raw.columns})
    if raw.empty:
        problems.append("no rows")
        return report
    frame = _typed(raw, problems)
    if problems:
        return report
    _check_values(frame, problems)
    _check_runs(frame, problems)
    check_tasks(frame, problems)
    if not problems:
        report.frame = frame
    return report


def version_1(raw: pd.DataFrame) -> bool:
    """Whether every row of a raw submission says ``submission_version`` 1 (then the columns of version 2
    may be missing)."""
    if "submission_version" not in raw.columns or raw.empty:
        return False
    return {str(v).strip() for v in raw["submission_version"]} <= {"1", "1.0"}


def number_or_none(text: str) -> float | None:
    """A cell's number; NaN for an empty cell, None for text that is no number (reported, never kept)."""
    if text == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return None


def _lines(mask: pd.Series | np.ndarray, limit: int = 5) -> str:
    """File lines (header = line 1) of the first flagged rows."""
    rows = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(int(r) + 2) for r in rows[:limit])
    return f"line {shown}" + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _typed(raw: pd.DataFrame, problems: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    for column, kind in ALL_COLUMNS.items():
        values = raw[column]
        if kind.startswith("text"):
            if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
                problems.append(f"column {column!r} must hold text; got {values.dtype}")
                continue
            text = values.fillna("").astype(str)
            if not kind.endswith("?") and (text.str.strip() == "").any():
                problems.append(f"column {column!r} is empty on {_lines(text.str.strip() == '')}")
            out[column] = text
            continue
        if pd.api.types.is_bool_dtype(values) or not (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_string_dtype(values)
            or pd.api.types.is_object_dtype(values)
        ):
            problems.append(f"column {column!r} must hold numbers; got {values.dtype}")
            continue
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.astype("float64")
            bad = pd.Series(False, index=values.index)
        else:
            text = values.fillna("").astype(str).str.strip()
            parsed = text.map(number_or_none)  # an empty cell is missing; text that is no number is None
            bad = parsed.isna() & (text != "")
            numbers = parsed.where(~bad, np.nan).astype("float64")
        if bad.any():
            problems.append(f"column {column!r} holds non-numbers on {_lines(bad)}")
            continue
        if np.isinf(numbers.to_numpy()).any():
            problems.append(f"column {column!r} holds infinite values on {_lines(np.isinf(numbers))}")
            continue
        if kind in ("int", "count"):
            present = numbers.notna()
            if kind == "int" and not present.all():
                problems.append(f"column {column!r} is empty on {_lines(~present)}")
                continue
            fractional = present & (numbers != numbers.round())
            if fractional.any():
                problems.append(f"column {column!r} must hold whole numbers; not on {_lines(fractional)}")
                continue
            negative = present & (numbers < 0)
            if negative.any():
                problems.append(f"column {column!r} must not be negative; it is on {_lines(negative)}")
                continue
            out[column] = numbers.astype("int64") if kind == "int" else numbers.round().astype("Int64")
        else:
            out[column] = numbers
    return out.reset_index(drop=True)


def _check_values(frame: pd.DataFrame, problems: list[str]) -> None:
    versions = ~frame["submission_version"].isin(VERSIONS)
    if versions.any():
        problems.append(
            f"submission_version must be {' or '.join(map(str, VERSIONS))} ({SUBMISSION_VERSION} is written "
            f"now); it is not on {_lines(versions)}"
        )
    for column in ("objective", "calibration"):
        unknown = ~frame[column].isin(CHOICES[column])
        if unknown.any():
            problems.append(f"{column} must be one of {CHOICES[column]}; it is not on {_lines(unknown)}")
    bad_split = ~frame["split"].isin(SPLITS)
    if bad_split.any():
        problems.append(f"split must be one of {SPLITS}; it is not on {_lines(bad_split)}")
    over = frame["n_pos"] > frame["n"]
    if over.any():
        problems.append(f"n_pos > n on {_lines(over)}")
    _check_counts(frame, problems)
    for column in (*UNIT_INTERVAL, *RATIOS):
        outside = frame[column].notna() & ((frame[column] < 0) | (frame[column] > 1))
        if outside.any():
            problems.append(f"{column} outside [0, 1] on {_lines(outside)}")
    auroc, low, high = frame["auroc"], frame["auroc_low"], frame["auroc_high"]
    bounds = auroc.notna() & low.notna() & high.notna()
    unordered = bounds & ~((low <= auroc) & (auroc <= high))
    if unordered.any():
        problems.append(f"auroc_low <= auroc <= auroc_high does not hold on {_lines(unordered)}")
    half = auroc.notna() & (low.isna() != high.isna())
    if half.any():
        problems.append(f"auroc_low and auroc_high must be both present or both missing; see {_lines(half)}")
    for name in ("delong", "clustered"):
        lows, highs = frame[f"{name}_low"], frame[f"{name}_high"]
        reversed_bounds = lows.notna() & highs.notna() & (lows > highs)
        if reversed_bounds.any():
            problems.append(f"{name}_low > {name}_high on {_lines(reversed_bounds)}")
    patients, positive = frame["n_patients"].astype("Float64"), frame["n_pos_patients"].astype("Float64")
    counts = ((positive > patients) | (patients > frame["n"]) | (positive > frame["n_pos"])).fillna(False)
    if counts.any():
        problems.append(f"patient counts exceed n_patients, n or n_pos on {_lines(counts)}")
    undefined = frame["auroc"].isna() & (frame["auroc_low"].notna() | frame["auroc_high"].notna())
    if undefined.any():
        problems.append(f"an interval without an AUROC on {_lines(undefined)}")
    duplicated = frame.duplicated(["run_id", "target", "split"], keep=False)
    if duplicated.any():
        problems.append(f"duplicated (run_id, target, split) on {_lines(duplicated)}")


def _check_counts(frame: pd.DataFrame, problems: list[str]) -> None:
    """Counts that agree: an AUROC exactly where both classes are present (0 < n_pos < n), no more resamples
    used than drawn, and confusion counts (where given) that add up to n and n_pos."""
    both = (frame["n_pos"] > 0) & (frame["n_pos"] < frame["n"])
    lone = frame["auroc"].notna() & ~both
    if lone.any():
        problems.append(f"an AUROC though n_pos and n leave one class (not 0 < n_pos < n) on {_lines(lone)}")
    lacking = frame["auroc"].isna() & both
    if lacking.any():
        problems.append(f"no AUROC though n_pos and n give both classes on {_lines(lacking)}")
    beyond = (frame["n_boot_used"] > frame["n_boot"]).fillna(False)
    if beyond.any():
        problems.append(f"n_boot_used > n_boot on {_lines(beyond)}")
    confusion = frame[["tp", "fp", "tn", "fn"]].astype("Float64")
    given = confusion.notna().all(axis=1)
    total = confusion.sum(axis=1)
    wrong = given & ((total != frame["n"]) | (confusion["tp"] + confusion["fn"] != frame["n_pos"]))
    wrong = wrong.fillna(False).astype(bool)
    if wrong.any():
        problems.append(f"tp + fp + tn + fn must be n and tp + fn must be n_pos; not on {_lines(wrong)}")


def _check_runs(frame: pd.DataFrame, problems: list[str]) -> None:
    """Per run: the run's columns the same on all its rows, test rows, the same targets in val and test
    (computed for all runs at once: a file of thousands of runs checks in a second); one seed per run."""
    run_ids = frame["run_id"]
    counts = frame[list(RUN_COLUMNS)].astype(str).groupby(run_ids, sort=True).nunique()
    tested = (frame["split"] == "test").groupby(run_ids, sort=True).any()
    pairs = frame[["run_id", "split", "target"]].drop_duplicates()
    per_split = pairs.groupby(["run_id", "split"], sort=True)["target"].agg(frozenset)
    differing = per_split.groupby(level="run_id").nunique() > 1
    flagged = counts.index[(counts > 1).any(axis=1) | ~tested | differing.reindex(counts.index).to_numpy()]
    for run_id in flagged:
        varying = [c for c in RUN_COLUMNS if counts.at[run_id, c] > 1]
        if varying:
            problems.append(f"run {run_id[:16]}: {varying} must be the same on all its rows")
        if not tested[run_id]:
            problems.append(f"run {run_id[:16]}: no test rows")
        if differing[run_id]:
            problems.append(f"run {run_id[:16]}: val and test rows name different targets")
    runs = frame.drop_duplicates("run_id")
    key = ["backbone", "preset", "label", "config_key", "task", "cohort_hash", "seed"]
    seeds = runs.duplicated(key, keep=False)
    if seeds.any():
        clash = runs.loc[seeds, [*key, "run_id"]].head(4).to_dict("records")
        problems.append(
            "one seed of one configuration and task appears under several run ids (seeds must tell runs "
            f"apart): {clash}"
        )

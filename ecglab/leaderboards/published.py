"""Published result tables of the two reference studies, as data (not re-run here).

``load_published("anyecg_lab")`` reads AnyECG-Lab Table 2 (108 targets, 1-h estimation window) and
``load_published("cardiolab")`` CardioLab Tables 1-2 (estimation and 30/60/120-min forecasting, top
targets only) from ``ecglab/leaderboards/reference/`` and returns one normalised frame per study:

``study, task, lab, direction, threshold, unit, category, n_tests, n_positive, auroc, ci_low, ci_high,
ci_inverted, issues``

Values are kept exactly as published. A row whose interval has ``ci_low > ci_high`` stays as printed and
is flagged (``ci_inverted``) with a text in ``issues``; it is never swapped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
FILES = {"anyecg_lab": "anyecg_lab_1h_published.csv", "cardiolab": "cardiolab_published.csv"}
EXPECTED_ROWS = {"anyecg_lab": 108, "cardiolab": 104}
SOURCE_COLUMNS = {
    "anyecg_lab": [
        "lab",
        "direction",
        "threshold",
        "unit",
        "n_tests",
        "n_positive",
        "auroc",
        "ci_low",
        "ci_high",
    ],
    "cardiolab": ["lab", "category", "direction", "threshold", "unit", "task", "auroc", "ci_low", "ci_high"],
}
CARDIOLAB_TASKS = ("estimation_60min", "forecast_30min", "forecast_60min", "forecast_120min")
ANYECG_TASK = "estimation_60min"
COLUMNS = [
    "study",
    "task",
    "lab",
    "direction",
    "threshold",
    "unit",
    "category",
    "n_tests",
    "n_positive",
    "auroc",
    "ci_low",
    "ci_high",
    "ci_inverted",
    "issues",
]


def load_published(study: str, root: Path | None = None) -> pd.DataFrame:
    """Load one study's published table, validated and normalised (see the module docstring).

    ``root`` defaults to the package's ``reference`` folder (package data). Raises FileNotFoundError when
    the CSV is missing and ValueError when it is malformed.
    """
    if study not in FILES:
        raise ValueError(f"unknown study {study!r}; expected one of {sorted(FILES)}")
    folder = REFERENCE_DIR if root is None else Path(root)
    path = folder / FILES[study]
    if not path.is_file():
        raise FileNotFoundError(
            f"published table {path} not found: it ships in the ecglab package's leaderboards/reference/ "
            "folder as package data; reinstall ecglab, or pass root= pointing at a folder holding "
            f"{FILES[study]}"
        )
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in SOURCE_COLUMNS[study] if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    frame = _normalise(study, raw, path)
    _validate(study, frame, path)
    return _flag(frame)


def _numeric(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Parse one column as float64; any empty or non-numeric cell is an error naming its row."""
    values = []
    for i, text in enumerate(raw[column], start=2):
        try:
            values.append(float(text))
        except ValueError as exc:
            raise ValueError(f"{path}: line {i}, column {column!r}: {text!r} is not a number") from exc
    series = pd.Series(values, index=raw.index, dtype="float64")
    bad = ~np.isfinite(series.to_numpy())
    if bad.any():
        raise ValueError(
            f"{path}: column {column!r} has non-finite values on lines {list(np.flatnonzero(bad) + 2)}"
        )
    return series


def _counts(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = _numeric(raw, column, path)
    if (values < 0).any() or (values != values.round()).any():
        raise ValueError(f"{path}: column {column!r} must hold non-negative integers")
    return values.astype("Int64")


def _normalise(study: str, raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    n = len(raw)
    frame = pd.DataFrame(
        {
            "study": study,
            "task": raw["task"] if study == "cardiolab" else ANYECG_TASK,
            "lab": raw["lab"],
            "direction": raw["direction"],
            "threshold": _numeric(raw, "threshold", path),
            "unit": raw["unit"],
            "category": raw["category"] if study == "cardiolab" else pd.Series([pd.NA] * n, dtype="string"),
            "n_tests": _counts(raw, "n_tests", path)
            if study == "anyecg_lab"
            else pd.array([pd.NA] * n, "Int64"),
            "n_positive": _counts(raw, "n_positive", path)
            if study == "anyecg_lab"
            else pd.array([pd.NA] * n, "Int64"),
            "auroc": _numeric(raw, "auroc", path),
            "ci_low": _numeric(raw, "ci_low", path),
            "ci_high": _numeric(raw, "ci_high", path),
        },
        index=raw.index,
    )
    for column in ("study", "task", "lab", "direction", "unit", "category"):
        frame[column] = frame[column].astype("string")
    return frame


def _validate(study: str, frame: pd.DataFrame, path: Path) -> None:
    def fail(problem: str, mask: pd.Series) -> None:
        lines = [int(i) + 2 for i in np.flatnonzero(mask.to_numpy())]
        raise ValueError(f"{path}: {problem} on lines {lines}")

    if len(frame) != EXPECTED_ROWS[study]:
        raise ValueError(f"{path}: {len(frame)} rows, expected {EXPECTED_ROWS[study]} for {study}")
    for column in ("lab", "unit"):
        empty = frame[column] == ""
        if empty.any():
            fail(f"empty {column}", empty)
    bad_direction = ~frame["direction"].isin(["low", "high"])
    if bad_direction.any():
        fail("direction not in {low, high}", bad_direction)
    if study == "cardiolab":
        bad_task = ~frame["task"].isin(CARDIOLAB_TASKS)
        if bad_task.any():
            fail(f"task not in {CARDIOLAB_TASKS}", bad_task)
    for column in ("auroc", "ci_low", "ci_high"):
        outside = (frame[column] < 0) | (frame[column] > 1)
        if outside.any():
            fail(f"{column} outside [0, 1]", outside)
    if study == "anyecg_lab":
        too_many = frame["n_positive"] > frame["n_tests"]
        if too_many.any():
            fail("n_positive > n_tests", too_many)
    duplicated = frame.duplicated(["task", "lab", "direction"], keep=False)
    if duplicated.any():
        fail("duplicated (task, lab, direction)", duplicated)


def _flag(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``ci_inverted`` and ``issues``; values are left as published."""
    frame = frame.copy()
    inverted = frame["ci_low"] > frame["ci_high"]
    lo = frame[["ci_low", "ci_high"]].min(axis=1)
    hi = frame[["ci_low", "ci_high"]].max(axis=1)
    outside = (frame["auroc"] < lo) | (frame["auroc"] > hi)
    issues = []
    for is_inverted, is_outside, row in zip(inverted, outside, frame.itertuples(), strict=True):
        found = []
        if is_inverted:
            found.append(f"published CI low {row.ci_low} > high {row.ci_high} (kept as published)")
        if is_outside:
            found.append(f"published AUROC {row.auroc} outside its CI")
        issues.append("; ".join(found))
    frame["ci_inverted"] = inverted.astype(bool)
    frame["issues"] = pd.Series(issues, index=frame.index, dtype="string")
    return frame[COLUMNS].reset_index(drop=True)

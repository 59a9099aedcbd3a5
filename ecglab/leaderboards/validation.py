"""What a leaderboard checks in a run folder's results before it publishes them: the test rows of
``results.parquet`` (every column present and numeric, counts whole and consistent, an AUROC exactly where
both classes are present, every AUROC and bound in [0, 1], ``auroc_low <= auroc <= auroc_high``, no
infinite value) and the run's stored per-resample AUROCs (``test_resamples.npz``: values in [0, 1], and the
interval and resample count of ``results.parquet`` are the ones they give). A run that fails is refused
with the problems found, on one line; nothing is repaired.

The rules follow what the engine writes (``ecglab.bench.engine.evaluate.result_rows``): ``n`` and ``n_pos``
count a target's observed test rows and positives; the AUROC and AUPRC are defined (finite) exactly when
``0 < n_pos < n``; the bootstrap interval is NaN exactly when no resample had both classes
(``n_boot_used == 0``); DeLong's interval is clipped to [0, 1]. A target without observed test rows
(``n == 0``) is a valid, undefined row; a run with no observed test row at all is refused. The clustered
columns (``clustered_low``, ``clustered_high``, ``n_patients``, ``n_pos_patients``) are optional: run
folders written before them lack them (NaN); where present, the clustered interval lies in [0, 1] around the
AUROC, the patient counts are whole with ``n_pos_patients <= n_patients <= n`` and ``n_pos_patients <=
n_pos``, a patient with a positive anchor exactly where there is a positive, and DeLong's independent-rows
interval is given only where every patient holds one anchor (``n_patients == n``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench.resample_file import ResampleAurocs
from ecglab.leaderboards.errors import RunRefused

TOLERANCE = 1e-9  # float slack in the bound checks (the values are computed, never edited by hand)
ENGINE_ALPHA = 0.05  # the engine's stored intervals are 95% percentile intervals
UNIT_COLUMNS = ("auroc", "auroc_low", "auroc_high", "delong_low", "delong_high", "auprc")
COLUMNS = ("n", "n_pos", "n_boot_used", *UNIT_COLUMNS)
OPTIONAL_COLUMNS = ("clustered_low", "clustered_high", "n_patients", "n_pos_patients")  # NaN where absent
SHOWN = 3  # problems named in a refusal; the rest are counted


class _Rows:
    """A run's test rows as NumPy arrays (the checks run once per run folder: a leaderboard reads many), and
    the problems found, each naming the first targets it concerns."""

    def __init__(self, test: Mapping[str, Any]) -> None:
        self.names = np.asarray(test["target"], dtype=str)
        self.v = {c: np.asarray(test[c], dtype=np.float64) for c in COLUMNS}
        for c in OPTIONAL_COLUMNS:
            self.v[c] = np.asarray(test[c] if c in test else np.full(self.names.size, np.nan), np.float64)
        self.problems: list[str] = []

    def flag(self, mask: np.ndarray, what: str, *, column: str | None = None) -> None:
        """Record ``what`` (after ``column`` and its first flagged value, if given) when a row is flagged."""
        if not mask.any():
            return
        if column is not None:
            what = f"{column} {self.v[column][mask][0]:g} {what}"
        names = list(self.names[mask])
        shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
        self.problems.append(f"{what} (target {shown})")


def _counts(rows: _Rows, n_boot: int | None) -> None:
    """``n``, ``n_pos`` and ``n_boot_used`` present, whole and not negative, ``n_pos <= n``, ``n_boot_used <=
    n_boot``."""
    v = rows.v
    with np.errstate(invalid="ignore"):
        for column in ("n", "n_pos", "n_boot_used"):
            values = v[column]
            rows.flag(np.isnan(values), f"{column} is missing")
            rows.flag(np.isfinite(values) & (values != np.round(values)), f"{column} is not a whole number")
            rows.flag(np.isinf(values), f"{column} is infinite")
            rows.flag(values < 0, "is negative", column=column)
        over = v["n_pos"] > v["n"]
        if over.any():
            rows.flag(over, f"n_pos {v['n_pos'][over][0]:g} > n {v['n'][over][0]:g}")
        if n_boot is not None:
            rows.flag(v["n_boot_used"] > n_boot, f"n_boot_used exceeds the {n_boot} stored resamples")


def _values(rows: _Rows) -> None:
    """The AUROCs and their intervals (see the module docstring)."""
    v = rows.v
    with np.errstate(invalid="ignore"):
        for column in UNIT_COLUMNS:
            values = v[column]
            rows.flag(np.isinf(values), f"{column} is infinite")
            rows.flag(np.isfinite(values) & ((values < 0) | (values > 1)), "outside [0, 1]", column=column)
        auroc, low, high, used = v["auroc"], v["auroc_low"], v["auroc_high"], v["n_boot_used"]
        defined, has_low, has_high = ~np.isnan(auroc), ~np.isnan(low), ~np.isnan(high)
        both_classes = (v["n_pos"] > 0) & (v["n_pos"] < v["n"])
        rows.flag(
            defined & ~both_classes, "an AUROC though its test rows do not hold both classes (0 < n_pos < n)"
        )
        rows.flag(~defined & both_classes, "no AUROC though its test rows hold both classes")
        unordered = defined & has_low & has_high & ((low > auroc + TOLERANCE) | (auroc > high + TOLERANCE))
        if unordered.any():
            i = np.flatnonzero(unordered)[0]
            what = f"auroc_low {low[i]:g} <= auroc {auroc[i]:g} <= auroc_high {high[i]:g} does not hold"
            rows.flag(unordered, what)
        rows.flag(has_low != has_high, "only one of auroc_low and auroc_high")
        rows.flag(~defined & (has_low | has_high), "an interval without an AUROC")
        rows.flag(defined & (used > 0) & ~has_low, "no interval though resamples were used")
        rows.flag(has_low & (used == 0), "an interval from no resample (n_boot_used 0)")
        rows.flag(v["delong_low"] > v["delong_high"], "delong_low > delong_high")


def _clustered(rows: _Rows) -> None:
    """The optional clustered interval and patient counts (see the module docstring)."""
    v = rows.v
    with np.errstate(invalid="ignore"):
        for column in ("n_patients", "n_pos_patients"):
            values = v[column]
            whole = np.isnan(values) | (np.isfinite(values) & (values == np.round(values)))
            rows.flag(~whole, f"{column} is not a whole number")
            rows.flag(values < 0, "is negative", column=column)
        rows.flag(np.isnan(v["n_patients"]) != np.isnan(v["n_pos_patients"]), "only one patient count")
        rows.flag(v["n_pos_patients"] > v["n_patients"], "n_pos_patients > n_patients")
        rows.flag(v["n_patients"] > v["n"], "n_patients > n (more patients than anchors)")
        rows.flag(v["n_pos_patients"] > v["n_pos"], "n_pos_patients > n_pos")
        rows.flag((v["n_pos_patients"] == 0) & (v["n_pos"] > 0), "n_pos_patients 0 though n_pos > 0")
        low, high, auroc = v["clustered_low"], v["clustered_high"], v["auroc"]
        for column in ("clustered_low", "clustered_high"):
            rows.flag(np.isinf(v[column]), f"{column} is infinite")
            rows.flag((v[column] < 0) | (v[column] > 1), "outside [0, 1]", column=column)
        rows.flag(np.isnan(low) != np.isnan(high), "only one of clustered_low and clustered_high")
        rows.flag(np.isnan(auroc) & ~np.isnan(low), "a clustered interval without an AUROC")
        outside = (low > auroc + TOLERANCE) | (auroc > high + TOLERANCE)
        rows.flag(outside, "clustered_low <= auroc <= clustered_high does not hold")
        repeated = v["n_patients"] < v["n"]
        rows.flag(
            repeated & ~np.isnan(v["delong_low"]),
            "a DeLong interval though patients hold several anchors (n_patients < n): DeLong assumes "
            "independent anchors",
        )


def result_problems(test: pd.DataFrame, n_boot: int | None = None, targets: Sequence[str] = ()) -> list[str]:
    """Every problem of a run's test rows (``target`` and the leaderboard's columns as float64);
    ``n_boot``: the stored resamples' count, ``targets``: the targets its ``run.json`` names (checked when
    given)."""
    rows = _Rows(test)
    names = rows.names
    rows.flag(np.char.strip(names) == "", "a row without a target name")
    if len(set(names)) < len(names):
        rows.flag(pd.Series(names).duplicated(keep=False).to_numpy(), "a target with several test rows")
    if targets and sorted(set(names)) != sorted(targets):
        rows.problems.append(
            f"its test rows name other targets than run.json ({len(set(names))}, {len(targets)})"
        )
    _counts(rows, n_boot)
    if not rows.problems and not (rows.v["n"] > 0).any():
        rows.problems.append("no observed test row in any target (n = 0 everywhere)")
    _values(rows)
    _clustered(rows)
    return rows.problems


def _percentile_intervals(aurocs: np.ndarray, alpha: float) -> np.ndarray:
    """Per row (target) the percentile interval of its non-NaN values, as ``np.quantile``'s linear method
    gives it (NaN for a row without any): (targets x 2)."""
    ordered = np.sort(aurocs, axis=1)  # NaN last
    used = (~np.isnan(aurocs)).sum(axis=1)
    bounds = np.full((aurocs.shape[0], 2), np.nan)
    for k, q in enumerate((alpha / 2, 1 - alpha / 2)):
        position = q * np.maximum(used - 1, 0)
        below = np.floor(position).astype(int)
        above = np.minimum(below + 1, np.maximum(used - 1, 0))
        lower = np.take_along_axis(ordered, below[:, None], axis=1)[:, 0]
        upper = np.take_along_axis(ordered, above[:, None], axis=1)[:, 0]
        bounds[:, k] = np.where(used > 0, lower + (upper - lower) * (position - below), np.nan)
    return bounds


def stored_problems(stored: ResampleAurocs, test: Mapping[str, Any]) -> list[str]:
    """Problems of a run's stored per-resample AUROCs against its test rows (same targets, in order):
    values in [0, 1] or NaN, and per target as many usable resamples as ``n_boot_used`` and the interval
    ``results.parquet`` states."""
    aurocs = stored.aurocs
    values = aurocs[~np.isnan(aurocs)]
    if values.size and (values.min() < 0 or values.max() > 1 or not np.isfinite(values).all()):
        return ["per-resample AUROCs outside [0, 1]"]
    rows = _Rows(test)
    wrong_count = (~np.isnan(aurocs)).sum(axis=1) != rows.v["n_boot_used"]
    rows.flag(wrong_count, "its usable resamples differ from n_boot_used")
    stated = np.column_stack([rows.v["auroc_low"], rows.v["auroc_high"]])
    bounds = _percentile_intervals(aurocs, ENGINE_ALPHA)
    differ = ~np.isclose(bounds, stated, rtol=0.0, atol=1e-6, equal_nan=True).all(axis=1)
    rows.flag(differ & ~wrong_count, "auroc_low/auroc_high are not the interval of the stored resamples")
    return rows.problems


def refuse(where: str, problems: list[str]) -> None:
    """Raise RunRefused naming ``where`` and the first problems (one line), when there are any."""
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise RunRefused(f"{where}: " + "; ".join(problems[:SHOWN]) + more)

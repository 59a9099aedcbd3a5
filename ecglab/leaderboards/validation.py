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
(``n == 0``) is a valid, undefined row; a run with no observed test row at all is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecglab.bench.resample_file import ResampleAurocs
from ecglab.leaderboards.errors import RunRefused

TOLERANCE = 1e-9  # float slack in the bound checks (the values are computed, never edited by hand)
ENGINE_ALPHA = 0.05  # the engine's stored intervals are 95% percentile intervals
UNIT_COLUMNS = ("auroc", "auroc_low", "auroc_high", "delong_low", "delong_high", "auprc")
SHOWN = 3  # problems named in a refusal; the rest are counted


def _targets(test: pd.DataFrame, mask: pd.Series | np.ndarray) -> str:
    """The targets of the flagged rows, the first few named."""
    names = list(test.loc[np.asarray(mask), "target"].astype(str))
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _flag(problems: list[str], test: pd.DataFrame, mask: pd.Series, what: str) -> None:
    if mask.any():
        problems.append(f"{what} (target {_targets(test, mask)})")


def _value(test: pd.DataFrame, mask: pd.Series, column: str) -> str:
    return f"{test.loc[mask, column].iloc[0]:g}"


def count_problems(test: pd.DataFrame, n_boot: int | None) -> list[str]:
    """Problems of the counts: ``n``, ``n_pos`` and ``n_boot_used`` whole, ``0 <= n_pos <= n``,
    ``n_boot_used <= n_boot``."""
    problems: list[str] = []
    for column in ("n", "n_pos", "n_boot_used"):
        values = test[column]
        _flag(problems, test, values.isna(), f"{column} is missing")
        present = values.notna()
        _flag(problems, test, present & (values != values.round()), f"{column} is not a whole number")
        negative = present & (values < 0)
        if negative.any():
            _flag(problems, test, negative, f"{column} {_value(test, negative, column)} is negative")
    over = test["n_pos"] > test["n"]
    if over.any():
        first = test.loc[over].iloc[0]
        _flag(problems, test, over, f"n_pos {first['n_pos']:g} > n {first['n']:g}")
    if n_boot is not None:
        beyond = test["n_boot_used"] > n_boot
        _flag(problems, test, beyond, f"n_boot_used exceeds the {n_boot} stored resamples")
    return problems


def value_problems(test: pd.DataFrame) -> list[str]:
    """Problems of the AUROCs and their intervals (see the module docstring)."""
    problems: list[str] = []
    for column in UNIT_COLUMNS:
        values = test[column]
        infinite = np.isinf(values)
        _flag(problems, test, infinite, f"{column} is infinite")
        outside = ~infinite & values.notna() & ((values < 0) | (values > 1))
        if outside.any():
            _flag(problems, test, outside, f"{column} {_value(test, outside, column)} outside [0, 1]")
    auroc, low, high = test["auroc"], test["auroc_low"], test["auroc_high"]
    both_classes = (test["n_pos"] > 0) & (test["n_pos"] < test["n"])
    _flag(
        problems,
        test,
        auroc.notna() & ~both_classes,
        "an AUROC though its test rows do not hold both classes (0 < n_pos < n)",
    )
    _flag(problems, test, auroc.isna() & both_classes, "no AUROC though its test rows hold both classes")
    unordered = auroc.notna() & low.notna() & high.notna()
    unordered &= (low > auroc + TOLERANCE) | (auroc > high + TOLERANCE)
    if unordered.any():
        first = test.loc[unordered].iloc[0]
        what = f"auroc_low {first['auroc_low']:g} <= auroc {first['auroc']:g} <= auroc_high "
        _flag(problems, test, unordered, what + f"{first['auroc_high']:g} does not hold")
    _flag(problems, test, low.isna() != high.isna(), "only one of auroc_low and auroc_high")
    _flag(problems, test, auroc.isna() & (low.notna() | high.notna()), "an interval without an AUROC")
    used = test["n_boot_used"]
    _flag(problems, test, auroc.notna() & (used > 0) & low.isna(), "no interval though resamples were used")
    _flag(problems, test, low.notna() & (used == 0), "an interval from no resample (n_boot_used 0)")
    delong = test["delong_low"].notna() & test["delong_high"].notna()
    _flag(problems, test, delong & (test["delong_low"] > test["delong_high"]), "delong_low > delong_high")
    return problems


def result_problems(test: pd.DataFrame, n_boot: int | None = None, targets: Sequence[str] = ()) -> list[str]:
    """Every problem of a run's test rows (``target`` and the leaderboard's columns as float64);
    ``n_boot``: the stored resamples' count, ``targets``: the targets its ``run.json`` names (checked when
    given)."""
    problems: list[str] = []
    names = test["target"].astype(str)
    _flag(problems, test, names.str.strip() == "", "a row without a target name")
    _flag(problems, test, names.duplicated(keep=False), "a target with several test rows")
    if targets and sorted(set(names)) != sorted(targets):
        problems.append(
            f"its test rows name other targets than run.json ({len(set(names))} vs {len(targets)})"
        )
    problems += count_problems(test, n_boot)
    if not problems and not (test["n"] > 0).any():
        problems.append("no observed test row in any target (n = 0 everywhere)")
    problems += value_problems(test)
    return problems


def stored_problems(stored: ResampleAurocs, test: pd.DataFrame) -> list[str]:
    """Problems of a run's stored per-resample AUROCs against its test rows (same targets, in order):
    values in [0, 1] or NaN, a NaN row for every undefined target, and per target as many usable resamples
    as ``n_boot_used`` and the interval ``results.parquet`` states."""
    aurocs = stored.aurocs
    problems: list[str] = []
    if (
        np.isinf(aurocs).any()
        or (aurocs[~np.isnan(aurocs)] < 0).any()
        or (aurocs[~np.isnan(aurocs)] > 1).any()
    ):
        problems.append("per-resample AUROCs outside [0, 1]")
        return problems
    used = (~np.isnan(aurocs)).sum(axis=1)
    wrong_count = used != test["n_boot_used"].to_numpy()
    _flag(
        problems, test, pd.Series(wrong_count, index=test.index), "usable resamples differ from n_boot_used"
    )
    intervals = [
        np.quantile(row[~np.isnan(row)], [ENGINE_ALPHA / 2, 1 - ENGINE_ALPHA / 2])
        if (~np.isnan(row)).any()
        else np.array([np.nan, np.nan])
        for row in aurocs
    ]
    bounds = np.array(intervals).reshape(-1, 2)
    stated = test[["auroc_low", "auroc_high"]].to_numpy(dtype=np.float64)
    differ = ~np.isclose(bounds, stated, rtol=0.0, atol=1e-6, equal_nan=True).all(axis=1)
    _flag(
        problems,
        test,
        pd.Series(differ & ~wrong_count, index=test.index),
        "auroc_low/auroc_high are not the interval of the stored resamples",
    )
    return problems


def refuse(where: str, problems: list[str]) -> None:
    """Raise RunRefused naming ``where`` and the first problems (one line), when there are any."""
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise RunRefused(f"{where}: " + "; ".join(problems[:SHOWN]) + more)

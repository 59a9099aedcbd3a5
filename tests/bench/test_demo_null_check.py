"""The demo's line on its null labs counts the clustered intervals excluding 0.5, of null targets only."""

from __future__ import annotations

import pandas as pd

from ecglab.bench.commands.demo import null_lab_check


def _row(target: str, low: float, high: float, source: str = "ecglab") -> dict:
    return {
        "source": source,
        "entry": "s4/tiny",
        "task": "demo_est_15min",
        "target": target,
        "auroc": (low + high) / 2,
        "clustered_low": low,
        "clustered_high": high,
    }


def test_only_null_targets_with_an_interval_are_counted() -> None:
    targets = pd.DataFrame(
        [
            _row("sodium_low", 0.40, 0.60),
            _row("sodium_high", 0.52, 0.70),  # excludes 0.5
            _row("potassium_high", 0.80, 0.95),  # planted: not counted
            _row("glucose_low", float("nan"), float("nan")),  # no interval: not counted
            _row("glucose_high", 0.30, 0.45, source="published"),  # not an ecglab row
        ]
    )
    line = null_lab_check(targets, ["SODIUM", "GLUCOSE"])
    assert "1 of 2 clustered intervals exclude 0.5" in line
    assert "sodium_high" in line and "potassium" not in line


def test_no_null_interval_says_so() -> None:
    line = null_lab_check(pd.DataFrame([_row("potassium_high", 0.8, 0.9)]), ["SODIUM"])
    assert line == "null labs: no clustered interval to check"

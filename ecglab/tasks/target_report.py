"""Why a task has no usable target: each rule that dropped targets, with its count, and the nearest misses."""

from __future__ import annotations

import re

import pandas as pd

from ecglab.tasks.spec import TaskSpec

_COUNT_REASON = re.compile(r"^\d+ (positives|negatives) in (\w+) \(< (\d+)\)$")
CLOSEST_SHOWN = 3


def drop_rule(reason: str) -> str:
    """The rule behind a target's drop reason: ``7 positives in val (< 10)`` -> ``fewer than 10 positives in
    val``; other reasons (a lab not measured, no reference range) are their own rule."""
    match = _COUNT_REASON.match(reason)
    return f"fewer than {match[3]} {match[1]} in {match[2]}" if match else reason


def nearest_misses(targets: pd.DataFrame, spec: TaskSpec, n: int = CLOSEST_SHOWN) -> list[str]:
    """The ``n`` dropped targets that came closest to the count rules, each with its tightest count, e.g.
    ``POTASSIUM_high 7/10 positives in val``."""
    need = {"positives": spec.panel.min_positives, "negatives": spec.panel.min_negatives}
    misses = []
    for row in targets.itertuples(index=False):
        if not _COUNT_REASON.match(str(row.drop_reason)):
            continue
        worst = min(
            (
                (getattr(row, f"{kind}_{split}") / need[kind], kind, split)
                for kind in need
                for split in ("val", "test")
            ),
        )
        ratio, kind, split = worst
        misses.append(
            (
                -ratio,
                str(row.target),
                f"{row.target} {getattr(row, f'{kind}_{split}')}/{need[kind]} {kind} in {split}",
            )
        )
    return [text for _, _, text in sorted(misses)[:n]]


def no_target_message(targets: pd.DataFrame, spec: TaskSpec) -> str:
    """One line: how many targets each rule dropped, and the nearest misses with what to change."""
    if targets.empty:
        return "the panel has no targets"
    rules = targets.loc[~targets["kept"], "drop_reason"].map(drop_rule).value_counts()
    text = "every target was dropped: " + ", ".join(f"{count} for {rule}" for rule, count in rules.items())
    closest = nearest_misses(targets, spec)
    if closest:
        text += (
            f"; closest: {', '.join(closest)}; a larger cohort, or lower panel.min_positives / "
            "panel.min_negatives in the task spec, keeps them"
        )
    return text

"""Why a task has no usable target: each rule that dropped targets, with its count, and the nearest misses."""

from __future__ import annotations

import pandas as pd

from ecglab.tasks.spec import TaskSpec
from ecglab.tasks.target_filters import COUNTS, EVALUATED, drop_rule, is_count_reason

CLOSEST_SHOWN = 3


def nearest_misses(targets: pd.DataFrame, spec: TaskSpec, n: int = CLOSEST_SHOWN) -> list[str]:
    """The ``n`` dropped targets that came closest to the count rules, each with its tightest count, e.g.
    ``POTASSIUM_high 7/10 positives in val`` or ``potassium_high 4/10 positive patients in test``."""
    rules = [  # in the order the counts are checked: a tie names the count that dropped the target
        (f"{prefix}_{split}", words, split, int(getattr(spec.panel, field)))
        for split in EVALUATED
        for prefix, _, words, field in COUNTS
    ]
    misses = []
    for row in targets.itertuples(index=False):
        if not is_count_reason(str(row.drop_reason)):
            continue
        ratio, _, column, words, split, want = min(
            (getattr(row, column) / want, i, column, words, split, want)
            for i, (column, words, split, want) in enumerate(rules)
            if hasattr(row, column)
        )
        have = getattr(row, column)
        misses.append((-ratio, str(row.target), f"{row.target} {have}/{want} {words} in {split}"))
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
            "min_negatives / min_positive_patients / min_negative_patients in the task spec, keeps them"
        )
    return text

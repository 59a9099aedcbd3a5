"""Vectorised joins of events and query times within groups (a patient, or a patient and a lab).

Times are never compared across groups (MIMIC-IV and MC-MED shift dates per patient). Everything is one
lexicographic sort of events and queries together; there is no Python loop per query or per group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def codes(*columns: np.ndarray) -> np.ndarray:
    """One integer code per distinct combination of the given key columns (same length), in sorted order."""
    combined = pd.factorize(np.asarray(columns[0]), sort=True)[0].astype(np.int64)
    for column in columns[1:]:
        inner = pd.factorize(np.asarray(column), sort=True)[0].astype(np.int64)
        combined = pd.factorize(combined * (int(inner.max(initial=0)) + 1) + inner, sort=True)[0]
    return combined.astype(np.int64)


def sort_events(group: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The order that sorts events by (group, time)."""
    return np.lexsort((time, group))


def count_before(
    sorted_group: np.ndarray,
    sorted_time: np.ndarray,
    query_group: np.ndarray,
    query_time: np.ndarray,
    inclusive: bool,
) -> np.ndarray:
    """For each query, how many of the sorted events precede it: events with (group, time) < (qg, qt), or
    <= when ``inclusive``. Equal to a per-group ``searchsorted`` with side 'left' / 'right'."""
    n, m = len(sorted_group), len(query_group)
    groups = np.concatenate([sorted_group, query_group])
    times = np.concatenate([sorted_time, query_time])
    # at equal (group, time): 'left' puts queries first, 'right' puts events first
    tie = np.concatenate(
        [np.full(n, 0 if inclusive else 1, np.int8), np.full(m, 1 if inclusive else 0, np.int8)]
    )
    order = np.lexsort((tie, times, groups))
    is_event = order < n
    events_so_far = np.cumsum(is_event) - is_event
    result = np.empty(m, dtype=np.int64)
    result[order[~is_event] - n] = events_so_far[~is_event]
    return result


def window_ranges(
    sorted_group: np.ndarray,
    sorted_time: np.ndarray,
    query_group: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """[start, stop) into the sorted events of the same group with low <= time <= high (inclusive)."""
    start = count_before(sorted_group, sorted_time, query_group, low, inclusive=False)
    stop = count_before(sorted_group, sorted_time, query_group, high, inclusive=True)
    return start, np.maximum(stop, start)


def expand_ranges(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (query index, event position) pairs of the ranges, without a Python loop."""
    lengths = stop - start
    query = np.repeat(np.arange(len(start)), lengths)
    first = np.repeat(start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return query, first + np.arange(lengths.sum())


def range_sums(prefix: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Sum of a per-event quantity over [start, stop), from its prefix sums (length n + 1)."""
    return prefix[stop] - prefix[start]


def prefix_sums(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(values, dtype=np.int64)])

"""Bootstrap resamples of a test set, stored once as a count matrix and checked when read back.

Entry ``[b, i]`` of the count matrix is how many times row ``i`` is drawn in resample ``b``. This one
representation serves the row bootstrap and the cluster bootstrap alike (a cluster resample has a variable
number of rows, a count matrix always has ``n_rows`` columns), and it is what paired comparisons reuse for
every model. With the row indices of resample ``b`` written out, ``np.repeat(np.arange(n_rows), counts[b])``,
``sklearn.metrics.roc_auc_score`` gives the same AUROC as :mod:`ecglab.bench.metrics.bootstrap`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

MAX_COUNT = 2**15 - 1  # most times a row may be drawn in one resample (pooling needs 2 x count in uint16)


def bootstrap_resamples(
    n_rows: int, n_boot: int = 1000, seed: int = 0, groups: ArrayLike | None = None
) -> np.ndarray:
    """Bootstrap resamples of a test set as a count matrix (n_boot x n_rows, uint16).

    ``counts[b, i]`` is how many times row ``i`` is drawn in resample ``b``. Without ``groups``, each resample
    draws ``n_rows`` rows with replacement. With ``groups`` (one id per row, e.g. patient ids) it is a cluster
    bootstrap: each resample draws as many groups as there are, with replacement, and takes all rows of each
    drawn group, so a row's count is its group's count and groups stay whole. Row indices of resample ``b``:
    ``np.repeat(np.arange(n_rows), counts[b])``. Resamples do not depend on labels: store them once per test
    set and pass them to every model and target (paired comparisons)."""
    if n_rows < 1 or n_boot < 1:
        raise ValueError(f"n_rows and n_boot must be positive; got {n_rows} and {n_boot}")
    rng = np.random.default_rng(seed)
    if groups is None:
        return multinomial_counts(rng, n_boot, n_rows)
    group_of_row = group_codes(groups, n_rows)
    n_groups = int(group_of_row.max()) + 1
    counts = np.empty((n_boot, n_rows), dtype=np.uint16)
    for lo, hi in blocks(n_boot, max(1, 2**24 // n_groups)):
        group_counts = multinomial_counts(rng, hi - lo, n_groups)
        counts[lo:hi] = group_counts[:, group_of_row]
    return counts


def group_codes(groups: ArrayLike, n_rows: int) -> np.ndarray:
    g = np.asarray(groups)
    if g.shape != (n_rows,):
        raise ValueError(f"groups must hold one id per row ({n_rows}); got shape {g.shape}")
    if pd.isna(g).any():
        raise ValueError("groups has missing ids; every row needs a group (patient) id")
    codes, _ = pd.factorize(g, sort=True)
    return codes


def multinomial_counts(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    """(n_boot x n) uint16 counts of n draws with replacement from n items, per resample."""
    counts = np.empty((n_boot, n), dtype=np.uint16)
    for lo, hi in blocks(n_boot, max(1, 2**24 // n)):
        draws = rng.integers(0, n, size=(hi - lo, n))
        draws += np.arange(hi - lo)[:, None] * n
        block = np.bincount(draws.ravel(), minlength=(hi - lo) * n)
        if block.max(initial=0) > MAX_COUNT:
            raise OverflowError(f"a row is drawn more than {MAX_COUNT} times in one resample")
        counts[lo:hi] = block.reshape(hi - lo, n)
    return counts


def blocks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(n, lo + size)


def check_counts(counts: ArrayLike, n_rows: int) -> np.ndarray:
    c = np.asarray(counts)
    if c.ndim != 2 or c.shape[1] != n_rows:
        raise ValueError(f"counts must be (n_boot x n_rows) with n_rows = {n_rows}; got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"counts must be integers (how many times each row is drawn); got dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > MAX_COUNT):
        raise ValueError(f"counts must lie in [0, {MAX_COUNT}] (how many times each row is drawn)")
    return c

"""The vectorised bootstrap AUROC of one target on every stored resample at once: weighted rank sums
(each row weighted by its count in the resample, ties one half), by sparse pooling products.

How the vectorised bootstrap works (``auroc_ci_matrix``, ``bootstrap_aurocs``), for one target: its observed
rows are sorted by score once. Call "a" the smaller class and "b" the other. For each a row, the b rows below
its score (``lt`` of them) and at or below it (``le``) give two cut positions in the sorted b rows; twice the
Mann-Whitney count of a over b is ``sum over a rows of count * (B(lt) + B(le))``, ``B(k)`` the summed count of
the first ``k`` b rows: mid-ranks under weights, ties one half. One sparse matrix times the (rows x
resamples) count matrix pools, for every cut, the b rows since the previous cut and the a rows whose ``lt``
or ``le`` is that cut; a cumulative sum down the pooled b rows gives ``B`` at every cut and one product sum
the Mann-Whitney count, for all resamples at once (``pooling_plan``). Counts travel as uint8 (uint16 when
a row is drawn more than 31 times), pooled rows being capped so that their sums fit; cumulative sums are
exact in float32 (float64 when a resample draws 2**23 rows or more), products and their sums exact in
float64, so the result is the correctly rounded Mann-Whitney AUROC of each resample. Working memory per
target: pooled rows (at most about twice the observed rows) x resamples per block, in the count dtype and in
float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ecglab.bench.metrics.checks import observed_rows, require_both_classes
from ecglab.bench.metrics.resamples import blocks, check_counts

RESAMPLE_CHUNK = 1024  # resamples per block of the vectorised bootstrap (bounds the working memory)
CUMSUM_GROUP = 128  # rows per group of the cumulative sums down pooled rows
FLOAT32_EXACT = 2**23  # resample totals below this keep every cumulative sum exact in float32


@dataclass(frozen=True)
class ByRow:
    """A count matrix prepared for the pooling products (see ``by_row_counts``)."""

    blocks: list[np.ndarray]  # rows x resamples, RESAMPLE_CHUNK resamples per block, uint8 or uint16
    cap: int  # most rows pooled into one pooled row: their summed counts still fit the block dtype
    sums: type[np.floating]  # dtype of the cumulative sums: exact for every sum a resample can take


def by_row_counts(counts: np.ndarray) -> ByRow:
    """Transposes the count matrix (rows x resamples) into the narrowest unsigned dtype that leaves room for
    pooling several rows: uint8 when a row is never drawn more than 31 times (8+ rows per pooled row),
    else uint16. The pooling products read this matrix once per target, so its width sets their speed.
    Cumulative sums run in float32 while every resample draws fewer than 2**23 rows (all sums taken are
    then integers below 2**24, exact), else in float64."""
    most = max(1, int(counts.max(initial=1)))
    dtype = np.uint8 if np.iinfo(np.uint8).max // most >= 8 else np.uint16
    total = int(counts.sum(axis=1, dtype=np.int64).max(initial=0))
    return ByRow(
        blocks=[
            np.ascontiguousarray(counts[lo:hi].T, dtype=dtype)
            for lo, hi in blocks(counts.shape[0], RESAMPLE_CHUNK)
        ],
        cap=int(np.iinfo(dtype).max) // most,
        sums=np.float32 if total < FLOAT32_EXACT else np.float64,
    )


@dataclass(frozen=True)
class Plan:
    """How one target's observed rows pool for the weighted rank sums (see the module docstring)."""

    pool: sp.csc_matrix  # 2 * n_cuts x n_rows: b rows pooled by cut, then a rows' weights aligned to cuts
    n_cuts: int
    a_is_positive: bool
    auroc: float  # of the unresampled rows


def pooling_plan(
    rows: np.ndarray, positive: np.ndarray, score: np.ndarray, n_rows: int, by_row: ByRow
) -> Plan:
    """Pooling of one target's observed rows (both classes present). Cuts are positions in the sorted b rows,
    in ascending order (repeats allowed). Pooled row k of the first half sums the b rows between cut k-1 and
    cut k, so its cumulative sum is B(cut k); pooled row k of the second half sums the a rows whose ``lt``
    or ``le`` is cut k (an a row with ``lt == le`` enters once with weight 2). Twice the Mann-Whitney count of
    a over b is then the sum over k of second half[k] * cumulative first half[k]. No pooled row gathers more
    than ``by_row.cap`` count units, so pooled counts fit the count dtype."""
    order = np.argsort(score)  # the order within ties does not matter
    rows, positive, score = rows[order], positive[order], score[order]
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    a_is_positive = n_pos <= n_neg
    is_a = positive if a_is_positive else ~positive
    a_rows, b_rows = rows[is_a], rows[~is_a]
    lt = np.searchsorted(score[~is_a], score[is_a], side="left")
    le = np.searchsorted(score[~is_a], score[is_a], side="right")

    # a entries: (cut, weight, row), one per untied a row and two per tied one; sorted by cut, grouped
    # by cut into aligned rows of at most cap // 2 entries each
    tied = lt != le
    entry_cut = np.concatenate((le, lt[tied]))
    entry_weight = np.concatenate((np.where(tied, 1, 2), np.ones(int(tied.sum()), dtype=np.int64)))
    entry_row = np.concatenate((a_rows, a_rows[tied]))
    by_cut = np.argsort(entry_cut, kind="stable")
    entry_cut, entry_weight, entry_row = entry_cut[by_cut], entry_weight[by_cut], entry_row[by_cut]
    starts = capped_runs(np.r_[True, entry_cut[1:] != entry_cut[:-1]], by_row.cap // 2)
    aligned_of_entry = np.cumsum(starts) - 1

    # cuts: one per aligned row, plus every cap b rows and the end (so b runs stay within cap rows)
    n_b = b_rows.size
    extra = np.r_[np.arange(by_row.cap, n_b, by_row.cap), n_b]
    cut_value = np.concatenate((entry_cut[starts], extra))
    cut_order = np.argsort(cut_value, kind="stable")
    cut_rank = np.empty_like(cut_order)
    cut_rank[cut_order] = np.arange(cut_order.size)
    n_cuts = cut_value.size
    # b row at position p pools into the first cut above p (its cumulative sum then counts the b rows below)
    cut_of_b = np.searchsorted(cut_value[cut_order], np.arange(n_b), side="right")

    # the pooling matrix, column-major: the product then reads the count matrix in row order and adds each
    # row into its pooled rows (several times faster than gathering the rows in score order)
    column = np.concatenate((b_rows, entry_row))
    pooled_row = np.concatenate((cut_of_b, n_cuts + cut_rank[aligned_of_entry]))
    weight = np.concatenate((np.ones(n_b, dtype=np.int64), entry_weight))
    by_column = np.argsort(column, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(column, minlength=n_rows))]
    pool = sp.csc_matrix(
        (weight[by_column].astype(by_row.blocks[0].dtype), pooled_row[by_column], indptr),
        shape=(2 * n_cuts, n_rows),
    )

    two_u_a = float(np.sum(lt, dtype=np.int64) + np.sum(le, dtype=np.int64))
    two_u = two_u_a if a_is_positive else 2.0 * n_pos * n_neg - two_u_a
    return Plan(pool=pool, n_cuts=n_cuts, a_is_positive=a_is_positive, auroc=two_u / (2.0 * n_pos * n_neg))


def capped_runs(starts: np.ndarray, cap: int) -> np.ndarray:
    """Run starts (a boolean per element, True where a run begins) with long runs split every ``cap``."""
    run_start = np.flatnonzero(starts)
    run_of = np.cumsum(starts) - 1
    position = np.arange(starts.size) - run_start[run_of]
    return starts | (position % cap == 0)


def plan_aurocs(plan: Plan, by_row: ByRow) -> np.ndarray:
    """AUROC of every resample (NaN where the resample holds a single class of this target)."""
    return np.concatenate([block_aurocs(plan, block, by_row.sums) for block in by_row.blocks])


def block_aurocs(plan: Plan, block: np.ndarray, sums: type[np.floating]) -> np.ndarray:
    pooled = plan.pool @ block  # 2 * n_cuts x resamples, in the count dtype (no overflow: capped)
    below = cumsum_rows(pooled[: plan.n_cuts], sums)  # b weight below each cut
    aligned = pooled[plan.n_cuts :]
    two_u = np.einsum("ij,ij->j", aligned, below, dtype=np.float64)  # exact: integers below 2**53
    w_a = aligned.sum(axis=0, dtype=np.int64) / 2.0  # every a row enters with weight 2 in all
    w_b = below[-1].astype(np.float64)
    if not plan.a_is_positive:  # a = negatives: pairs of (positive, negative) are the complement
        two_u = 2.0 * w_a * w_b - two_u
    with np.errstate(invalid="ignore", divide="ignore"):
        aurocs = two_u / (2.0 * w_a * w_b)
    aurocs[(w_a == 0) | (w_b == 0)] = np.nan
    return aurocs


def cumsum_rows(x: np.ndarray, dtype: type[np.floating], group: int = CUMSUM_GROUP) -> np.ndarray:
    """Cumulative sums down the rows of a C-ordered matrix, as ``dtype`` (numpy's cumsum along axis 0 walks
    each column with a stride and is several times slower): running sums within groups of rows by whole-row
    additions, then the groups' carries."""
    out = np.empty(x.shape, dtype=dtype)
    n_groups = x.shape[0] // group
    head = out[: n_groups * group].reshape(n_groups, group, x.shape[1])
    source = x[: n_groups * group].reshape(n_groups, group, x.shape[1])
    head[:, 0] = source[:, 0]
    for i in range(1, group if n_groups else 0):
        np.add(head[:, i - 1], source[:, i], out=head[:, i])
    carry = np.cumsum(head[:, -1], axis=0)
    head[1:] += carry[:-1, None]
    tail = out[n_groups * group :]
    np.cumsum(x[n_groups * group :], axis=0, dtype=dtype, out=tail)
    if n_groups:
        tail += carry[-1]
    return out


def bootstrap_aurocs(y_true: ArrayLike, y_score: ArrayLike, counts: ArrayLike) -> np.ndarray:
    """AUROC of one target on each stored resample (counts: n_boot x n_rows, see ``bootstrap_resamples``).

    Rows labelled -1 are left out of every resample. NaN marks resamples whose observed rows hold a single
    class. Raises ValueError when the unresampled observed rows hold a single class."""
    rows, positive, score = observed_rows(y_true, y_score)
    require_both_classes(positive)
    c = check_counts(counts, len(y_score))
    by_row = by_row_counts(c)
    return plan_aurocs(pooling_plan(rows, positive, score, c.shape[1], by_row), by_row)

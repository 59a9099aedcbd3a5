"""Evaluation metrics of the leaderboards: AUROC with bootstrap and DeLong confidence intervals, paired model
comparisons, threshold metrics and AnyECG-Lab's AUROC tiers.

Labels are 1 (abnormal), 0 (normal) or -1 (not measured). Every function here masks the -1 rows: they are
never counted as negatives, their scores are never looked at (they may even be NaN), and no other label value
is accepted. Scores of observed rows must be finite.

Bootstrap resamples are stored once per test set as a count matrix (see ``bootstrap_resamples``): entry
``[b, i]`` is how many times row ``i`` is drawn in resample ``b``. This one representation serves the row
bootstrap and the cluster bootstrap alike (a cluster resample has a variable number of rows, a count matrix
always has ``n_rows`` columns), it is what paired comparisons reuse for every model, and it turns the
bootstrap AUROC into weighted rank sums: the AUROC of a resample is the Mann-Whitney statistic of its rows,
each row weighted by its count, ties counted one half. With the row indices of resample ``b`` written out,
``np.repeat(np.arange(n_rows), counts[b])``, ``sklearn.metrics.roc_auc_score`` gives the same number.

How the vectorised bootstrap works (``auroc_ci_matrix``, ``bootstrap_aurocs``), for one target: its observed
rows are sorted by score once. Call "a" the smaller class and "b" the other. For each a row, the b rows below
its score (``lt`` of them) and at or below it (``le``) give two cut positions in the sorted b rows; twice the
Mann-Whitney count of a over b is ``sum over a rows of count * (B(lt) + B(le))``, ``B(k)`` the summed count of
the first ``k`` b rows: mid-ranks under weights, ties one half. One sparse matrix times the (rows x
resamples) count matrix pools, for every cut, the b rows since the previous cut and the a rows whose ``lt``
or ``le`` is that cut; a cumulative sum down the pooled b rows gives ``B`` at every cut and one product sum
the Mann-Whitney count, for all resamples at once (``_plan``). Counts travel as uint8 (uint16 when a row is
drawn more than 31 times), pooled rows being capped so that their sums fit; cumulative sums are exact in
float32 (float64 when a resample draws 2**23 rows or more), products and their sums exact in float64, so the
result is the correctly rounded Mann-Whitney AUROC of each resample. Working memory per target: pooled rows
(at most about twice the observed rows) x resamples per block, in the count dtype and in float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.stats import norm

__all__ = [
    "TIER_HIGH",
    "TIER_LOW",
    "AurocCI",
    "DelongTest",
    "PairedDiff",
    "auprc",
    "auroc",
    "auroc_ci",
    "auroc_ci_matrix",
    "bootstrap_aurocs",
    "bootstrap_resamples",
    "confusion_metrics",
    "delong_matrix",
    "delong_test",
    "delong_variance",
    "paired_bootstrap_diff",
    "threshold_at_sensitivity",
    "threshold_youden",
    "tier_counts",
]

MISSING = -1
TIER_HIGH = 0.65  # AnyECG-Lab: AUROC >= 0.65
TIER_LOW = 0.55  # AnyECG-Lab: 0.55 <= AUROC < 0.65; below 0.55 the lowest tier
RESAMPLE_CHUNK = 1024  # resamples per block of the vectorised bootstrap (bounds the working memory)
CUMSUM_GROUP = 128  # rows per group of the cumulative sums down pooled rows
FLOAT32_EXACT = 2**23  # resample totals below this keep every cumulative sum exact in float32
MAX_COUNT = 2**15 - 1  # most times a row may be drawn in one resample (pooling needs 2 x count in uint16)


# ------------------------------------------------------------------------------------------ input checks
def _labels(y_true: ArrayLike, name: str = "y_true") -> np.ndarray:
    """Labels as int8 in {1, 0, -1}; anything else (NaN included) is an error, never coerced."""
    y = np.asarray(y_true)
    if y.dtype == bool:
        return y.astype(np.int8)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name} must be numeric labels 1, 0 or -1 (not measured); got dtype {y.dtype}")
    bad = ~np.isin(y, (1, 0, MISSING))
    if bad.any():
        raise ValueError(
            f"{name} must hold 1 (abnormal), 0 (normal) or -1 (not measured); got {y[bad][0]!r} "
            f"({int(bad.sum())} such values); encode a missing label as -1"
        )
    return y.astype(np.int8)


def _scores(y_score: ArrayLike, name: str = "y_score") -> np.ndarray:
    s = np.asarray(y_score)
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers; got dtype {s.dtype}")
    return s


def _observed(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row indices, positive flags, scores) of the observed rows (label != -1) of one target."""
    y = _labels(y_true)
    s = _scores(y_score)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"y_true and y_score must be 1-D of one length; got {y.shape} and {s.shape}")
    rows = np.flatnonzero(y != MISSING)
    score = s[rows]
    if not np.isfinite(score).all():
        raise ValueError("y_score has non-finite values (NaN or inf) on rows whose label is observed")
    return rows, y[rows] == 1, score


def _require_both_classes(positive: np.ndarray) -> None:
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == positive.size:
        raise ValueError(
            f"AUROC needs both classes among the observed rows; got {n_pos} positive(s) and "
            f"{positive.size - n_pos} negative(s)"
        )


def _observed_two(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    _, positive, score = _observed(y_true, y_score)
    _require_both_classes(positive)
    return positive, score


def _matrices(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _labels(labels, "labels")
    s = _scores(scores, "scores")
    if y.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"labels and scores must be (rows x targets) of one shape; got {y.shape}, {s.shape}")
    return y, s


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")


# ------------------------------------------------------------------------------------------ point AUROC
def _midranks(sorted_values: np.ndarray) -> np.ndarray:
    """1-based ranks of an ascending array, tied values sharing the mean rank of their block."""
    n = sorted_values.size
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], n]
    return np.repeat((starts + 1 + ends) / 2.0, ends - starts)


def _rank_auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUROC with mid-ranks (exact for integer-valued rank sums below 2**53)."""
    order = np.argsort(score)  # the order within ties does not matter
    ranks = _midranks(score[order])
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    u = ranks[positive[order]].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auroc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve of the observed rows (label -1 masked); ties count one half.

    Equals ``sklearn.metrics.roc_auc_score`` on the observed rows. Raises ValueError when the observed rows
    hold a single class."""
    positive, score = _observed_two(y_true, y_score)
    return _rank_auroc(positive, score)


# ------------------------------------------------------------------------------------------ resamples
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
        return _multinomial_counts(rng, n_boot, n_rows)
    group_of_row = _group_codes(groups, n_rows)
    n_groups = int(group_of_row.max()) + 1
    counts = np.empty((n_boot, n_rows), dtype=np.uint16)
    for lo, hi in _blocks(n_boot, max(1, 2**24 // n_groups)):
        group_counts = _multinomial_counts(rng, hi - lo, n_groups)
        counts[lo:hi] = group_counts[:, group_of_row]
    return counts


def _group_codes(groups: ArrayLike, n_rows: int) -> np.ndarray:
    g = np.asarray(groups)
    if g.shape != (n_rows,):
        raise ValueError(f"groups must hold one id per row ({n_rows}); got shape {g.shape}")
    if pd.isna(g).any():
        raise ValueError("groups has missing ids; every row needs a group (patient) id")
    codes, _ = pd.factorize(g, sort=True)
    return codes


def _multinomial_counts(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    """(n_boot x n) uint16 counts of n draws with replacement from n items, per resample."""
    counts = np.empty((n_boot, n), dtype=np.uint16)
    for lo, hi in _blocks(n_boot, max(1, 2**24 // n)):
        draws = rng.integers(0, n, size=(hi - lo, n))
        draws += np.arange(hi - lo)[:, None] * n
        block = np.bincount(draws.ravel(), minlength=(hi - lo) * n)
        if block.max(initial=0) > MAX_COUNT:
            raise OverflowError(f"a row is drawn more than {MAX_COUNT} times in one resample")
        counts[lo:hi] = block.reshape(hi - lo, n)
    return counts


def _blocks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(n, lo + size)


def _check_counts(counts: ArrayLike, n_rows: int) -> np.ndarray:
    c = np.asarray(counts)
    if c.ndim != 2 or c.shape[1] != n_rows:
        raise ValueError(f"counts must be (n_boot x n_rows) with n_rows = {n_rows}; got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"counts must be integers (how many times each row is drawn); got dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > MAX_COUNT):
        raise ValueError(f"counts must lie in [0, {MAX_COUNT}] (how many times each row is drawn)")
    return c


@dataclass(frozen=True)
class _ByRow:
    """A count matrix prepared for the pooling products (see ``_by_row``)."""

    blocks: list[np.ndarray]  # rows x resamples, RESAMPLE_CHUNK resamples per block, uint8 or uint16
    cap: int  # most rows pooled into one pooled row: their summed counts still fit the block dtype
    sums: type[np.floating]  # dtype of the cumulative sums: exact for every sum a resample can take


def _by_row(counts: np.ndarray) -> _ByRow:
    """Transposes the count matrix (rows x resamples) into the narrowest unsigned dtype that leaves room for
    pooling several rows: uint8 when a row is never drawn more than 31 times (8+ rows per pooled row),
    else uint16. The pooling products read this matrix once per target, so its width sets their speed.
    Cumulative sums run in float32 while every resample draws fewer than 2**23 rows (all sums taken are
    then integers below 2**24, exact), else in float64."""
    most = max(1, int(counts.max(initial=1)))
    dtype = np.uint8 if np.iinfo(np.uint8).max // most >= 8 else np.uint16
    total = int(counts.sum(axis=1, dtype=np.int64).max(initial=0))
    return _ByRow(
        blocks=[
            np.ascontiguousarray(counts[lo:hi].T, dtype=dtype)
            for lo, hi in _blocks(counts.shape[0], RESAMPLE_CHUNK)
        ],
        cap=int(np.iinfo(dtype).max) // most,
        sums=np.float32 if total < FLOAT32_EXACT else np.float64,
    )


# ------------------------------------------------------------------------------------------ weighted AUROC
@dataclass(frozen=True)
class _Plan:
    """How one target's observed rows pool for the weighted rank sums (see the module docstring)."""

    pool: sp.csc_matrix  # 2 * n_cuts x n_rows: b rows pooled by cut, then a rows' weights aligned to cuts
    n_cuts: int
    a_is_positive: bool
    auroc: float  # of the unresampled rows


def _plan(rows: np.ndarray, positive: np.ndarray, score: np.ndarray, n_rows: int, by_row: _ByRow) -> _Plan:
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
    starts = _capped_runs(np.r_[True, entry_cut[1:] != entry_cut[:-1]], by_row.cap // 2)
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
    return _Plan(pool=pool, n_cuts=n_cuts, a_is_positive=a_is_positive, auroc=two_u / (2.0 * n_pos * n_neg))


def _capped_runs(starts: np.ndarray, cap: int) -> np.ndarray:
    """Run starts (a boolean per element, True where a run begins) with long runs split every ``cap``."""
    run_start = np.flatnonzero(starts)
    run_of = np.cumsum(starts) - 1
    position = np.arange(starts.size) - run_start[run_of]
    return starts | (position % cap == 0)


def _plan_aurocs(plan: _Plan, by_row: _ByRow) -> np.ndarray:
    """AUROC of every resample (NaN where the resample holds a single class of this target)."""
    return np.concatenate([_block_aurocs(plan, block, by_row.sums) for block in by_row.blocks])


def _block_aurocs(plan: _Plan, block: np.ndarray, sums: type[np.floating]) -> np.ndarray:
    pooled = plan.pool @ block  # 2 * n_cuts x resamples, in the count dtype (no overflow: capped)
    below = _cumsum_rows(pooled[: plan.n_cuts], sums)  # b weight below each cut
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


def _cumsum_rows(x: np.ndarray, dtype: type[np.floating], group: int = CUMSUM_GROUP) -> np.ndarray:
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
    rows, positive, score = _observed(y_true, y_score)
    _require_both_classes(positive)
    c = _check_counts(counts, len(y_score))
    by_row = _by_row(c)
    return _plan_aurocs(_plan(rows, positive, score, c.shape[1], by_row), by_row)


# ------------------------------------------------------------------------------------------ intervals
@dataclass(frozen=True)
class AurocCI:
    """AUROC with a (1 - alpha) interval. n_boot_used / n_boot_skipped: resamples with both classes / with a
    single class (skipped); both 0 for DeLong."""

    auroc: float
    low: float
    high: float
    method: str
    n_boot_used: int
    n_boot_skipped: int


def _percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float, int, int]:
    """(low, high, used, skipped): percentile interval (numpy's linear interpolation) of the non-NaN values;
    NaN bounds when no resample is usable."""
    used = values[~np.isnan(values)]
    if used.size == 0:
        return float("nan"), float("nan"), 0, int(values.size)
    low, high = np.quantile(used, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), int(used.size), int(values.size - used.size)


def auroc_ci(
    y_true: ArrayLike,
    y_score: ArrayLike,
    method: Literal["bootstrap", "delong"] = "bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    groups: ArrayLike | None = None,
    alpha: float = 0.05,
    resamples: ArrayLike | None = None,
) -> AurocCI:
    """AUROC of one target (label -1 masked) with a (1 - alpha) confidence interval.

    bootstrap: percentile interval over resamples; ``groups`` (one id per row) makes it a cluster bootstrap.
    ``resamples`` (a stored count matrix from ``bootstrap_resamples``, n_boot x n_rows) replaces drawing:
    then ``n_boot`` and ``seed`` are not used and ``groups`` must be None (the clusters are in the counts).
    Resamples whose observed rows hold a single class are skipped and counted.
    delong: DeLong's variance (Sun & Xu fast algorithm); normal interval, clipped to [0, 1] (the normal
    approximation can spill past 0 or 1); ``n_boot`` and ``seed`` are not used, ``groups`` and
    ``resamples`` are refused (DeLong assumes independent rows)."""
    _check_alpha(alpha)
    positive, score = _observed_two(y_true, y_score)
    if method == "delong":
        if resamples is not None or groups is not None:
            raise ValueError(
                "resamples and groups are for method='bootstrap'; DeLong assumes independent rows"
            )
        point, variance = _delong_one(positive, score)
        low, high = _normal_interval(point, variance, alpha)
        return AurocCI(point, low, high, "delong", 0, 0)
    if method != "bootstrap":
        raise ValueError(f"method must be 'bootstrap' or 'delong'; got {method!r}")
    n_rows = np.asarray(y_true).shape[0]
    if resamples is None:
        resamples = bootstrap_resamples(n_rows, n_boot, seed, groups)
    elif groups is not None:
        raise ValueError("pass groups to bootstrap_resamples, not together with stored resamples")
    values = bootstrap_aurocs(y_true, y_score, resamples)
    low, high, used, skipped = _percentile_interval(values, alpha)
    return AurocCI(_rank_auroc(positive, score), low, high, "bootstrap", used, skipped)


_MATRIX_COLUMNS = ["target", "n", "n_pos", "auroc", "low", "high", "n_boot_used", "n_boot_skipped"]


def auroc_ci_matrix(
    labels: ArrayLike, scores: ArrayLike, counts: ArrayLike, alpha: float = 0.05
) -> pd.DataFrame:
    """Per-target AUROC and percentile bootstrap interval for a (rows x targets) label matrix in {1, 0, -1}.

    ``counts`` (n_boot x rows) are the stored resamples shared by all targets. Each target counts only its
    observed rows (label != -1). Columns: target (column index), n, n_pos, auroc, low, high, n_boot_used,
    n_boot_skipped. A target whose observed rows hold a single class gets NaN auroc and bounds (it is
    undefined) and all resamples skipped."""
    _check_alpha(alpha)
    y, s = _matrices(labels, scores)
    c = _check_counts(counts, y.shape[0])
    by_row = _by_row(c)
    records = []
    for target in range(y.shape[1]):
        rows, positive, score = _observed(y[:, target], s[:, target])
        n_pos = int(positive.sum())
        point = low = high = float("nan")
        used, skipped = 0, c.shape[0]
        if 0 < n_pos < rows.size:
            plan = _plan(rows, positive, score, y.shape[0], by_row)
            point = plan.auroc
            low, high, used, skipped = _percentile_interval(_plan_aurocs(plan, by_row), alpha)
        records.append((target, rows.size, n_pos, point, low, high, used, skipped))
    return pd.DataFrame.from_records(records, columns=_MATRIX_COLUMNS)


class PairedDiff(NamedTuple):
    """AUROC(a) - AUROC(b) with a percentile interval over shared resamples."""

    diff: float
    low: float
    high: float


def paired_bootstrap_diff(
    labels: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, counts: ArrayLike, alpha: float = 0.05
) -> PairedDiff:
    """Paired bootstrap of AUROC(a) - AUROC(b) for one target (1-D labels, -1 masked) on the same rows:
    both models are scored on every stored resample (``counts``), the interval is the percentile interval
    of the per-resample differences (single-class resamples skipped, the same ones for both models)."""
    _check_alpha(alpha)
    rows, positive, score_a = _observed(labels, scores_a)
    _, _, score_b = _observed(labels, scores_b)
    _require_both_classes(positive)
    c = _check_counts(counts, len(scores_a))
    by_row = _by_row(c)  # once for both models
    plan_a = _plan(rows, positive, score_a, c.shape[1], by_row)
    plan_b = _plan(rows, positive, score_b, c.shape[1], by_row)
    diffs = _plan_aurocs(plan_a, by_row) - _plan_aurocs(plan_b, by_row)
    low, high, _, _ = _percentile_interval(diffs, alpha)
    return PairedDiff(plan_a.auroc - plan_b.auroc, low, high)


# ------------------------------------------------------------------------------------------ DeLong
def _delong_components(positive: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and DeLong's structural components by mid-ranks (Sun & Xu 2014): V10 per positive (share of
    negatives below it, ties one half), V01 per negative (share of positives above it), both in row order
    so that two models' components pair up. One sort."""
    order = np.argsort(score)  # the order within ties does not matter
    pos, sorted_score = positive[order], score[order]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    rank_all = np.empty(score.size)  # mid-ranks among all rows, and within each class, in row order
    rank_all[order] = _midranks(sorted_score)
    rank_own = np.empty(score.size)
    rank_own[order[pos]] = _midranks(sorted_score[pos])
    rank_own[order[~pos]] = _midranks(sorted_score[~pos])
    point = (rank_all[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    v10 = (rank_all[positive] - rank_own[positive]) / n_neg
    v01 = 1.0 - (rank_all[~positive] - rank_own[~positive]) / n_pos
    return float(point), v10, v01


def _delong_one(positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    point, v10, v01 = _delong_components(positive, score)
    variance = _component_var(v10) / v10.size + _component_var(v01) / v01.size
    return point, variance


def _component_var(v: np.ndarray) -> float:
    """Sample variance (ddof=1); NaN for a single component (undefined)."""
    return float(np.var(v, ddof=1)) if v.size > 1 else float("nan")


def _normal_interval(point: float, variance: float, alpha: float) -> tuple[float, float]:
    """point -/+ z * sqrt(variance), clipped to [0, 1]: the normal approximation can spill beyond the range
    an AUROC can take (near 0 or 1, or with few rows); the clipped bound is then 0 or 1."""
    half = norm.ppf(1 - alpha / 2) * np.sqrt(variance)
    return float(np.clip(point - half, 0.0, 1.0)), float(np.clip(point + half, 0.0, 1.0))


def delong_variance(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """DeLong (1988) variance of the AUROC of one target (label -1 masked), by Sun & Xu's fast algorithm."""
    return _delong_one(*_observed_two(y_true, y_score))[1]


def delong_matrix(labels: ArrayLike, scores: ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """Per-target AUROC, DeLong variance and normal (1 - alpha) interval clipped to [0, 1].

    Columns: target, n, n_pos, auroc, variance, se, low, high. A target with a single class among its
    observed rows gets NaN (undefined); the variance needs at least two rows of each class, else NaN."""
    _check_alpha(alpha)
    y, s = _matrices(labels, scores)
    records = []
    for target in range(y.shape[1]):
        _, positive, score = _observed(y[:, target], s[:, target])
        n_pos = int(positive.sum())
        point = variance = low = high = float("nan")
        if 0 < n_pos < positive.size:
            point, variance = _delong_one(positive, score)
            low, high = _normal_interval(point, variance, alpha)
        records.append((target, positive.size, n_pos, point, variance, np.sqrt(variance), low, high))
    columns = ["target", "n", "n_pos", "auroc", "variance", "se", "low", "high"]
    return pd.DataFrame.from_records(records, columns=columns)


class DelongTest(NamedTuple):
    """AUROC(a) - AUROC(b), its DeLong standard error, two-sided p-value and normal interval (low, high)."""

    diff: float
    se: float
    p_value: float
    ci: tuple[float, float]


def delong_test(
    labels: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, alpha: float = 0.05
) -> DelongTest:
    """DeLong's paired test of two models' AUROC on the same rows of one target (1-D labels, -1 masked).

    The variance of the difference uses the covariance of the two models' structural components. When that
    standard error is 0 (e.g. identical rankings) the p-value is 1 if the difference is 0, else 0."""
    _check_alpha(alpha)
    positive, score_a = _observed_two(labels, scores_a)
    _, score_b = _observed_two(labels, scores_b)
    auroc_a, v10a, v01a = _delong_components(positive, score_a)
    auroc_b, v10b, v01b = _delong_components(positive, score_b)
    diff = auroc_a - auroc_b
    cov10 = np.cov(np.vstack((v10a, v10b))) / v10a.size
    cov01 = np.cov(np.vstack((v01a, v01b))) / v01a.size
    cov = cov10 + cov01
    variance = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]
    se = float(np.sqrt(max(variance, 0.0)))  # rounding can leave a tiny negative for near-identical models
    p_value = float(2.0 * norm.sf(abs(diff) / se)) if se > 0.0 else float(diff == 0.0)
    half = float(norm.ppf(1 - alpha / 2)) * se
    return DelongTest(diff, se, p_value, (diff - half, diff + half))


# ------------------------------------------------------------------------------------------ thresholds
def _observed_any(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    _, positive, score = _observed(y_true, y_score)
    return positive, score


def _descending_thresholds(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct scores, descending, with true and false positives at score >= each of them."""
    order = np.argsort(-score)  # the order within ties does not matter
    score, pos = score[order], positive[order]
    last_of_block = np.r_[score[1:] != score[:-1], True]
    tp = np.cumsum(pos)[last_of_block]
    fp = np.cumsum(~pos)[last_of_block]
    return score[last_of_block], tp, fp


def threshold_youden(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """The score threshold (score >= threshold is positive) maximising Youden's J = sensitivity +
    specificity - 1, among the observed scores; on ties of J the highest threshold. Choose it on validation
    data and apply it to the test set. Needs both classes."""
    positive, score = _observed_two(y_true, y_score)
    thresholds, tp, fp = _descending_thresholds(positive, score)
    j = tp / positive.sum() - fp / (~positive).sum()
    return float(thresholds[int(np.argmax(j))])


def threshold_at_sensitivity(y_true: ArrayLike, y_score: ArrayLike, sensitivity: float = 0.9) -> float:
    """The highest threshold (score >= threshold is positive) whose sensitivity on these rows is at least
    ``sensitivity``: the k-th highest positive score, k the fewest positives that reach it."""
    if not 0 < sensitivity <= 1:
        raise ValueError(f"sensitivity must lie in (0, 1]; got {sensitivity}")
    positive, score = _observed_any(y_true, y_score)
    pos_scores = np.sort(score[positive])[::-1]
    if pos_scores.size == 0:
        raise ValueError("threshold_at_sensitivity needs at least one positive among the observed rows")
    reached = np.arange(1, pos_scores.size + 1) / pos_scores.size
    k = int(np.searchsorted(reached, sensitivity, side="left"))
    return float(pos_scores[k])


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def confusion_metrics(y_true: ArrayLike, y_score: ArrayLike, threshold: float) -> dict[str, float | int]:
    """Confusion counts and ratios at ``threshold`` (score >= threshold is positive), observed rows only.
    Undefined ratios (a zero denominator) are NaN, never 0."""
    positive, score = _observed_any(y_true, y_score)
    predicted = score >= threshold
    tp = int(np.sum(predicted & positive))
    fp = int(np.sum(predicted & ~positive))
    fn = int(np.sum(~predicted & positive))
    tn = int(np.sum(~predicted & ~positive))
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def auprc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Average precision of the observed rows, sum over thresholds of (recall step) x precision: equals
    ``sklearn.metrics.average_precision_score``. Needs at least one positive."""
    positive, score = _observed_any(y_true, y_score)
    n_pos = int(positive.sum())
    if n_pos == 0:
        raise ValueError("average precision needs at least one positive among the observed rows")
    _, tp, fp = _descending_thresholds(positive, score)
    precision = tp / (tp + fp)
    recall_step = np.diff(np.r_[0, tp]) / n_pos
    return float(np.sum(recall_step * precision))


# ------------------------------------------------------------------------------------------ tiers
def tier_counts(aurocs: ArrayLike) -> dict[str, int]:
    """Targets per AnyECG-Lab tier: AUROC >= 0.65, 0.55 <= AUROC < 0.65, AUROC < 0.55; NaN (undefined)
    AUROCs are counted apart, never in a tier."""
    a = np.asarray(aurocs, dtype=np.float64).ravel()
    defined = a[~np.isnan(a)]
    return {
        ">=0.65": int(np.sum(defined >= TIER_HIGH)),
        "0.55-0.65": int(np.sum((defined >= TIER_LOW) & (defined < TIER_HIGH))),
        "<0.55": int(np.sum(defined < TIER_LOW)),
        "undefined": int(a.size - defined.size),
    }

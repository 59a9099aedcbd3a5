"""ecglab.bench.metrics against slow references: sklearn per resample for the bootstrap, a direct O(n^2)
DeLong
(1988) for the variances and the paired test, hand-worked threshold metrics; -1 labels masked everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from ecglab.bench import metrics as M
from ecglab.leaderboards.published import load_published


# ---------------------------------------------------------------------------------------------- references
def tied_data(rng: np.random.Generator, n: int, p_missing: float, prevalence: float, levels: int):
    """Labels in {1, 0, -1} and integer-valued scores with many ties (``levels`` distinct values)."""
    y = (rng.random(n) < prevalence).astype(np.int64)
    y[rng.random(n) < p_missing] = -1
    score = rng.integers(0, levels, n) + 0.5 * (y == 1) * rng.integers(0, 3, n)
    return y, score.astype(np.float64)


def reference_aurocs(y: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """roc_auc_score on each resample's rows (np.repeat of the counts), -1 rows dropped; NaN if one class."""
    out = np.full(counts.shape[0], np.nan)
    for b in range(counts.shape[0]):
        rows = np.repeat(np.arange(y.size), counts[b])
        rows = rows[y[rows] != -1]
        if np.unique(y[rows]).size == 2:
            out[b] = roc_auc_score(y[rows], score[rows])
    return out


def psi(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """DeLong's kernel for every (positive, negative) pair: 1 if above, 1/2 if tied, 0 if below."""
    diff = pos[:, None] - neg[None, :]
    return (diff > 0) + 0.5 * (diff == 0)


def direct_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs and their covariance matrix, straight from DeLong, DeLong & Clarke-Pearson (1988)."""
    observed = y != -1
    pos, neg = observed & (y == 1), observed & (y == 0)
    kernels = [psi(s[pos], s[neg]) for s in scores]
    aucs = np.array([k.mean() for k in kernels])
    v10 = np.array([k.mean(axis=1) for k in kernels])  # models x positives
    v01 = np.array([k.mean(axis=0) for k in kernels])  # models x negatives
    m, n = pos.sum(), neg.sum()
    s10 = (v10 - aucs[:, None]) @ (v10 - aucs[:, None]).T / (m - 1)
    s01 = (v01 - aucs[:, None]) @ (v01 - aucs[:, None]).T / (n - 1)
    return aucs, s10 / m + s01 / n


# ---------------------------------------------------------------------------------------------- point AUROC
def test_auroc_equals_sklearn_on_many_ties() -> None:
    rng = np.random.default_rng(0)
    for trial in range(40):
        y, score = tied_data(rng, int(rng.integers(10, 500)), 0.3, rng.uniform(0.05, 0.95), 1 + trial % 7)
        observed = y != -1
        if np.unique(y[observed]).size < 2:
            continue
        expected = roc_auc_score(y[observed], score[observed])
        assert abs(M.auroc(y, score) - expected) < 1e-12
        assert abs(M.auroc(y, score.astype(np.float32)) - roc_auc_score(y[observed], score[observed])) < 1e-12


def test_auroc_rejects_single_class_bad_labels_and_missing_scores() -> None:
    with pytest.raises(ValueError, match="both classes"):
        M.auroc([1, 1, -1, -1], [0.1, 0.2, 0.3, 0.4])  # the -1 rows are not negatives
    with pytest.raises(ValueError, match="both classes"):
        M.auroc([-1, -1], [0.1, 0.2])
    with pytest.raises(ValueError, match="1 \\(abnormal\\), 0 \\(normal\\) or -1"):
        M.auroc([1, 0, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="encode a missing label as -1"):
        M.auroc(np.array([1.0, 0.0, np.nan]), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="non-finite"):
        M.auroc([1, 0, 0], [0.1, np.nan, 0.3])
    assert M.auroc([1, 0, -1], [0.9, 0.1, np.nan]) == 1.0  # a -1 row's score is never read


# ---------------------------------------------------------------------------------------------- resamples
def test_row_resamples_draw_n_rows_reproducibly() -> None:
    counts = M.bootstrap_resamples(50, n_boot=30, seed=3)
    assert counts.shape == (30, 50) and counts.dtype == np.uint16
    assert (counts.sum(axis=1) == 50).all()
    assert np.array_equal(counts, M.bootstrap_resamples(50, n_boot=30, seed=3))
    assert not np.array_equal(counts, M.bootstrap_resamples(50, n_boot=30, seed=4))


def test_cluster_resamples_keep_groups_whole() -> None:
    rng = np.random.default_rng(1)
    patients = np.array([f"P{i:02d}" for i in rng.integers(0, 12, 80)])
    counts = M.bootstrap_resamples(80, n_boot=200, seed=0, groups=patients)
    names = np.unique(patients)
    for b in range(200):
        per_group = [np.unique(counts[b, patients == p]) for p in names]
        assert all(g.size == 1 for g in per_group)  # every row of a patient drawn as often as the patient
        assert sum(int(g[0]) for g in per_group) == names.size  # as many patients drawn as there are
    assert len({tuple(r) for r in counts}) > 150
    with pytest.raises(ValueError, match="missing ids"):
        M.bootstrap_resamples(3, groups=np.array(["a", None, "b"], dtype=object))


# ---------------------------------------------------------------------------------------------- bootstrap
@pytest.mark.parametrize("scale", [1, 3, 40])  # uint8 counts with room for 8+ rows; fewer; uint16 counts
def test_bootstrap_aurocs_equal_sklearn_on_each_resample(scale: int) -> None:
    rng = np.random.default_rng(scale)
    for trial in range(12):
        n = int(rng.integers(20, 400))
        prevalence = [0.03, 0.2, 0.5, 0.8, 0.97][trial % 5]  # small a = positives, and a = negatives
        y, score = tied_data(rng, n, 0.3, prevalence, [1, 3, 50, 10**6][trial % 4])
        if np.unique(y[y != -1]).size < 2:
            continue
        counts = M.bootstrap_resamples(n, n_boot=40, seed=trial) * scale
        fast = M.bootstrap_aurocs(y, score, counts)
        slow = reference_aurocs(y, score, counts)
        assert np.array_equal(np.isnan(fast), np.isnan(slow))
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_bootstrap_aurocs_with_extreme_counts() -> None:
    """Rows drawn up to 20000 times: uint16 pooling one row at a time, float64 cumulative sums (resamples of
    more than 2**23 rows); the reference weights sklearn's rows by the counts instead of repeating them."""
    rng = np.random.default_rng(11)
    y, score = tied_data(rng, 1000, 0.3, 0.2, 30)
    counts = rng.integers(0, 3, (8, 1000)) * 10_000
    assert counts.sum(axis=1).min() >= 2**23
    observed = y != -1
    slow = [roc_auc_score(y[observed], score[observed], sample_weight=c[observed]) for c in counts]
    np.testing.assert_allclose(M.bootstrap_aurocs(y, score, counts), slow, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="counts must lie in"):
        M.bootstrap_aurocs(y, score, counts * 4)
    with pytest.raises(ValueError, match="counts must be integers"):
        M.bootstrap_aurocs(y, score, counts.astype(float))


def test_single_class_resamples_are_skipped_and_counted() -> None:
    y = np.array([1] + [0] * 19 + [-1] * 5)
    score = np.linspace(0, 1, y.size)
    counts = M.bootstrap_resamples(y.size, n_boot=300, seed=0)
    slow = reference_aurocs(y, score, counts)
    skipped = int(np.isnan(slow).sum())
    assert 50 < skipped < 250  # the lone positive is missed in about (1 - 1/25)**25 of resamples
    ci = M.auroc_ci(y, score, resamples=counts)
    assert (ci.n_boot_used, ci.n_boot_skipped) == (300 - skipped, skipped)
    used = slow[~np.isnan(slow)]
    assert ci.low == pytest.approx(np.quantile(used, 0.025), abs=1e-12)
    assert ci.high == pytest.approx(np.quantile(used, 0.975), abs=1e-12)
    assert ci.auroc == roc_auc_score(y[:20], score[:20]) and ci.method == "bootstrap"


def test_auroc_ci_draws_or_reuses_resamples() -> None:
    rng = np.random.default_rng(5)
    y, score = tied_data(rng, 120, 0.2, 0.3, 6)
    groups = rng.integers(0, 30, 120)
    drawn = M.auroc_ci(y, score, n_boot=100, seed=7, groups=groups, alpha=0.1)
    stored = M.auroc_ci(y, score, resamples=M.bootstrap_resamples(120, 100, 7, groups), alpha=0.1)
    assert drawn == stored and drawn.n_boot_used + drawn.n_boot_skipped == 100
    assert drawn.low <= drawn.auroc <= drawn.high
    with pytest.raises(ValueError, match="together with stored resamples"):
        M.auroc_ci(y, score, groups=groups, resamples=M.bootstrap_resamples(120, 10))
    with pytest.raises(ValueError, match="method must be"):
        M.auroc_ci(y, score, method="wilson")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="counts must"):
        M.auroc_ci(y, score, resamples=-np.ones((3, 120), dtype=np.int64))
    with pytest.raises(ValueError, match="alpha"):
        M.auroc_ci(y, score, alpha=1.5)


def test_auroc_ci_matrix_equals_the_per_target_reference() -> None:
    rng = np.random.default_rng(2)
    n, n_targets = 300, 5
    columns = [tied_data(rng, n, 0.3, p, 8) for p in (0.05, 0.2, 0.5, 0.9, 0.3)]
    labels = np.stack([c[0] for c in columns], axis=1)
    scores = np.stack([c[1] for c in columns], axis=1)
    labels[:, 4] = np.where(labels[:, 4] == -1, -1, 0)  # a target with negatives only
    counts = M.bootstrap_resamples(n, n_boot=60, seed=1, groups=rng.integers(0, 100, n))
    table = M.auroc_ci_matrix(labels, scores, counts, alpha=0.1)
    assert list(table.columns) == [
        "target",
        "n",
        "n_pos",
        "auroc",
        "low",
        "high",
        "n_boot_used",
        "n_boot_skipped",
    ]
    for t in range(n_targets - 1):
        y, s = labels[:, t], scores[:, t]
        slow = reference_aurocs(y, s, counts)
        used = slow[~np.isnan(slow)]
        row = table.iloc[t]
        assert (row["target"], row["n"], row["n_pos"]) == (t, (y != -1).sum(), (y == 1).sum())
        assert row["auroc"] == pytest.approx(roc_auc_score(y[y != -1], s[y != -1]), abs=1e-12)
        assert row["low"] == pytest.approx(np.quantile(used, 0.05), abs=1e-12)
        assert row["high"] == pytest.approx(np.quantile(used, 0.95), abs=1e-12)
        assert (row["n_boot_used"], row["n_boot_skipped"]) == (used.size, 60 - used.size)
    undefined = table.iloc[4]
    assert undefined["n_pos"] == 0 and math.isnan(undefined["auroc"]) and math.isnan(undefined["low"])
    assert (undefined["n_boot_used"], undefined["n_boot_skipped"]) == (0, 60)


def test_paired_bootstrap_difference_uses_the_same_resamples() -> None:
    rng = np.random.default_rng(3)
    y, score_a = tied_data(rng, 150, 0.2, 0.3, 20)
    score_b = score_a + rng.normal(0, 3, 150)
    counts = M.bootstrap_resamples(150, n_boot=80, seed=2)
    diff, low, high = M.paired_bootstrap_diff(y, score_a, score_b, counts, alpha=0.1)
    per_resample = reference_aurocs(y, score_a, counts) - reference_aurocs(y, score_b, counts)
    observed = y != -1
    expected = roc_auc_score(y[observed], score_a[observed]) - roc_auc_score(y[observed], score_b[observed])
    assert diff == pytest.approx(expected, abs=1e-12)
    assert low == pytest.approx(np.quantile(per_resample, 0.05), abs=1e-12)
    assert high == pytest.approx(np.quantile(per_resample, 0.95), abs=1e-12)
    assert tuple(M.paired_bootstrap_diff(y, score_a, score_a, counts)) == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------------------------------------- DeLong
def test_delong_variance_and_interval_equal_the_direct_definition() -> None:
    rng = np.random.default_rng(4)
    for trial in range(15):
        y, score = tied_data(rng, int(rng.integers(10, 200)), 0.25, rng.uniform(0.1, 0.9), 2 + trial)
        observed = y != -1
        if min((y[observed] == 1).sum(), (y[observed] == 0).sum()) < 2:
            continue
        aucs, cov = direct_delong(y, [score])
        assert M.delong_variance(y, score) == pytest.approx(cov[0, 0], rel=1e-10, abs=1e-15)
        ci = M.auroc_ci(y, score, method="delong", alpha=0.1)
        half = norm.ppf(0.95) * math.sqrt(cov[0, 0])
        assert ci.auroc == pytest.approx(aucs[0], abs=1e-12)
        assert ci.low == pytest.approx(max(0.0, aucs[0] - half), abs=1e-12)
        assert ci.high == pytest.approx(min(1.0, aucs[0] + half), abs=1e-12)
        assert (ci.method, ci.n_boot_used, ci.n_boot_skipped) == ("delong", 0, 0)


def test_delong_interval_is_clipped_to_the_unit_interval() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    score = np.array([0.9, 0.8, 0.3, 0.4, 0.2, 0.1, 0.0])
    aucs, cov = direct_delong(y, [score])
    assert aucs[0] + norm.ppf(0.975) * math.sqrt(cov[0, 0]) > 1  # the normal interval spills over 1
    ci = M.auroc_ci(y, score, method="delong")
    assert ci.high == 1.0 and ci.low < aucs[0]


def test_delong_matrix_matches_single_targets() -> None:
    rng = np.random.default_rng(6)
    columns = [tied_data(rng, 200, 0.3, p, 12) for p in (0.1, 0.4, 0.7)]
    labels = np.stack([c[0] for c in columns], axis=1)
    scores = np.stack([c[1] for c in columns], axis=1)
    table = M.delong_matrix(labels, scores)
    for t in range(3):
        ci = M.auroc_ci(labels[:, t], scores[:, t], method="delong")
        row = table.iloc[t]
        assert (row["auroc"], row["low"], row["high"]) == (ci.auroc, ci.low, ci.high)
        assert row["variance"] == M.delong_variance(labels[:, t], scores[:, t])
        assert row["se"] == pytest.approx(math.sqrt(row["variance"]))


def test_delong_test_against_the_direct_covariance() -> None:
    rng = np.random.default_rng(7)
    y, score_a = tied_data(rng, 120, 0.2, 0.35, 15)
    score_b = score_a + rng.normal(0, 4, 120)
    aucs, cov = direct_delong(y, [score_a, score_b])
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    result = M.delong_test(y, score_a, score_b)
    assert result.diff == pytest.approx(aucs[0] - aucs[1], abs=1e-12)
    assert result.se == pytest.approx(se, rel=1e-10)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(aucs[0] - aucs[1]) / se), rel=1e-8)
    assert result.ci == pytest.approx(
        (result.diff - 1.959963984540054 * se, result.diff + 1.959963984540054 * se)
    )


def test_delong_test_on_identical_scores() -> None:
    rng = np.random.default_rng(8)
    y, score = tied_data(rng, 100, 0.2, 0.4, 9)
    diff, se, p_value, ci = M.delong_test(y, score, score.copy())
    assert (diff, se, p_value, ci) == (0.0, 0.0, 1.0, (0.0, 0.0))


# ---------------------------------------------------------------------------------------------- -1 labels
def test_unmeasured_rows_change_nothing() -> None:
    """Scores of -1 rows are never read: replacing them (by noise, by NaN) leaves every result unchanged,
    and the results differ from what counting those rows as negatives would give."""
    rng = np.random.default_rng(9)
    n = 200
    labels = np.stack([tied_data(rng, n, 0.35, p, 10)[0] for p in (0.2, 0.5)], axis=1)
    scores = rng.normal(size=(n, 2)) + labels
    model_b = rng.normal(size=n) + 0.5 * labels[:, 0]  # a second model's scores for target 0
    counts = M.bootstrap_resamples(n, n_boot=50, seed=0)
    y = labels[:, 0]
    threshold = float(np.median(scores[y != -1, 0]))

    def everything(sc: np.ndarray, b: np.ndarray) -> list:
        a = sc[:, 0]
        return [
            M.auroc(y, a),
            M.bootstrap_aurocs(y, a, counts).tolist(),
            M.auroc_ci_matrix(labels, sc, counts).to_dict("list"),
            M.delong_matrix(labels, sc).to_dict("list"),
            M.delong_test(y, a, b),
            M.paired_bootstrap_diff(y, a, b, counts),
            M.threshold_youden(y, a),
            M.threshold_at_sensitivity(y, a, 0.8),
            M.confusion_metrics(y, a, threshold),
            M.auprc(y, a),
        ]

    baseline = everything(scores, model_b)
    missing = labels == -1
    noisy = np.where(missing, rng.normal(5, 1, (n, 2)), scores)  # would rank above every measured row
    noisy_b = np.where(y == -1, rng.normal(5, 1, n), model_b)
    assert everything(noisy, noisy_b) == baseline
    assert everything(np.where(missing, np.nan, scores), np.where(y == -1, np.nan, model_b)) == baseline
    as_zero = np.where(y == -1, 0, y)
    assert M.auroc(as_zero, noisy[:, 0]) != baseline[0]
    assert M.confusion_metrics(as_zero, noisy[:, 0], threshold)["fp"] > baseline[8]["fp"]


# ---------------------------------------------------------------------------------------------- thresholds
Y_HAND = np.array([1, 1, 1, 0, 0, 0, 0, -1])
S_HAND = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1, 0.95])


def test_thresholds_on_a_hand_worked_example() -> None:
    # J at thresholds 0.9, 0.8, 0.7, 0.4, 0.3: 1/3, 2/3, 2/3 - 1/4, 1 - 1/4, 1 - 2/4 -> 0.4
    assert M.threshold_youden(Y_HAND, S_HAND) == 0.4
    assert M.threshold_at_sensitivity(Y_HAND, S_HAND, 0.9) == 0.4  # needs all 3 positives
    assert M.threshold_at_sensitivity(Y_HAND, S_HAND, 0.6) == 0.8  # 2 of 3 reach 0.6
    assert M.threshold_at_sensitivity(Y_HAND, S_HAND, 2 / 3) == 0.8
    assert M.threshold_at_sensitivity(Y_HAND, S_HAND, 0.1) == 0.9
    with pytest.raises(ValueError, match="sensitivity"):
        M.threshold_at_sensitivity(Y_HAND, S_HAND, 0.0)


def test_confusion_metrics_on_a_hand_worked_example() -> None:
    at = M.confusion_metrics(Y_HAND, S_HAND, 0.4)  # score >= 0.4: 0.9, 0.8, 0.4 and the negative at 0.7
    assert (at["tp"], at["fp"], at["tn"], at["fn"]) == (3, 1, 3, 0)
    assert at["sensitivity"] == 1.0 and at["specificity"] == 0.75
    assert at["ppv"] == 0.75 and at["npv"] == 1.0 and at["f1"] == pytest.approx(6 / 7)
    above = M.confusion_metrics(Y_HAND, S_HAND, 0.91)  # nothing observed is called positive
    assert (above["tp"], above["fp"], above["tn"], above["fn"]) == (0, 0, 4, 3)
    assert math.isnan(above["ppv"]) and above["sensitivity"] == 0.0 and above["f1"] == 0.0
    assert above["npv"] == pytest.approx(4 / 7) and above["specificity"] == 1.0


def test_undefined_ratios_are_nan_not_zero() -> None:
    negatives_only = M.confusion_metrics([0, 0, -1], [0.1, 0.2, 0.9], 0.5)
    assert (negatives_only["tp"], negatives_only["fp"], negatives_only["tn"], negatives_only["fn"]) == (
        0,
        0,
        2,
        0,
    )
    for key in ("sensitivity", "ppv", "f1"):
        assert math.isnan(negatives_only[key]), key
    assert negatives_only["specificity"] == 1.0 and negatives_only["npv"] == 1.0
    positives_only = M.confusion_metrics([1, 1], [0.1, 0.9], 0.5)
    assert math.isnan(positives_only["specificity"]) and positives_only["npv"] == 0.0
    nothing = M.confusion_metrics([-1, -1], [0.1, 0.9], 0.5)
    assert all(math.isnan(nothing[k]) for k in ("sensitivity", "specificity", "ppv", "npv", "f1"))


def test_auprc_equals_sklearn_average_precision() -> None:
    rng = np.random.default_rng(10)
    for trial in range(20):
        y, score = tied_data(rng, int(rng.integers(10, 300)), 0.3, rng.uniform(0.05, 0.9), 1 + trial % 6)
        observed = y != -1
        if not (y[observed] == 1).any():
            continue
        expected = average_precision_score(y[observed], score[observed])
        assert abs(M.auprc(y, score) - expected) < 1e-12
    with pytest.raises(ValueError, match="at least one positive"):
        M.auprc([0, 0, -1], [0.1, 0.2, 0.3])


# ---------------------------------------------------------------------------------------------- tiers
def test_tier_counts_boundaries_and_published_table() -> None:
    counts = M.tier_counts([0.65, 0.6499, 0.55, 0.5499, np.nan, 0.9])
    assert counts == {">=0.65": 2, "0.55-0.65": 2, "<0.55": 1, "undefined": 1}
    published = load_published("anyecg_lab")["auroc"].to_numpy()
    # counting the published table gives 33 / 58 / 17 (the paper says 33 / 59 / 16; TROPONIN I is at 0.549)
    assert M.tier_counts(published) == {">=0.65": 33, "0.55-0.65": 58, "<0.55": 17, "undefined": 0}

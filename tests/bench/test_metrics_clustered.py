"""Clustered AUROC statistics (Obuchowski 1997) against a direct O(n^2) reading of the paper's formulas (ties
included, -1 labels masked), their exact reduction to DeLong with one row per cluster, simulated coverage on
clustered data (where independent DeLong under-covers), the paired test's size under a null, and the
refusals of bad groups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from ecglab.bench import metrics as M


# ---------------------------------------------------------------------------------------------- reference
def direct_obuchowski(y: np.ndarray, scores: list[np.ndarray], groups: np.ndarray):
    """AUROCs and their covariance matrix straight from Obuchowski (1997): every (positive, negative) pair's
    kernel, components per row, summed per cluster by looping over the clusters."""
    observed = y != -1
    y, groups = y[observed], groups[observed]
    scores = [s[observed] for s in scores]
    clusters = sorted(set(groups.tolist()))
    pos, neg = y == 1, y == 0
    big_m, big_n = pos.sum(), neg.sum()
    m = np.array([np.sum(pos & (groups == c)) for c in clusters])
    n = np.array([np.sum(neg & (groups == c)) for c in clusters])
    i, i10, i01 = len(clusters), np.sum(m > 0), np.sum(n > 0)
    aucs, xs, ys = [], [], []
    for s in scores:
        kernel = np.array([[1.0 if a > b else 0.5 if a == b else 0.0 for b in s[neg]] for a in s[pos]])
        auc = kernel.mean()
        v10, v01 = kernel.mean(axis=1), kernel.mean(axis=0)
        x = np.array([v10[groups[pos] == c].sum() for c in clusters]) - m * auc
        z = np.array([v01[groups[neg] == c].sum() for c in clusters]) - n * auc
        aucs.append(auc)
        xs.append(x)
        ys.append(z)
    k = len(scores)
    cov = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            s10 = i10 / ((i10 - 1) * big_m) * np.sum(xs[a] * xs[b])
            s01 = i01 / ((i01 - 1) * big_n) * np.sum(ys[a] * ys[b])
            s11_ab = i / (i - 1) * np.sum(xs[a] * ys[b])
            s11_ba = i / (i - 1) * np.sum(xs[b] * ys[a])
            cov[a, b] = s10 / big_m + s01 / big_n + (s11_ab + s11_ba) / (big_m * big_n)
    return np.array(aucs), cov


def clustered_sample(rng: np.random.Generator, n_clusters: int, levels: int = 0):
    """Labels (some -1), two models' scores (ties when ``levels``) and string patient ids, 1-6 rows each."""
    sizes = rng.integers(1, 7, n_clusters)
    groups = np.repeat([f"p{c:03d}" for c in range(n_clusters)], sizes).astype(object)
    effect = np.repeat(rng.normal(size=n_clusters), sizes)
    prevalence = np.repeat(rng.uniform(0.1, 0.7, n_clusters), sizes)
    y = (rng.random(groups.size) < prevalence).astype(np.int64)
    y[rng.random(groups.size) < 0.15] = -1
    a = y + effect + rng.normal(size=groups.size)
    b = 0.5 * y + effect + rng.normal(size=groups.size)
    if levels:
        a, b = np.round(a * levels / 4), np.round(b * levels / 4)
    a[y == -1] = np.nan  # masked rows' scores are never looked at
    return y, a, b, groups


# ---------------------------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("levels", [0, 2, 5])
def test_clustered_variance_and_test_equal_the_direct_formulas(levels: int) -> None:
    rng = np.random.default_rng(levels)
    for _ in range(6):
        y, a, b, groups = clustered_sample(rng, int(rng.integers(6, 25)), levels)
        aucs, cov = direct_obuchowski(y, [a, b], groups)
        assert M.clustered_variance(y, a, groups) == pytest.approx(cov[0, 0], rel=1e-10, abs=1e-15)
        ci = M.auroc_ci(y, a, method="clustered", groups=groups, alpha=0.1)
        half = norm.ppf(0.95) * np.sqrt(cov[0, 0])
        assert (ci.auroc, ci.method) == (pytest.approx(aucs[0], abs=1e-12), "clustered")
        assert ci.low == pytest.approx(max(0.0, aucs[0] - half), abs=1e-12)
        assert ci.high == pytest.approx(min(1.0, aucs[0] + half), abs=1e-12)
        test = M.clustered_test(y, a, b, groups)
        se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
        assert test.diff == pytest.approx(aucs[0] - aucs[1], abs=1e-12)
        assert test.se == pytest.approx(se, rel=1e-9)
        assert test.p_value == pytest.approx(2 * norm.sf(abs(aucs[0] - aucs[1]) / se), rel=1e-8)
        assert test.method == M.CLUSTERED_TEST
        observed = y != -1
        assert test.n_clusters == len(set(groups[observed]))
        assert test.n_pos_clusters == len(set(groups[observed & (y == 1)]))


def test_one_row_per_cluster_is_exactly_delong() -> None:
    """With one observed row per cluster, I10 = M and I01 = N, the S11 products vanish and S10 = sum (V10 -
    A)^2 / (M - 1): Obuchowski's variance, interval and paired test are DeLong's, to rounding."""
    rng = np.random.default_rng(1)
    for trial in range(10):
        n = int(rng.integers(8, 200))
        y = (rng.random(n) < 0.3).astype(np.int64)
        y[:2], y[2:4] = 1, 0
        y[rng.random(n) < 0.2 * (trial % 2)] = -1  # masked rows may share an id with nothing
        a, b = rng.integers(0, 6, n).astype(float) + y, rng.normal(size=n) + 0.3 * y
        groups = rng.permutation(n).astype(str)
        assert M.one_row_per_group(y, groups)
        assert M.clustered_variance(y, a, groups) == pytest.approx(M.delong_variance(y, a), rel=1e-12)
        clustered = M.auroc_ci(y, a, method="clustered", groups=groups)
        delong = M.auroc_ci(y, a, method="delong")
        assert (clustered.low, clustered.high) == pytest.approx((delong.low, delong.high), abs=1e-14)
        ct, dt = M.clustered_test(y, a, b, groups), M.delong_test(y, a, b)
        assert (ct.diff, ct.se, ct.p_value) == pytest.approx((dt.diff, dt.se, dt.p_value), rel=1e-10)
    y = np.array([1, 0, 1, 0, 1, 0])
    assert not M.one_row_per_group(y, ["p1", "p1", "p2", "p3", "p4", "p5"])
    assert M.one_row_per_group(np.array([1, -1, 0]), ["p1", "p1", "p2"])  # the -1 row does not count


def test_matrix_matches_single_targets_and_counts_patients() -> None:
    rng = np.random.default_rng(2)
    y1, a, b, groups = clustered_sample(rng, 30)
    labels = np.column_stack([y1, np.where(y1 == -1, 0, y1), np.zeros_like(y1)])
    labels[0, 2] = 1  # one positive patient: AUROC defined, variance undefined
    scores = np.column_stack([a, np.nan_to_num(b), np.nan_to_num(b)])
    table = M.clustered_matrix(labels, scores, groups)
    for t in range(2):
        ci = M.auroc_ci(labels[:, t], scores[:, t], method="clustered", groups=groups)
        row = table.loc[t]
        assert (row["auroc"], row["low"], row["high"]) == (ci.auroc, ci.low, ci.high)
        observed = labels[:, t] != -1
        assert row["n_patients"] == len(set(groups[observed]))
        assert row["n_pos_patients"] == len(set(groups[observed & (labels[:, t] == 1)]))
        assert not row["one_per_patient"]
    last = table.loc[2]
    assert np.isfinite(last["auroc"]) and np.isnan(last["variance"]) and np.isnan(last["low"])
    assert last["n_pos_patients"] == 1
    with pytest.raises(ValueError, match="one id per row"):
        M.clustered_matrix(labels, scores, groups[:-1])


# ---------------------------------------------------------------------------------------------- simulation
def simulate(rng: np.random.Generator, n_sims: int, n_clusters: int, rows: int):
    """``n_sims`` clustered test sets at once: a patient effect shared by every row's score (SD 1), row
    noise (SD 0.5), a patient's prevalence drawn per patient, a shift of 1 for positives. Between patients,
    X - Y ~ N(1, 2 * 1.25): the true AUROC is Phi(1 / sqrt(2.5)) (within-patient pairs, about 1/n_clusters
    of all, bias it by well under its standard error). Also two exchangeable models with patient-level
    model effects (SD 0.7) for the null of the paired test."""
    shape = (n_sims, n_clusters, rows)
    effect = rng.normal(size=(n_sims, n_clusters, 1))
    prevalence = rng.uniform(0.05, 0.6, (n_sims, n_clusters, 1))
    y = (rng.random(shape) < prevalence).astype(np.int64)
    score = y + effect + 0.5 * rng.normal(size=shape)
    model_a = score + 0.7 * rng.normal(size=(n_sims, n_clusters, 1)) + 0.5 * rng.normal(size=shape)
    model_b = score + 0.7 * rng.normal(size=(n_sims, n_clusters, 1)) + 0.5 * rng.normal(size=shape)
    groups = np.repeat(np.arange(n_clusters), rows)
    flat = (n_sims, n_clusters * rows)
    return y.reshape(flat), score.reshape(flat), model_a.reshape(flat), model_b.reshape(flat), groups


def test_clustered_interval_covers_where_independent_delong_does_not() -> None:
    """Coverage of the 95% intervals of the true AUROC over 1,000 simulated clustered test sets (60
    patients, 8 anchors each, intra-patient correlation of the scores 0.8), one simulation per column of
    a label matrix."""
    rng = np.random.default_rng(13)
    y, score, _, _, groups = simulate(rng, 1000, 60, 8)
    truth = norm.cdf(1 / np.sqrt(2.5))
    clustered = M.clustered_matrix(y.T, score.T, groups)
    delong = M.delong_matrix(y.T, score.T)
    assert clustered["auroc"].notna().all()
    coverage = float(((clustered["low"] <= truth) & (truth <= clustered["high"])).mean())
    delong_coverage = float(((delong["low"] <= truth) & (truth <= delong["high"])).mean())
    assert 0.91 <= coverage <= 0.985, coverage  # 0.943
    assert delong_coverage < 0.88, delong_coverage  # 0.830


def test_clustered_paired_test_holds_its_size_where_delong_does_not() -> None:
    """Two exchangeable models (the same signal, each with its own patient-level and row noise): over 800
    simulated test sets the clustered paired test rejects at 5% about 5% of the time; DeLong's
    independent-rows test far more often."""
    rng = np.random.default_rng(13)
    y, _, a, b, groups = simulate(rng, 800, 60, 8)
    clustered = delong = 0
    for k in range(y.shape[0]):
        clustered += M.clustered_test(y[k], a[k], b[k], groups).p_value < 0.05
        delong += M.delong_test(y[k], a[k], b[k]).p_value < 0.05
    size, delong_size = clustered / y.shape[0], delong / y.shape[0]
    assert 0.03 <= size <= 0.075, size  # 0.045
    assert delong_size > 0.1, delong_size  # 0.144


def test_seed_mean_contrast_is_the_mean_of_the_seeds() -> None:
    """A combination of AUROCs (means over seeds) is tested with the combined cluster sums: weights (1, -1)
    give clustered_test, weights (1/2, 1/2) the variance of the mean of two seeds' AUROCs."""
    rng = np.random.default_rng(5)
    y, a, b, groups = clustered_sample(rng, 20)
    aucs, cov = direct_obuchowski(y, [a, b], groups)
    mean = M.clustered_contrast(y, [a, b], [0.5, 0.5], groups)
    assert mean.diff == pytest.approx(aucs.mean(), abs=1e-12)
    assert mean.se**2 == pytest.approx(cov.sum() / 4, rel=1e-9)
    assert mean.method == M.CLUSTERED_CI
    paired = M.clustered_contrast(y, [a, b], [1.0, -1.0], groups)
    assert paired == M.clustered_test(y, a, b, groups)


# ---------------------------------------------------------------------------------------------- refusals
def test_bad_groups_are_refused() -> None:
    y, s = np.array([1, 0, 1, 0, -1]), np.array([0.9, 0.1, 0.8, 0.3, np.nan])
    with pytest.raises(ValueError, match="one id per row \\(5\\)"):
        M.auroc_ci(y, s, method="clustered", groups=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="missing ids"):
        M.clustered_test(y, s, s, ["a", "b", None, "d", "e"])
    with pytest.raises(ValueError, match="missing ids"):
        M.clustered_variance(y, s, np.array([1.0, 2.0, np.nan, 3.0, 4.0]))
    with pytest.raises(ValueError, match="needs groups"):
        M.auroc_ci(y, s, method="clustered")
    with pytest.raises(ValueError, match="one weight per score vector"):
        M.clustered_contrast(y, [s, s], [1.0], ["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match="both classes"):
        M.clustered_variance([1, 1, -1], [0.1, 0.2, 0.3], ["a", "b", "c"])


def test_undefined_variance_with_one_positive_patient() -> None:
    """All positives in one patient: the between-patient spread of the positives is unknown, so the
    variance, interval and p-value are NaN, not a falsely narrow number."""
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    groups = np.array(["p1", "p1", "p1", "p2", "p3", "p3", "p4"])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.5, 0.2, 0.3])
    assert np.isnan(M.clustered_variance(y, s, groups))
    ci = M.auroc_ci(y, s, method="clustered", groups=groups)
    assert ci.auroc == 1.0 and np.isnan(ci.low) and np.isnan(ci.high)
    assert np.isnan(M.clustered_test(y, s, s[::-1].copy(), groups).p_value)


def test_clustered_test_agrees_with_the_patient_bootstrap_where_delong_contradicts_it() -> None:
    """The issue's example in small: null targets whose positives come from a few patients (30 patients, 12
    anchors each, a fifth of them with positives) and two models without signal whose scores carry a
    patient effect each. On 12 such test sets the clustered paired test rejects at 5% exactly where the
    paired bootstrap by patient excludes 0 (it says "tied" wherever the clustered p >= 0.05); DeLong's
    independent-rows test contradicts the bootstrap on 4 of them, once with p below 1e-4."""
    agree = contradictions = 0
    smallest_tied_delong = 1.0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        groups = np.repeat([f"p{i:02d}" for i in range(30)], 12)
        prevalence = np.repeat(np.where(rng.random(30) < 0.2, 0.5, 0.0), 12)
        y = (rng.random(groups.size) < prevalence).astype(np.int64)
        a = np.repeat(rng.normal(size=30), 12) + 0.3 * rng.normal(size=groups.size)
        b = np.repeat(rng.normal(size=30), 12) + 0.3 * rng.normal(size=groups.size)
        boot = M.paired_bootstrap_diff(y, a, b, M.bootstrap_resamples(y.size, 500, 0, groups))
        tied = boot.low <= 0.0 <= boot.high
        delong_p = M.delong_test(y, a, b).p_value
        agree += (M.clustered_test(y, a, b, groups).p_value >= 0.05) == tied
        contradictions += (delong_p >= 0.05) != tied
        if tied:
            smallest_tied_delong = min(smallest_tied_delong, delong_p)
    assert agree == 12
    assert contradictions == 4 and smallest_tied_delong < 1e-4


# ---------------------------------------------------------------------------------------------- engine rows
def test_result_rows_carry_the_clustered_interval_and_delong_only_where_valid() -> None:
    """The engine's test rows: the clustered interval and patient counts of clustered_matrix; DeLong's
    interval only for a target whose observed test anchors are one per patient."""
    from types import SimpleNamespace

    import pandas as pd

    from ecglab.bench.engine.evaluate import result_rows

    rng = np.random.default_rng(8)
    n = 120
    split = np.where(np.arange(n) % 3 == 0, "val", "test")
    patients = np.array([f"p{i // 2:03d}" for i in range(n)], dtype=object)  # two anchors per patient
    labels = (rng.random((n, 2)) < 0.4).astype(np.int8)
    labels[1::2, 1] = -1  # target 1: one observed anchor per patient
    scores = rng.random((n, 2)) + 0.3 * labels
    anchors = pd.DataFrame({"anchor_id": np.arange(n), "patient_id": patients, "split": split})
    task = SimpleNamespace(anchors=anchors, labels=labels, kept_targets=["t_high", "t_low"])
    config = SimpleNamespace(threshold="youden", target_sensitivity=0.9)
    test = np.flatnonzero(split == "test")
    counts = M.bootstrap_resamples(test.size, 50, 0, patients[test])
    ci, _ = M.auroc_ci_and_resamples(labels[test], scores[test], counts)
    rows = result_rows(task, scores, config, "run", ci)
    rows = rows[rows["split"] == "test"].set_index("target")
    clustered = M.clustered_matrix(labels[test], scores[test], patients[test])
    delong = M.delong_matrix(labels[test], scores[test])
    for j, target in enumerate(task.kept_targets):
        row = rows.loc[target]
        assert (row["clustered_low"], row["clustered_high"]) == (
            clustered.at[j, "low"],
            clustered.at[j, "high"],
        )
        assert (row["n_patients"], row["n_pos_patients"]) == tuple(
            clustered.loc[j, ["n_patients", "n_pos_patients"]]
        )
    assert np.isnan(rows.at["t_high", "delong_low"]) and np.isnan(rows.at["t_high", "delong_high"])
    assert rows.at["t_low", "delong_low"] == delong.at[1, "low"]
    assert delong.at[1, "low"] == pytest.approx(clustered.at[1, "low"], abs=1e-14)
    assert rows.at["t_low", "n_patients"] == rows.at["t_low", "n"]

"""Leaderboards from fixture result files: CSV, Markdown and HTML numbers match the inputs; paired comparisons
match a direct computation over the stored resamples; mixing cohorts is refused; published rows are present,
labelled, and an inverted published interval is flagged; the HTML renders and sorts in a real browser."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import ecglab.bench.cli as cli
from ecglab.bench import metrics
from ecglab.bench.commands import leaderboard as leaderboard_command
from ecglab.errors import EcglabError
from ecglab.leaderboards.board import ComparabilityError, build_leaderboard, fmt_auroc, write_leaderboard
from ecglab.leaderboards.submission import export_submission
from ecglab.tasks.registry import get_task

TASK = "anyecg_lab_est_60min"  # registered (published AnyECG-Lab rows attach to it)
TARGETS = ["potassium_low", "potassium_high", "sodium_low", "sodium_high", "albumin_low"]
COHORT = "c0ffee" * 10 + "abcd"
OTHER_COHORT = "facade" * 10 + "0123"
N_ANCHORS = 200  # about 60% test
N_BOOT = 200
SIGNAL = {"ecgfounder": 1.6, "s4": 1.2, "transformer": 1.1, "ecg_features": 0.2}


# ------------------------------------------------------------------------------------------------ fixtures
def task_labels(seed: int = 3) -> dict[str, Any]:
    """Anchors in task order (splits interleaved), their patients and a label matrix shared by all runs."""
    rng = np.random.default_rng(seed)
    anchors = np.array([f"a{i:04d}" for i in range(N_ANCHORS)], dtype=object)
    patients = np.array([f"p{i // 2:04d}" for i in range(N_ANCHORS)], dtype=object)
    split = np.where(np.arange(N_ANCHORS) % 5 < 2, "val", "test").astype(object)
    labels = (rng.random((N_ANCHORS, len(TARGETS))) < 0.3).astype(np.int8)
    labels[rng.random(labels.shape) < 0.1] = -1
    return {"anchors": anchors, "patients": patients, "split": split, "labels": labels}


def write_run(
    runs_dir: Path,
    backbone: str,
    *,
    seed: int = 0,
    task: str = TASK,
    cohort_hash: str = COHORT,
    task_version: str | None = None,
    task_digest: str | None = None,
    training_digest: str | None = None,
    data: dict[str, Any] | None = None,
    signal: float | None = None,
    label: str = "",
    status: str = "finished",
    evaluate_test: bool = True,
) -> Path:
    """A run folder as the engine writes it: run.json, results.parquet (computed with ecglab.bench.metrics
    from the predictions and the stored resamples), predictions.parquet and the task's bootstrap count
    matrix."""
    data = data or task_labels()
    if task_version is None or task_digest is None:
        try:
            spec = get_task(task)
            task_version, task_digest = spec.version, spec.digest()
            training_digest = training_digest or spec.training_digest()
        except KeyError:
            task_version, task_digest = task_version or "1", task_digest or f"digest-{task}"
    training_digest = training_digest or f"training-{task}"
    rng = np.random.default_rng(zlib.crc32(f"{backbone}|{seed}|{task}|{label}".encode()))
    strength = SIGNAL.get(backbone, 0.5) if signal is None else signal
    labels = data["labels"]
    scores = 1 / (1 + np.exp(-(strength * (labels == 1) + rng.normal(size=labels.shape))))
    run_id = f"{backbone}-{seed}-{task}-{cohort_hash[:6]}-{label}".ljust(64, "0")
    run_dir = runs_dir / run_id[:16]
    while run_dir.exists():
        run_dir = run_dir.with_name(run_dir.name + "x")
    run_dir.mkdir(parents=True)
    test = np.flatnonzero(data["split"] == "test")
    val = np.flatnonzero(data["split"] == "val")
    folder = f"tasks/{task}-{cohort_hash[:12]}"
    boot = runs_dir / folder / f"bootstrap_test_seed{seed}_n{N_BOOT}.npy"
    if boot.is_file():
        counts = np.load(boot)
    else:
        counts = metrics.bootstrap_resamples(len(test), N_BOOT, seed, groups=data["patients"][test])
        boot.parent.mkdir(parents=True, exist_ok=True)
        np.save(boot, counts)
    ci = metrics.auroc_ci_matrix(labels[test], scores[test], counts)
    delong = metrics.delong_matrix(labels[test], scores[test])
    rows = []
    for j, target in enumerate(TARGETS):
        for split, split_rows in (("val", val), ("test", test)):
            y, s = labels[split_rows, j], scores[split_rows, j]
            row = {
                "run_id": run_id,
                "target": target,
                "split": split,
                "n": int((y != -1).sum()),
                "n_pos": int((y == 1).sum()),
                "auroc": metrics.auroc(y, s),
                "auprc": metrics.auprc(y, s),
                "threshold": 0.5,
                **metrics.confusion_metrics(y, s, 0.5),
            }
            if split == "test":
                row.update(
                    auroc_low=float(ci.loc[j, "low"]),
                    auroc_high=float(ci.loc[j, "high"]),
                    n_boot_used=int(ci.loc[j, "n_boot_used"]),
                    delong_low=float(delong.loc[j, "low"]),
                    delong_high=float(delong.loc[j, "high"]),
                )
            rows.append(row)
    if evaluate_test:
        pd.DataFrame(rows).to_parquet(run_dir / "results.parquet", index=False)
    else:
        pd.DataFrame([r for r in rows if r["split"] == "val"]).to_parquet(run_dir / "results.parquet")
    evaluated = np.sort(np.concatenate([val, test]))
    k = len(TARGETS)
    pd.DataFrame(
        {
            "anchor_id": np.repeat(data["anchors"][evaluated], k),
            "patient_id": np.repeat(data["patients"][evaluated], k),
            "split": np.repeat(data["split"][evaluated], k),
            "target": np.tile(np.array(TARGETS, dtype=object), len(evaluated)),
            "label": labels[evaluated].reshape(-1),
            "score": scores[evaluated].reshape(-1),
        }
    ).to_parquet(run_dir / "predictions.parquet", index=False)
    record = {
        "run_id": run_id,
        "status": status,
        "config": {
            "backbone": backbone,
            "task": task,
            "cohort": "/data/cohort",
            "preset": "tiny",
            "seed": seed,
            "label": label,
            "evaluate_test": evaluate_test,
            "lr": 1e-3,
            "task_specs": [],
        },
        "task": {
            "name": task,
            "version": task_version,
            "digest": task_digest,
            "training_digest": training_digest,
            "targets": TARGETS,
        },
        "cohort": {"name": "fixture", "hash": cohort_hash},
        "backbone": {"name": backbone, "kind": "baseline" if backbone == "ecg_features" else "model"},
    }
    if status == "finished" and evaluate_test:
        record["bootstrap"] = {"file": f"{folder}/{boot.name}", "n_boot": N_BOOT, "seed": seed}
    if status == "failed":
        record["error"] = "RuntimeError: CUDA out of memory"
    (run_dir / "run.json").write_text(json.dumps(record, indent=2))
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four backbones on one task (s4 with two seeds), plus a failed run and a validation-only run."""
    runs_dir = tmp_path_factory.mktemp("lb") / "runs"
    data = task_labels()
    for backbone in ("ecgfounder", "transformer", "ecg_features"):
        write_run(runs_dir, backbone, data=data)
    for seed in (0, 1):
        write_run(runs_dir, "s4", seed=seed, data=data)
    write_run(runs_dir, "s4", seed=7, data=data, status="failed")
    write_run(runs_dir, "transformer", seed=5, data=data, evaluate_test=False, label="trial")
    return runs_dir


@pytest.fixture(scope="module")
def board_dir(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("board") / "fixture_board"
    write_leaderboard(build_leaderboard([runs], title="fixture board"), out)
    return out


def _results(runs: Path, backbone: str, seed: int = 0) -> pd.DataFrame:
    for run_json in runs.glob("*/run.json"):
        record = json.loads(run_json.read_text())
        config = record["config"]
        wanted = config["backbone"] == backbone and config["seed"] == seed and config["evaluate_test"]
        if wanted and record["status"] == "finished":
            results = pd.read_parquet(run_json.parent / "results.parquet")
            return results[results["split"] == "test"].set_index("target")
    raise LookupError(backbone)


def _test_matrices(runs: Path, backbone: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for run_json in runs.glob("*/run.json"):
        record = json.loads(run_json.read_text())
        config = record["config"]
        if config["backbone"] == backbone and config["seed"] == seed and record["status"] == "finished":
            predictions = pd.read_parquet(run_json.parent / "predictions.parquet")
            test = predictions[predictions["split"] == "test"]
            labels = test.pivot(index="anchor_id", columns="target", values="label")[TARGETS].to_numpy()
            scores = test.pivot(index="anchor_id", columns="target", values="score")[TARGETS].to_numpy()
            counts = np.load(runs / record["bootstrap"]["file"])
            return labels, scores, counts
    raise LookupError(backbone)


def _read(board_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(board_dir / name)


# ------------------------------------------------------------------------------------------------ tables
def test_csv_numbers_match_the_result_files(runs: Path, board_dir: Path) -> None:
    summary = _read(board_dir, "summary.csv")
    own = summary[summary["source"] == "ecglab"].set_index("entry")
    assert set(own.index) == {"ecgfounder/tiny", "transformer/tiny", "ecg_features/tiny", "s4/tiny"}
    for column in ("macro_auroc", "macro_auroc_low", "macro_auroc_high", "macro_auroc_sd"):
        assert summary[column].dtype == np.float64, column
    for backbone in ("ecgfounder", "transformer", "ecg_features"):
        results = _results(runs, backbone)
        row = own.loc[f"{backbone}/tiny"]
        assert row["macro_auroc"] == pytest.approx(results["auroc"].mean(), rel=1e-12)
        assert row["n_targets"] == len(TARGETS) and row["n_seeds"] == 1
        tiers = metrics.tier_counts(results["auroc"].to_numpy())
        assert (row["n_auroc_ge_065"], row["n_auroc_055_065"], row["n_auroc_lt_055"]) == (
            tiers[">=0.65"],
            tiers["0.55-0.65"],
            tiers["<0.55"],
        )
        # macro interval: the mean over targets of per-resample AUROCs on the stored resamples
        labels, scores, counts = _test_matrices(runs, backbone)
        per_resample = np.array(
            [metrics.bootstrap_aurocs(labels[:, j], scores[:, j], counts) for j in range(len(TARGETS))]
        ).mean(axis=0)
        used = per_resample[~np.isnan(per_resample)]
        low, high = np.quantile(used, [0.025, 0.975])
        assert (row["macro_auroc_low"], row["macro_auroc_high"]) == pytest.approx((low, high), rel=1e-12)
        assert row["macro_n_boot_used"] == used.size
    seeds = [_results(runs, "s4", seed) for seed in (0, 1)]
    s4 = own.loc["s4/tiny"]
    per_seed = [s["auroc"].mean() for s in seeds]
    assert s4["n_seeds"] == 2 and s4["seeds"] == "0;1"
    assert s4["macro_auroc"] == pytest.approx(np.mean(per_seed), rel=1e-12)
    assert s4["macro_auroc_sd"] == pytest.approx(np.std(per_seed, ddof=1), rel=1e-12)
    assert own["rank"].min() == 1 and own.loc["ecgfounder/tiny", "rank"] == 1

    targets = _read(board_dir, "targets.csv")
    mine = targets[(targets["source"] == "ecglab")].set_index(["entry", "target"])
    results = _results(runs, "ecgfounder")
    for target in TARGETS:
        row = mine.loc[("ecgfounder/tiny", target)]
        for column in ("auroc", "auroc_low", "auroc_high", "delong_low", "delong_high"):
            assert row[column] == pytest.approx(results.at[target, column], rel=1e-12), column
        both = mine.loc[("s4/tiny", target)]
        assert both["auroc"] == pytest.approx(np.mean([s.at[target, "auroc"] for s in seeds]), rel=1e-12)
        assert both["auroc_sd"] == pytest.approx(np.std([s.at[target, "auroc"] for s in seeds], ddof=1))


def test_refused_runs_are_listed_with_their_reason(board_dir: Path) -> None:
    refused = _read(board_dir, "refused.csv")
    reasons = " | ".join(refused["reason"])
    assert len(refused) == 1  # the failed run; a search trial (validation only) is no row and no refusal
    assert "status 'failed'" in reasons and "CUDA out of memory" in reasons
    assert "validation-only" not in reasons


def test_markdown_shows_auroc_with_interval(runs: Path, board_dir: Path) -> None:
    text = (board_dir / "leaderboard.md").read_text()
    results = _results(runs, "ecgfounder")
    for target in TARGETS:
        r = results.loc[target]
        expected = f"{r['auroc']:.3f} [{r['auroc_low']:.3f}-{r['auroc_high']:.3f}]"
        assert expected in text
    summary = _read(board_dir, "summary.csv").set_index("entry")
    top = summary.loc["ecgfounder/tiny"]
    assert fmt_auroc(top["macro_auroc"], top["macro_auroc_low"], top["macro_auroc_high"]) in text
    assert re.search(r"\| 1 \| ecgfounder/tiny \| ecglab \| \d\.\d{3} \[\d\.\d{3}-\d\.\d{3}\] \|", text)
    assert "AnyECG-Lab (published, not re-run)" in text and "*published*" in text


# ------------------------------------------------------------------------------------------------ comparisons
def _direct_paired(labels: np.ndarray, a: np.ndarray, b: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUROC(a) - AUROC(b) on every resample, rows written out and scored by scikit-learn."""
    diffs = []
    for c in counts:
        rows = np.repeat(np.arange(len(labels)), c)
        y = labels[rows]
        keep = y != -1
        y = y[keep]
        if y.min() == y.max():
            continue
        diffs.append(roc_auc_score(y, a[rows][keep]) - roc_auc_score(y, b[rows][keep]))
    return np.array(diffs)


def test_paired_comparisons_match_a_direct_computation(runs: Path, board_dir: Path) -> None:
    comparisons = _read(board_dir, "comparisons.csv")
    per_target = comparisons[comparisons["level"] == "target"].set_index(["target", "entry"])
    labels, best_scores, counts = _test_matrices(runs, "ecgfounder")
    for target_index, target in enumerate(TARGETS[:3]):
        row = per_target.loc[(target, "ecg_features/tiny")]
        best = row["best_entry"]
        assert best != "ecg_features/tiny"
        backbone = best.split("/")[0]
        _, best_scores, _ = _test_matrices(runs, backbone)
        own_labels, own_scores, _ = _test_matrices(runs, "ecg_features")
        diffs = _direct_paired(
            own_labels[:, target_index], own_scores[:, target_index], best_scores[:, target_index], counts
        )
        low, high = np.quantile(diffs, [0.025, 0.975])
        assert row["diff_low"] == pytest.approx(low, abs=1e-12)
        assert row["diff_high"] == pytest.approx(high, abs=1e-12)
        assert row["n_boot_used"] == len(diffs)
        assert bool(row["tied_with_best"]) == bool(low <= 0 <= high)
        delong = metrics.delong_test(
            own_labels[:, target_index], own_scores[:, target_index], best_scores[:, target_index]
        )
        assert row["delong_p"] == pytest.approx(delong.p_value, rel=1e-9)
        assert row["diff"] == pytest.approx(delong.diff, abs=1e-12)
        assert per_target.loc[(target, best), "tied_with_best"]
    # the weak baseline is clearly worse than the best on the macro AUROC; the best is tied with itself
    macro = comparisons[comparisons["level"] == "macro"].set_index("entry")
    assert macro.loc["ecgfounder/tiny", "tied_with_best"] and macro.loc["ecgfounder/tiny", "diff"] == 0
    assert not macro.loc["ecg_features/tiny", "tied_with_best"]
    assert macro.loc["ecg_features/tiny", "diff_high"] < 0
    # two seeds: differences of seed-mean AUROCs on the same resamples
    s4 = per_target.loc[(TARGETS[0], "s4/tiny")]
    if s4["best_entry"] != "s4/tiny":
        best_backbone = s4["best_entry"].split("/")[0]
        _, best_scores, _ = _test_matrices(runs, best_backbone)
        vectors = [
            metrics.bootstrap_aurocs(labels[:, 0], _test_matrices(runs, "s4", seed)[1][:, 0], counts)
            for seed in (0, 1)
        ]
        diff = np.mean(vectors, axis=0) - metrics.bootstrap_aurocs(labels[:, 0], best_scores[:, 0], counts)
        low, high = np.quantile(diff[~np.isnan(diff)], [0.025, 0.975])
        assert (s4["diff_low"], s4["diff_high"]) == pytest.approx((low, high), abs=1e-12)
        assert np.isnan(s4["delong_p"])


def test_mixing_cohort_hashes_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "ecgfounder")
    write_run(runs_dir, "s4", cohort_hash=OTHER_COHORT)
    with pytest.raises(ComparabilityError) as caught:
        build_leaderboard([runs_dir])
    message = str(caught.value)
    assert "cohort hash" in message and COHORT[:12] in message and OTHER_COHORT[:12] in message
    assert TASK in message and "--cohort-hash" in message

    board = build_leaderboard([runs_dir], cohort_hash=COHORT[:8])
    assert list(board.summary.loc[board.summary["source"] == "ecglab", "entry"]) == ["ecgfounder/tiny"]
    assert "is not the chosen cohort" in board.refused.iloc[0]["reason"]

    assert _cli(["leaderboard", str(runs_dir), "--out", str(tmp_path / "board")]) == 2
    assert "cohort hash" in capsys.readouterr().err


def test_a_different_task_version_is_not_comparable(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "ecgfounder", task="fixture_est_60min", task_version="1", task_digest="d1")
    write_run(runs_dir, "s4", task="fixture_est_60min", task_version="2", task_digest="d2")
    with pytest.raises(ComparabilityError, match="task version"):
        build_leaderboard([runs_dir], published=False)


def test_intervals_without_predictions_are_nan_with_the_reason(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    data = task_labels()
    write_run(runs_dir, "ecgfounder", data=data)
    for seed in (0, 1):
        write_run(runs_dir, "s4", seed=seed, data=data)
    (
        next(p for p in runs_dir.glob("s4*") if "-1-" in json.loads((p / "run.json").read_text())["run_id"])
        / "predictions.parquet"
    ).unlink()
    board = build_leaderboard([runs_dir], published=False)
    summary = board.summary.set_index("entry")
    assert np.isfinite(summary.loc["ecgfounder/tiny", "macro_auroc_low"])
    assert np.isnan(summary.loc["s4/tiny", "macro_auroc_low"])
    assert "predictions.parquet is missing" in summary.loc["s4/tiny", "macro_ci_note"]
    targets = board.targets.set_index(["entry", "target"])
    assert np.isnan(targets.loc[("s4/tiny", TARGETS[0]), "auroc_low"])
    assert "predictions.parquet is missing" in targets.loc[("s4/tiny", TARGETS[0]), "ci_note"]

    # resamples whose row count does not match the test anchors are refused, not used
    counts = next(runs_dir.glob("tasks/*/*.npy"))
    np.save(counts, np.load(counts)[:, :-1])
    board = build_leaderboard([runs_dir], published=False)
    row = board.summary.set_index("entry").loc["ecgfounder/tiny"]
    assert np.isnan(row["macro_auroc_low"]) and "resample columns" in row["macro_ci_note"]


def test_window_curves_for_tasks_sharing_a_training_digest(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    for window in (15, 30, 60):
        task = f"fixture_est_{window}min"
        for backbone in ("ecgfounder", "s4"):
            write_run(runs_dir, backbone, task=task, task_digest=f"d{window}", training_digest="shared")
    board = build_leaderboard([runs_dir], published=False)
    curves = board.curves
    assert set(curves["minutes"]) == {15.0, 30.0, 60.0} and set(curves["axis"]) == {"window"}
    assert set(curves["entry"]) == {"ecgfounder/tiny", "s4/tiny"}
    summary = board.summary.set_index(["task", "entry"])
    for row in curves.itertuples():
        assert row.macro_auroc == summary.loc[(row.task, row.entry), "macro_auroc"]
    paths = write_leaderboard(board, tmp_path / "out")
    assert 'class="curve"' in paths["html"].read_text()
    assert "60 min" in paths["markdown"].read_text()


def test_submission_files_are_accepted_as_inputs(runs: Path, tmp_path: Path) -> None:
    file = tmp_path / "submission.csv"
    export_submission([runs], file)
    board = build_leaderboard([file], published=False)
    summary = board.summary.set_index("entry")
    results = _results(runs, "ecgfounder")
    row = summary.loc["ecgfounder/tiny"]
    assert row["macro_auroc"] == pytest.approx(results["auroc"].mean(), rel=1e-12)
    assert np.isnan(row["macro_auroc_low"]) and "no predictions" in row["macro_ci_note"]
    targets = board.targets.set_index(["entry", "target"])
    assert targets.loc[("ecgfounder/tiny", TARGETS[0]), "auroc_low"] == pytest.approx(
        results.at[TARGETS[0], "auroc_low"], rel=1e-12
    )
    # a run given both as a folder and in a submission counts once (the folder, with predictions)
    both = build_leaderboard([runs, file], published=False)
    assert len(both.summary) == 4 and any("given twice" in n for n in both.notes)


# ------------------------------------------------------------------------------------------------ published
def test_published_rows_are_present_and_labelled(board_dir: Path, runs: Path) -> None:
    summary = _read(board_dir, "summary.csv")
    published = summary[summary["source"] == "published"]
    assert list(published["entry"]) == ["AnyECG-Lab (published, not re-run)"]
    row = published.iloc[0]
    assert row["task"] == TASK and row["n_targets"] == 108
    assert (row["n_auroc_ge_065"], row["n_auroc_055_065"], row["n_auroc_lt_055"]) == (33, 58, 17)
    assert np.isnan(row["macro_auroc_low"]) and "not re-run" in row["note"]
    assert np.isnan(row["rank"])
    targets = _read(board_dir, "targets.csv")
    potassium = targets[(targets["source"] == "published") & (targets["target"] == "potassium_low")].iloc[0]
    assert (potassium["auroc"], potassium["auroc_low"], potassium["auroc_high"]) == (0.713, 0.712, 0.715)
    assert potassium["label"] == "published, not re-run"
    html = (board_dir / "index.html").read_text()
    assert "AnyECG-Lab (published, not re-run)" in html and 'class="published' in html
    assert not re.search(r"src=|href=\"?https?:|@import|url\(|@font-face", html)  # one file, nothing fetched

    bare = build_leaderboard([runs], published=False)
    assert (bare.summary["source"] == "ecglab").all() and (bare.targets["source"] == "ecglab").all()


def test_an_inverted_published_interval_is_flagged_not_swapped(tmp_path: Path) -> None:
    board = build_leaderboard([], title="published only")
    targets = board.targets
    flagged = targets[targets["ci_inverted"].fillna(False)]
    assert len(flagged) == 1
    row = flagged.iloc[0]
    assert row["task"] == "cardiolab_forecast_30min" and row["lab"] == "Bicarbonate"
    assert (row["auroc"], row["auroc_low"], row["auroc_high"]) == (0.722, 0.763, 0.681)
    assert "kept as published" in row["issues"]
    assert any("Bicarbonate" in n and "0.763-0.681" in n for n in board.notes)
    summary = board.summary.set_index(["task", "entry"])
    assert (
        summary.loc[("cardiolab_forecast_30min", "CardioLab (published, not re-run)"), "n_ci_inverted"] == 1
    )
    paths = write_leaderboard(board, tmp_path / "published")
    assert "0.722 [0.763-0.681] !" in paths["markdown"].read_text()
    html = paths["html"].read_text()
    assert 'class="published inverted"' in html and "kept as published" in html


# ------------------------------------------------------------------------------------------------ command
def _cli(argv: list[str]) -> int:
    """ecglab.bench.cli.main with this module's verbs (whether or not cli.COMMANDS lists them yet)."""
    commands = cli.COMMANDS
    if leaderboard_command not in commands:
        commands = (*commands, leaderboard_command)
    parser = argparse.ArgumentParser(prog="ecglab")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in commands:
        module.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except EcglabError as err:
        print(f"ecglab: error: {err}", file=sys.stderr)
        return 2


def test_leaderboard_command_writes_every_file(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "leaderboards" / "demo"
    assert _cli(["leaderboard", str(runs), "--out", str(out), "--no-published"]) == 0
    printed = capsys.readouterr()
    assert "ecgfounder/tiny" in printed.out and "refused" in printed.err
    names = {p.name for p in out.iterdir()}
    assert names == {
        "summary.csv",
        "targets.csv",
        "comparisons.csv",
        "curves.csv",
        "refused.csv",
        "leaderboard.md",
        "index.html",
    }
    assert "# demo" in (out / "leaderboard.md").read_text()
    assert "published" not in set(pd.read_csv(out / "summary.csv")["source"])


# ------------------------------------------------------------------------------------------------ browser
class _Rows(HTMLParser):
    """data-v of one column of a table's body rows, in DOM order."""

    def __init__(self, table_id: str, column: int) -> None:
        super().__init__()
        self.table_id, self.column = table_id, column
        self.inside = self.in_body = False
        self.cell = -1
        self.values: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.cell = -1
        elif self.in_body and tag == "td":
            self.cell += 1
            if self.cell == self.column:
                self.values.append(attributes.get("data-v"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.inside:
            self.inside = self.in_body = False


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if path:
            return path
    return None


def test_html_renders_tables_and_plots_and_sorts_in_a_browser(board_dir: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium): the browser check is skipped")
    table = f"targets-{TASK}"
    url = (board_dir / "index.html").resolve().as_uri() + f"#sort={table}:3:desc"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    dom = done.stdout
    assert "<table" in dom, done.stderr[-2000:]
    assert f'id="summary-{TASK}"' in dom and f'id="{table}"' in dom
    forest = re.search(r'<svg class="forest".*?</svg>', dom, re.S)
    heatmap = re.search(r'<svg class="heatmap".*?</svg>', dom, re.S)
    assert forest and heatmap
    # 4 own entries x 5 targets, plus the published AnyECG-Lab rows of the same targets (and the rest)
    assert forest.group(0).count('class="mark"') >= 4 * len(TARGETS)
    assert heatmap.group(0).count('class="cell"') >= 4 * len(TARGETS)
    # the URL hash clicked the AUROC header twice: ascending, then descending
    assert f'data-last-sort="{table}:3:descending"' in dom
    assert 'aria-sort="descending"' in dom
    rows = _Rows(table, 3)
    rows.feed(dom)
    values = [float(v) for v in rows.values if v]
    assert len(values) > 20 and values == sorted(values, reverse=True)
    original = _Rows(table, 3)
    original.feed((board_dir / "index.html").read_text())
    assert [float(v) for v in original.values if v] != values  # the page was not already in that order

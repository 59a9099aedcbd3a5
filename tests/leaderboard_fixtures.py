"""Fixture result files for the leaderboard and submission tests: run folders as the engine writes them
(``run.json`` through ``ecglab.bench.run_folder.write_record``), readers of their test results, and the
command line with the leaderboard verbs."""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import ecglab.bench.cli as cli
from ecglab.bench import metrics
from ecglab.bench.commands import leaderboard as leaderboard_command
from ecglab.bench.config import build_run_config
from ecglab.bench.resample_file import (
    ResampleAurocs,
    digest_of_test_set,
    resample_aurocs,
    write_resample_file,
)
from ecglab.bench.run_folder import (
    BackboneIdentity,
    BootstrapFile,
    CohortIdentity,
    RunRecord,
    TaskIdentity,
    is_run_folder,
    read_record,
    write_record,
)
from ecglab.errors import EcglabError
from ecglab.tasks.registry import get_task

TASK = "anyecg_lab_est_60min"  # registered (published AnyECG-Lab rows attach to it)
TARGETS = ["potassium_low", "potassium_high", "sodium_low", "sodium_high", "albumin_low"]
COHORT = "c0ffee" * 10 + "abcd"
OTHER_COHORT = "facade" * 10 + "0123"
N_ANCHORS = 200  # about 60% test
N_BOOT = 200
SIGNAL = {"ecgfounder": 1.6, "s4": 1.2, "transformer": 1.1, "ecg_features": 0.2}


# ------------------------------------------------------------------------------------------------ run folders
def task_labels(seed: int = 3) -> dict[str, Any]:
    """Anchors in task order (splits interleaved), their patients and a label matrix shared by all runs."""
    rng = np.random.default_rng(seed)
    anchors = np.array([f"a{i:04d}" for i in range(N_ANCHORS)], dtype=object)
    patients = np.array([f"p{i // 2:04d}" for i in range(N_ANCHORS)], dtype=object)
    split = np.where(np.arange(N_ANCHORS) % 5 < 2, "val", "test").astype(object)
    labels = (rng.random((N_ANCHORS, len(TARGETS))) < 0.3).astype(np.int8)
    labels[rng.random(labels.shape) < 0.1] = -1
    return {"anchors": anchors, "patients": patients, "split": split, "labels": labels}


def _task_identity(
    task: str, task_version: str | None, task_digest: str | None, training_digest: str | None
) -> TaskIdentity:
    """The registered task's version and digests where the fixture gives none, else made-up ones."""
    if task_version is None or task_digest is None:
        try:
            spec = get_task(task)
            task_version, task_digest = spec.version, spec.digest()
            training_digest = training_digest or spec.training_digest()
        except KeyError:
            task_version, task_digest = task_version or "1", task_digest or f"digest-{task}"
    training_digest = training_digest or f"training-{task}"
    return TaskIdentity(task, task_version, task_digest, training_digest, tuple(TARGETS))


def _bootstrap_counts(
    runs_dir: Path, folder: str, seed: int, data: dict[str, Any]
) -> tuple[np.ndarray, Path]:
    """The task's stored resamples of the test anchors (written by the first run of the seed)."""
    boot = runs_dir / folder / f"bootstrap_test_seed{seed}_n{N_BOOT}.npy"
    if boot.is_file():
        return np.load(boot), boot
    test = np.flatnonzero(data["split"] == "test")
    counts = metrics.bootstrap_resamples(len(test), N_BOOT, seed, groups=data["patients"][test])
    boot.parent.mkdir(parents=True, exist_ok=True)
    np.save(boot, counts)
    return counts, boot


def _result_rows(run_id: str, data: dict[str, Any], scores: np.ndarray, counts: np.ndarray) -> list[dict]:
    """results.parquet rows, computed with ecglab.bench.metrics from the predictions and the resamples."""
    labels = data["labels"]
    test = np.flatnonzero(data["split"] == "test")
    val = np.flatnonzero(data["split"] == "val")
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
    return rows


def _write_predictions(run_dir: Path, data: dict[str, Any], scores: np.ndarray) -> None:
    evaluated = np.flatnonzero(np.isin(data["split"], ("val", "test")))  # in task order
    k = len(TARGETS)
    pd.DataFrame(
        {
            "anchor_id": np.repeat(data["anchors"][evaluated], k),
            "patient_id": np.repeat(data["patients"][evaluated], k),
            "split": np.repeat(data["split"][evaluated], k),
            "target": np.tile(np.array(TARGETS, dtype=object), len(evaluated)),
            "label": data["labels"][evaluated].reshape(-1),
            "score": scores[evaluated].reshape(-1),
        }
    ).to_parquet(run_dir / "predictions.parquet", index=False)


def _record(
    run_id: str, status: str, task: TaskIdentity, cohort_hash: str, backbone: str, options: dict[str, Any]
) -> RunRecord:
    config = {"backbone": backbone, "task": task.name, "cohort": "/data/cohort", "preset": "tiny"}
    config.update(lr=1e-3, task_specs=[], **options)
    return RunRecord(
        run_id=run_id,
        status=status,
        config=build_run_config(config, source="fixture run"),
        task=task,
        cohort=CohortIdentity("fixture", cohort_hash),
        backbone=BackboneIdentity(backbone, "baseline" if backbone == "ecg_features" else "model", "tiny"),
        error="RuntimeError: CUDA out of memory" if status == "failed" else None,
    )


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
    identity = _task_identity(task, task_version, task_digest, training_digest)
    rng = np.random.default_rng(zlib.crc32(f"{backbone}|{seed}|{task}|{label}".encode()))
    strength = SIGNAL.get(backbone, 0.5) if signal is None else signal
    labels = data["labels"]
    scores = 1 / (1 + np.exp(-(strength * (labels == 1) + rng.normal(size=labels.shape))))
    run_id = f"{backbone}-{seed}-{task}-{cohort_hash[:6]}-{label}".ljust(64, "0")
    run_dir = runs_dir / run_id[:16]
    while run_dir.exists():
        run_dir = run_dir.with_name(run_dir.name + "x")
    run_dir.mkdir(parents=True)
    folder = f"tasks/{task}-{cohort_hash[:12]}"
    counts, boot = _bootstrap_counts(runs_dir, folder, seed, data)
    rows = _result_rows(run_id, data, scores, counts)
    if evaluate_test:
        pd.DataFrame(rows).to_parquet(run_dir / "results.parquet", index=False)
    else:
        pd.DataFrame([r for r in rows if r["split"] == "val"]).to_parquet(run_dir / "results.parquet")
    _write_predictions(run_dir, data, scores)
    options = {"seed": seed, "label": label, "evaluate_test": evaluate_test}
    record = _record(run_id, status, identity, cohort_hash, backbone, options)
    if status == "finished" and evaluate_test:
        record = record.replace(bootstrap=BootstrapFile(f"{folder}/{boot.name}", N_BOOT, seed))
    write_record(run_dir, record)
    return run_dir


def store_resample_file(run_dir: Path) -> None:
    """The run's test_resamples.npz as the engine writes it (per-resample AUROCs of its test predictions on
    the stored resamples named in its run.json)."""
    record = read_record(run_dir)
    assert record.bootstrap is not None
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    anchors = pd.unique(test["anchor_id"].to_numpy())
    labels = test.pivot(index="anchor_id", columns="target", values="label").loc[anchors, TARGETS]
    scores = test.pivot(index="anchor_id", columns="target", values="score").loc[anchors, TARGETS]
    counts = np.load(run_dir.parent / record.bootstrap.file)
    stored = ResampleAurocs(
        aurocs=resample_aurocs(labels.to_numpy(np.int8), scores.to_numpy(), counts),
        bootstrap_file=record.bootstrap.file,
        n_boot=record.bootstrap.n_boot,
        seed=record.bootstrap.seed,
        test_digest=digest_of_test_set(anchors, labels.to_numpy(np.int8)),
        n_anchors=len(anchors),
        targets=tuple(TARGETS),
    )
    write_resample_file(run_dir, stored)


def edit_results(run_dir: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite the run's results.parquet with ``change`` applied to all its rows."""
    change(pd.read_parquet(run_dir / "results.parquet")).to_parquet(run_dir / "results.parquet", index=False)


def edit_test_rows(run_dir: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite the run's results.parquet with ``change`` applied to its test rows (the val rows kept)."""

    def on_test(results: pd.DataFrame) -> pd.DataFrame:
        test = change(results[results["split"] == "test"].reset_index(drop=True).copy())
        return pd.concat([results[results["split"] != "test"], test], ignore_index=True)

    edit_results(run_dir, on_test)


# ------------------------------------------------------------------------------------------------ readers
def _finished_runs(runs: Path, backbone: str, seed: int) -> list[tuple[Path, RunRecord]]:
    found = []
    for run_dir in sorted(p for p in runs.iterdir() if is_run_folder(p)):
        record = read_record(run_dir)
        if record.config.backbone == backbone and record.config.seed == seed and record.finished:
            found.append((run_dir, record))
    return found


def run_results(runs: Path, backbone: str, seed: int = 0) -> pd.DataFrame:
    """The test rows of results.parquet of a finished, evaluated run, by target."""
    for run_dir, record in _finished_runs(runs, backbone, seed):
        if record.config.evaluate_test:
            results = pd.read_parquet(run_dir / "results.parquet")
            return results[results["split"] == "test"].set_index("target")
    raise LookupError(backbone)


def run_matrices(runs: Path, backbone: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test labels and scores (anchors x targets) of a finished run, and its stored resamples."""
    for run_dir, record in _finished_runs(runs, backbone, seed):
        predictions = pd.read_parquet(run_dir / "predictions.parquet")
        test = predictions[predictions["split"] == "test"]
        labels = test.pivot(index="anchor_id", columns="target", values="label")[TARGETS].to_numpy()
        scores = test.pivot(index="anchor_id", columns="target", values="score")[TARGETS].to_numpy()
        assert record.bootstrap is not None
        counts = np.load(runs / record.bootstrap.file)
        return labels, scores, counts
    raise LookupError(backbone)


def read_table(board_dir: Path, name: str) -> pd.DataFrame:
    """A CSV table the leaderboard wrote."""
    return pd.read_csv(board_dir / name)


# ------------------------------------------------------------------------------------------------ command
def run_cli(argv: list[str]) -> int:
    """ecglab.bench.cli.main with the leaderboard verbs (whether or not cli.COMMANDS lists them yet)."""
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

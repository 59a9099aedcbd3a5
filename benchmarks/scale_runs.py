"""Many run folders, as the engine writes them, for timing a leaderboard compile (``scale.py leaderboard``).

The runs are spread over the seven shipped AnyECG-Lab and CardioLab tasks, four backbones and as many seeds as
it takes. Each task has one test set of ``test_rows`` anchors (two per patient) and 20 targets; each run's
``predictions.parquet`` holds its validation and test scores and its ``results.parquet`` per-target rows
(percentile intervals of the stored resamples, and DeLong's) and its ``test_resamples.npz`` (the per-resample
AUROCs on the task's stored patient resamples, as the engine writes them when it scores a run). To keep the
generation short, each (task, backbone) has three distinct score sets, reused across its seeds; the compile
does the same work whatever the numbers. Generation is timed apart from the compile.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.bench.config import build_run_config
from ecglab.bench.metrics.intervals import percentile_interval
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
    write_record,
)
from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
from ecglab.tasks.registry import get_task

ANYECG_TASKS = ("anyecg_lab_est_60min", "anyecg_lab_est_30min", "anyecg_lab_est_15min")
CARDIOLAB_TASKS = (
    "cardiolab_est_60min",
    "cardiolab_forecast_30min",
    "cardiolab_forecast_60min",
    "cardiolab_forecast_120min",
)
TASKS = ANYECG_TASKS + CARDIOLAB_TASKS
BACKBONES = {"ecgfounder": 1.2, "s4": 1.0, "transformer": 0.9, "ecg_features": 0.3}
TARGETS = tuple(f"lab{j:02d}_high" for j in range(20))
N_BOOT = 1000
COHORT_HASH = "5ca1e0" * 10 + "beef"
COPIES = 3  # distinct score sets per (task, backbone)


def task_set(task: str, n_test: int, rng: np.random.Generator) -> dict[str, Any]:
    """One task's validation + test anchors (2 per patient), their labels and its stored resamples."""
    n = n_test + n_test // 2
    split = np.where(np.arange(n) < n_test // 2, "val", "test").astype(object)
    patients = np.array([f"{task[:4]}p{i // 2:06d}" for i in range(n)], dtype=object)
    labels = (rng.random((n, len(TARGETS))) < 0.2).astype(np.int8)
    labels[rng.random(labels.shape) < 0.3] = -1
    test = np.flatnonzero(split == "test")
    counts = metrics.bootstrap_resamples(len(test), N_BOOT, 0, groups=patients[test])
    anchors = np.array([f"{task[:4]}a{i:07d}" for i in range(n)], dtype=object)
    return {"split": split, "patients": patients, "labels": labels, "counts": counts, "anchors": anchors}


def result_rows(run_id: str, data: dict[str, Any], scores: np.ndarray, aurocs: np.ndarray) -> pd.DataFrame:
    rows = []
    for split in ("val", "test"):
        where = np.flatnonzero(data["split"] == split)
        labels, split_scores = data["labels"][where], scores[where]
        delong = metrics.delong_matrix(labels, split_scores)
        for j, target in enumerate(TARGETS):
            y, s = labels[:, j], split_scores[:, j]
            row = {
                "run_id": run_id,
                "target": target,
                "split": split,
                "n": int((y != -1).sum()),
                "n_pos": int((y == 1).sum()),
                "auroc": float(delong.loc[j, "auroc"]),
                "auprc": metrics.auprc(y, s),
                "threshold": 0.5,
                **metrics.confusion_metrics(y, s, 0.5),
            }
            if split == "test":  # the bootstrap interval of the stored resamples, as the engine writes it
                low, high, used, _ = percentile_interval(aurocs[j], 0.05)
                row.update(
                    auroc_low=low,
                    auroc_high=high,
                    n_boot_used=used,
                    delong_low=float(delong.loc[j, "low"]),
                    delong_high=float(delong.loc[j, "high"]),
                )
            rows.append(row)
    return pd.DataFrame(rows)


def scored_copy(task: str, data: dict[str, Any], backbone: str, seed: int, cache: dict) -> tuple:
    """Scores and per-resample test AUROCs of (task, backbone, seed % COPIES), computed once: the runs of
    seeds k and k + COPIES carry the same numbers (the compile's work does not depend on them)."""
    key = (task, backbone, seed % COPIES)
    if key not in cache:
        rng = np.random.default_rng([len(cache), seed % COPIES])
        labels = data["labels"]
        noise = rng.normal(size=labels.shape)
        scores = 1 / (1 + np.exp(-(BACKBONES[backbone] * (labels == 1) + noise)))
        test = data["split"] == "test"
        cache[key] = (scores, resample_aurocs(labels[test], scores[test], data["counts"]))
    return cache[key]


def write_one(
    runs: Path, task: str, data: dict[str, Any], backbone: str, seed: int, index: int, cache: dict
) -> None:
    spec = get_task(task)
    labels = data["labels"]
    scores, aurocs = scored_copy(task, data, backbone, seed, cache)
    run_id = f"{index:08d}".ljust(64, "0")
    run_dir = runs / run_id[:16]
    run_dir.mkdir(parents=True)
    result_rows(run_id, data, scores, aurocs).to_parquet(run_dir / "results.parquet", index=False)
    k = len(TARGETS)
    pd.DataFrame(
        {
            "anchor_id": np.repeat(data["anchors"], k),
            "patient_id": np.repeat(data["patients"], k),
            "split": np.repeat(data["split"], k),
            "target": np.tile(np.array(TARGETS, dtype=object), len(labels)),
            "label": labels.reshape(-1),
            "score": scores.reshape(-1),
        }
    ).to_parquet(run_dir / "predictions.parquet", index=False)
    config = {"backbone": backbone, "task": task, "cohort": "/data/cohort", "preset": "tiny", "seed": seed}
    boot = BootstrapFile(f"tasks/{task}/bootstrap_test_seed0_n{N_BOOT}.npy", N_BOOT, 0)
    record = RunRecord(
        run_id=run_id,
        status="finished",
        config=build_run_config({**config, "task_specs": []}, source="generated run"),
        task=TaskIdentity(task, spec.version, spec.digest(), spec.training_digest(), TARGETS),
        cohort=CohortIdentity("generated", COHORT_HASH),
        backbone=BackboneIdentity(backbone, "baseline" if backbone == "ecg_features" else "model", "tiny"),
        bootstrap=boot,
    )
    write_record(run_dir, record)
    test = data["split"] == "test"
    stored = ResampleAurocs(
        aurocs=aurocs,
        bootstrap_file=boot.file,
        n_boot=N_BOOT,
        seed=0,
        test_digest=digest_of_test_set(data["anchors"][test], labels[test]),
        n_anchors=int(test.sum()),
        targets=TARGETS,
    )
    write_resample_file(run_dir, stored)  # as the engine writes it when it scores a run


def generate(n_runs: int, runs: Path, n_test: int) -> None:
    """``n_runs`` finished run folders under ``runs`` (replacing what was there)."""
    if runs.exists():
        shutil.rmtree(runs)
    rng = np.random.default_rng(0)
    sets = {task: task_set(task, n_test, rng) for task in TASKS}
    for task, data in sets.items():
        boot = runs / "tasks" / task / f"bootstrap_test_seed0_n{N_BOOT}.npy"
        boot.parent.mkdir(parents=True)
        np.save(boot, data["counts"])
    cache: dict = {}
    pairings = [(task, backbone) for task in TASKS for backbone in BACKBONES]
    for index in range(n_runs):
        task, backbone = pairings[index % len(pairings)]
        write_one(runs, task, sets[task], backbone, index // len(pairings), index, cache)


def compile_leaderboard(n_runs: int, work: Path, n_test: int) -> dict[str, Any]:
    runs, out = work / "runs", work / "leaderboard"
    started = time.perf_counter()
    generate(n_runs, runs, n_test)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    board = build_leaderboard([runs], title="scale")
    write_leaderboard(board, out)
    compile_s = time.perf_counter() - started
    return {
        "run_folders": n_runs,
        "tasks": len(TASKS),
        "test_anchors_per_task": n_test,
        "targets": len(TARGETS),
        "generate_s": round(generate_s, 1),
        "compile_s": round(compile_s, 1),
        "summary_rows": len(board.summary),
        "refused": len(board.refused),
    }

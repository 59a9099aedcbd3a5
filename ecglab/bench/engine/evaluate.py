"""Scoring a pairing: the model's mean probability per anchor (every rank scores its shard of the inputs,
rank 0 pools the gathered parts), the stored bootstrap resamples of the test set, one results row per
(target, split) and the predictions table, written into the run folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecglab.bench import metrics
from ecglab.bench.config import RunConfig
from ecglab.bench.data import EvalBatches, loader
from ecglab.bench.engine.calibration_results import write_calibration
from ecglab.bench.engine.distributed import Distributed, gather_to_main, sync_buffers
from ecglab.bench.engine.prepare import (
    anchor_target_rows,
    evaluated_splits,
    model_input_plan,
    split_rows,
    tabular_inputs,
)
from ecglab.bench.engine.regression_results import write_regression
from ecglab.bench.engine.subgroup_results import write_subgroups
from ecglab.bench.model import LabModel
from ecglab.bench.regression import CLASSIFICATION, ValuePredictions, value_predictions
from ecglab.bench.resample_file import ResampleAurocs, digest_of_test_set, write_resample_file
from ecglab.bench.run_folder import write_parquet
from ecglab.cohort.store import Cohort
from ecglab.progress import progress_bar
from ecglab.tasks.build import TaskData, task_folder

RESAMPLE_SEED = 0  # the test set's bootstrap resamples are the task's, not the run's: one seed for all
Pool = tuple[np.ndarray, np.ndarray, np.ndarray]  # anchor rows, their sums of probabilities, their counts


def local_pool(
    model: LabModel, batches: EvalBatches, n_rows: int, where: Distributed, workers: int, progress: str = ""
) -> Pool:
    """This rank's part of the pooling: for the anchor rows its inputs belong to, the sum of the model's
    probabilities over those inputs and their count. ``progress``: the bar's label (none when empty)."""
    model.eval()
    regression = isinstance(model, LabModel) and model.objective != CLASSIFICATION
    sums = np.zeros((n_rows, pool_width_of(model)))
    counts = np.zeros(n_rows)
    bar = progress_bar(
        loader(batches, workers),
        total=len(batches),
        desc=progress,
        unit="batch",
        enabled=bool(progress) and where.main,
        leave=False,
    )
    with torch.no_grad():
        for batch in bar:
            tabular = batch.get("tabular")
            logits = model(batch["x"].to(where.device), None if tabular is None else tabular.to(where.device))
            rows = batch["row"].numpy()
            pooled = model.pool_outputs(logits.float()) if regression else torch.sigmoid(logits.float())
            np.add.at(sums, rows, pooled.cpu().numpy())
            np.add.at(counts, rows, 1)
    touched = np.flatnonzero(counts)
    return touched, sums[touched], counts[touched]


def pooled_scores(parts: list[Pool], n_rows: int, n_targets: int) -> np.ndarray:
    """Mean probability per anchor row from the ranks' parts, added in rank order; rows never scored: NaN.
    One part (a single process) gives exactly the unsharded pooling."""
    sums = np.zeros((n_rows, n_targets))
    counts = np.zeros(n_rows)
    for rows, part_sums, part_counts in parts:
        sums[rows] += part_sums
        counts[rows] += part_counts
    with np.errstate(invalid="ignore"):
        return sums / counts[:, None]


def pool_width_of(model: torch.nn.Module) -> int:
    """Columns pooled per anchor: a LabModel's (probabilities or regression moments), else its head's."""
    return model.pool_width if isinstance(model, LabModel) else int(model.head.out_features)


def predict_pooled(
    model: LabModel, batches: EvalBatches, n_rows: int, where: Distributed, workers: int, progress: str = ""
) -> np.ndarray | None:
    """The pooled columns per anchor row (mean over its scored inputs: probabilities, or a regression
    head's moments), on rank 0 (None on the other ranks); rows never scored: NaN."""
    sync_buffers(model, where)
    parts = gather_to_main(local_pool(model, batches, n_rows, where, workers, progress), where)
    return None if parts is None else pooled_scores(parts, n_rows, pool_width_of(model))


def predict(
    model: LabModel, batches: EvalBatches, n_rows: int, where: Distributed, workers: int, progress: str = ""
) -> np.ndarray | None:
    """Mean probability per anchor row over its scored inputs (the task's pooling), or for a regression
    model P(abnormal) under its pooled prediction, on rank 0 (None on the other ranks); rows never scored:
    NaN. Every rank calls it with its own shard of the inputs."""
    pooled = predict_pooled(model, batches, n_rows, where, workers, progress)
    if pooled is None or model.objective == CLASSIFICATION:
        return pooled
    return value_predictions(pooled, model.objective, model.scaling).scores()


def macro_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean AUROC over the targets with both classes observed (NaN when none has)."""
    values = []
    for j in range(labels.shape[1]):
        observed = labels[:, j] != -1
        y = labels[observed, j]
        if 0 < y.sum() < len(y):
            values.append(metrics.auroc(y, scores[observed, j]))
    return float(np.mean(values)) if values else float("nan")


def model_predictions(
    model: LabModel,
    cohort: Cohort,
    task: TaskData,
    config: RunConfig,
    where: Distributed,
    progress: bool = False,
) -> tuple[np.ndarray, ValuePredictions | None] | None:
    """The model's scores for every anchor row of the evaluated splits (NaN elsewhere) and, for a regression
    model, its predicted values, on rank 0 (None on the other ranks, which score their shards); every rank
    calls it. ``progress``: a bar per split."""
    columns = np.full((len(task.anchors), pool_width_of(model)), np.nan)
    plan = model_input_plan(config, cohort, task)
    tabular = tabular_inputs(task, config)
    for split in evaluated_splits(config):
        batches = EvalBatches(
            cohort.path, plan, task, split, config.batch_size, tabular, where.rank, where.world
        )
        rows = split_rows(task, split)
        label = f"scoring {split}" if progress else ""
        pooled = predict_pooled(model, batches, len(task.anchors), where, config.workers, label)
        if pooled is not None:
            columns[rows] = pooled[rows]
    if not where.main:
        return None
    if model.objective == CLASSIFICATION:
        return columns, None
    values = value_predictions(columns, model.objective, model.scaling)
    return values.scores(), values


def model_scores(
    model: LabModel,
    cohort: Cohort,
    task: TaskData,
    config: RunConfig,
    where: Distributed,
    progress: bool = False,
) -> np.ndarray | None:
    """The scores of :func:`model_predictions` (rank 0; None on the other ranks)."""
    predictions = model_predictions(model, cohort, task, config, where, progress)
    return None if predictions is None else predictions[0]


def bootstrap_file(task: TaskData, cohort: Cohort, runs_dir: Path, config: RunConfig) -> Path:
    """Where the test set's bootstrap resamples (a resamples x test anchors count matrix) are stored: one
    file per task test set and resample count, drawn with ``RESAMPLE_SEED`` whatever the run's seed, so that
    every run of the task, of every backbone and seed, is scored on the same resamples."""
    folder = task_folder(Path(runs_dir) / "tasks", task.spec, cohort)
    return folder / f"bootstrap_test_seed{RESAMPLE_SEED}_n{config.n_boot}.npy"


def stored_resamples(
    task: TaskData, cohort: Cohort, runs_dir: Path, config: RunConfig, rows: np.ndarray
) -> np.ndarray:
    """Bootstrap resamples of the test anchors, by patient, drawn once per task test set and seed and stored
    with the task, so every backbone is scored on the same resamples (paired comparisons)."""
    path = bootstrap_file(task, cohort, runs_dir, config)
    folder = path.parent
    if path.is_file():
        return np.load(path)
    groups = task.anchors["patient_id"].to_numpy(dtype=object)[rows]
    counts = metrics.bootstrap_resamples(len(rows), n_boot=config.n_boot, seed=RESAMPLE_SEED, groups=groups)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, counts)
    os.replace(tmp, path)
    return counts


def result_rows(
    task: TaskData, scores: np.ndarray, config: RunConfig, identifier: str, ci: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per (target, split) with floats: AUROC with bootstrap (by patient; ``ci`` from
    ``metrics.auroc_ci_and_resamples`` on the test rows, None when the test split is not evaluated), the
    clustered DeLong interval by patient (Obuchowski 1997) with the patients counted (``n_patients``,
    ``n_pos_patients``: with an observed / a positive test anchor), DeLong's independent-rows interval only
    where every patient holds one observed test anchor (else NaN), AUPRC, and threshold metrics at the
    threshold chosen on validation."""
    val, test = split_rows(task, "val"), split_rows(task, "test")
    rows = []
    splits = [("val", val), ("test", test)] if ci is not None else [("val", val)]
    if ci is not None:
        delong = metrics.delong_matrix(task.labels[test], scores[test])
        patients = task.anchors["patient_id"].to_numpy(dtype=object)[test]
        clustered = metrics.clustered_matrix(task.labels[test], scores[test], patients)
        independent = clustered["one_per_patient"].to_numpy()
    for j, target in enumerate(task.kept_targets):
        threshold = chosen_threshold(task.labels[val, j], scores[val, j], config)
        for split, rows_of_split in splits:
            y, s = task.labels[rows_of_split, j], scores[rows_of_split, j]
            observed = (y != -1) & np.isfinite(s)
            y, s = y[observed], s[observed]
            both = 0 < y.sum() < len(y)
            row = {
                "run_id": identifier,
                "target": target,
                "split": split,
                "n": len(y),
                "n_pos": int(y.sum()),
                "auroc": metrics.auroc(y, s) if both else np.nan,
                "auprc": metrics.auprc(y, s) if both else np.nan,
                "threshold": threshold,
            }
            if split == "test":
                row.update(
                    auroc_low=float(ci.loc[j, "low"]),
                    auroc_high=float(ci.loc[j, "high"]),
                    n_boot_used=int(ci.loc[j, "n_boot_used"]),
                    clustered_low=float(clustered.loc[j, "low"]),
                    clustered_high=float(clustered.loc[j, "high"]),
                    n_patients=int(clustered.loc[j, "n_patients"]),
                    n_pos_patients=int(clustered.loc[j, "n_pos_patients"]),
                    delong_low=float(delong.loc[j, "low"]) if independent[j] else np.nan,
                    delong_high=float(delong.loc[j, "high"]) if independent[j] else np.nan,
                )
            row.update(
                metrics.confusion_metrics(y, s, threshold) if len(y) and np.isfinite(threshold) else {}
            )
            rows.append(row)
    return pd.DataFrame(rows)


def chosen_threshold(y: np.ndarray, s: np.ndarray, config: RunConfig) -> float:
    """The decision threshold of one target, chosen on validation rows as the configuration says."""
    observed = (y != -1) & np.isfinite(s)
    y, s = y[observed], s[observed]
    if not 0 < y.sum() < len(y):
        return float("nan")
    if config.threshold == "youden":
        return float(metrics.threshold_youden(y, s))
    return float(metrics.threshold_at_sensitivity(y, s, config.target_sensitivity))


def prediction_table(
    task: TaskData, scores: np.ndarray, splits: tuple[str, ...] = ("val", "test")
) -> pd.DataFrame:
    """One row per (anchor, target) of ``splits``: anchor, patient, split, target, label and score."""
    rows, ids = anchor_target_rows(task, splits)
    return pd.DataFrame(
        {
            **ids,
            "label": task.labels[rows].reshape(-1),
            "score": scores[rows].reshape(-1),
        }
    )


def write_results(
    task: TaskData,
    cohort: Cohort,
    scores: np.ndarray,
    config: RunConfig,
    identifier: str,
    runs_dir: Path,
    run_dir: Path,
    values: ValuePredictions | None = None,
) -> None:
    """``results.parquet``, ``predictions.parquet`` and, when the test split is evaluated,
    ``test_resamples.npz`` of the run folder (the test rows scored on the stored resamples, once: the
    intervals and the per-resample AUROCs a leaderboard reads come from the same pass); with a regression
    model's ``values``, ``regression.parquet`` and ``regression_thresholds.parquet``."""
    ci = None
    if config.evaluate_test:
        test = split_rows(task, "test")
        counts = stored_resamples(task, cohort, runs_dir, config, test)
        ci, resampled = metrics.auroc_ci_and_resamples(task.labels[test], scores[test], counts)
    write_parquet(run_dir / "results.parquet", result_rows(task, scores, config, identifier, ci))
    write_parquet(run_dir / "predictions.parquet", prediction_table(task, scores, evaluated_splits(config)))
    write_calibration(task, scores, config, run_dir)
    if values is not None:
        write_regression(task, cohort, values, config, run_dir)
    if config.evaluate_test:
        write_subgroups(task, cohort, scores, config, run_dir)
    if config.evaluate_test:
        bootstrap = str(bootstrap_file(task, cohort, runs_dir, config).relative_to(runs_dir))
        labels = task.labels[test]
        stored = ResampleAurocs(
            aurocs=resampled,
            bootstrap_file=bootstrap,
            n_boot=config.n_boot,
            seed=RESAMPLE_SEED,
            test_digest=digest_of_test_set(task.anchors["anchor_id"].to_numpy()[test], labels),
            n_anchors=len(test),
            targets=tuple(task.kept_targets),
        )
        write_resample_file(run_dir, stored)  # read by leaderboards instead of recomputing the bootstrap

"""Train and evaluate one (backbone, task) pairing; write the run folder; then track it in MLflow.

The run folder (``RUNS/<run id>/``) is the data of record: ``run.json`` (configuration, status, timings,
provenance), ``history.jsonl`` (per epoch), ``results.parquet`` (one row per target and split),
``predictions.parquet`` (anchor, patient, split, target, label, score), ``best.pt`` and ``last.pt``.
Each file is written atomically; ``last.pt`` after every epoch lets ``resume`` continue an interrupted run
exactly (data order and dropout are seeded by seed and epoch). Under ``torchrun`` the same command trains
with DistributedDataParallel; rank 0 evaluates and writes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from tqdm import tqdm

from ecglab.backbones.info import BackboneInfo
from ecglab.backbones.registry import create_backbone, get_backbone_info
from ecglab.bench import metrics
from ecglab.bench.config import RunConfig, run_id
from ecglab.bench.data import EvalBatches, TrainBatches, input_plan, loader
from ecglab.bench.losses import masked_bce, masked_focal
from ecglab.bench.model import LabModel, optimizer_groups, set_backbone_trainable
from ecglab.bench.run_folder import provenance, write_json, write_parquet
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.errors import EcglabError
from ecglab.tasks.build import TaskData, build_task, task_folder
from ecglab.tasks.registry import get_task, register_spec_file


class RunError(EcglabError):
    """A pairing cannot run as configured (lead mismatch, a task without tabular inputs, ...)."""


class PrunedRun(Exception):
    """Raised by an epoch callback (e.g. an Optuna pruner) to stop a run early; the run is marked pruned."""


EpochCallback = Callable[[int, float], None]


def evaluated_splits(config: RunConfig) -> tuple[str, ...]:
    return ("val", "test") if config.evaluate_test else ("val",)


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def _distributed() -> Distributed:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return Distributed(rank=dist.get_rank(), world=world, device=device)


# ----------------------------------------------------------------------------------------------- setup
def prepare(config: RunConfig, runs_dir: Path, where: Distributed) -> tuple[Cohort, TaskData, str]:
    for file in config.task_specs:
        register_spec_file(file)
    spec = get_task(config.task)
    cohort = open_cohort(config.cohort)
    cache = Path(runs_dir) / "tasks"
    if where.main:
        task = build_task(spec, cohort, cache_dir=cache)
    where.barrier()
    if not where.main:
        task = TaskData.load(task_folder(cache, spec, cohort))
    return cohort, task, run_id(config, spec.version, spec.digest(), cohort.content_hash)


def _backbone_options(config: RunConfig, info: BackboneInfo, task: TaskData) -> dict[str, Any]:
    options = dict(config.backbone_options)
    leads = tuple(task.spec.input.leads)
    if info.input.leads is None:
        options.setdefault("in_channels", len(leads))
    elif tuple(info.input.leads) != leads and not config.allow_lead_mismatch:
        raise RunError(f"{info.name} expects leads {info.input.leads}, task {task.spec.name} gives {leads}")
    if config.checkpoint:
        options["checkpoint"] = config.checkpoint
    if info.expected_leads and config.checkpoint:
        expected = tuple(info.resolve(info.expected_leads)(options["in_channels"]))
        if expected != leads and not config.allow_lead_mismatch:
            raise RunError(
                f"the {info.name} weights were trained on leads {list(expected)}; task {task.spec.name} has "
                f"{list(leads)}. Feeding other leads is a real choice to ablate: pass --allow-lead-mismatch"
            )
    return options


def _split_rows(task: TaskData, split: str) -> np.ndarray:
    return np.flatnonzero((task.anchors["split"] == split).to_numpy())


def _tabular(task: TaskData, config: RunConfig) -> np.ndarray | None:
    if not config.fusion:
        return None
    if task.tabular is None:
        raise RunError(f"fusion needs tabular side inputs; task {task.spec.name} has none (tabular: false)")
    return task.tabular.drop(columns="anchor_id").to_numpy(np.float32)


# ----------------------------------------------------------------------------------------- evaluation
def predict(
    model: LabModel, batches: EvalBatches, n_rows: int, where: Distributed, workers: int
) -> np.ndarray:
    """Mean probability per anchor row over its scored inputs (the task's pooling); rows never scored: NaN."""
    model.eval()
    sums = np.zeros((n_rows, model.head.out_features))
    counts = np.zeros(n_rows)
    with torch.no_grad():
        for batch in loader(batches, workers):
            tabular = batch.get("tabular")
            logits = model(batch["x"].to(where.device), None if tabular is None else tabular.to(where.device))
            rows = batch["row"].numpy()
            np.add.at(sums, rows, torch.sigmoid(logits.float()).cpu().numpy())
            np.add.at(counts, rows, 1)
    with np.errstate(invalid="ignore"):
        return sums / counts[:, None]


def macro_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    values = []
    for j in range(labels.shape[1]):
        observed = labels[:, j] != -1
        y = labels[observed, j]
        if 0 < y.sum() < len(y):
            values.append(metrics.auroc(y, scores[observed, j]))
    return float(np.mean(values)) if values else float("nan")


# ------------------------------------------------------------------------------------------- training
def _save(state: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _scheduler(config: RunConfig, optimizer: torch.optim.Optimizer) -> Any:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1, patience=2)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def _autocast(config: RunConfig, device: torch.device) -> torch.autocast:
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def train(
    config: RunConfig,
    cohort: Cohort,
    task: TaskData,
    run_dir: Path,
    where: Distributed,
    resume: bool,
    progress: bool,
    epoch_callback: EpochCallback | None = None,
) -> tuple[LabModel, list[dict[str, Any]], int]:
    info = get_backbone_info(config.backbone)
    tabular = _tabular(task, config)
    torch.manual_seed(config.seed)
    backbone = create_backbone(config.backbone, config.preset, **_backbone_options(config, info, task))
    model = LabModel(backbone, len(task.kept_targets), 0 if tabular is None else tabular.shape[1]).to(
        where.device
    )
    optimizer = torch.optim.AdamW(optimizer_groups(model, config.lr, config.weight_decay))
    scheduler = _scheduler(config, optimizer)
    history: list[dict[str, Any]] = []
    best = {"epoch": -1, "score": -np.inf}
    start_epoch = 0
    last = run_dir / "last.pt"
    if resume and last.is_file():
        state = torch.load(last, map_location=where.device, weights_only=True)
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
    wrapped = (
        torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        if where.world > 1
        else model
    )
    plan = input_plan(
        task, float(cohort.segments["fs"].iloc[0]), get_backbone_info(config.backbone).input.normalisation
    )
    train_rows, val_rows = _split_rows(task, "train"), _split_rows(task, "val")
    batches = TrainBatches(
        cohort.path, plan, task, train_rows, config.batch_size, config.seed, tabular, where.rank, where.world
    )
    val_batches = EvalBatches(cohort.path, plan, task, "val", config.batch_size, tabular)
    loss_fn = (
        functools.partial(masked_focal, gamma=config.focal_gamma) if config.loss == "focal" else masked_bce
    )
    stale = _epochs_since_best(history, best) if history else 0
    for epoch in range(start_epoch, config.epochs):
        if stale >= config.patience:
            break
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout and augmentation: reproducible on resume
        set_backbone_trainable(
            model, config.fine_tune, epoch, config.probe_epochs, config.frozen_stages, info.layout
        )
        batches.set_epoch(epoch)
        wrapped.train()
        started, total, seen = time.perf_counter(), 0.0, 0
        bar = tqdm(
            loader(batches, config.workers),
            total=len(batches),
            disable=not (progress and where.main),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="batch",
        )
        for batch in bar:
            with _autocast(config, where.device):
                tab = batch.get("tabular")
                logits = wrapped(batch["x"].to(where.device), None if tab is None else tab.to(where.device))
            loss = loss_fn(logits.float(), batch["y"].to(where.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(batch["y"])
            seen += len(batch["y"])
            bar.set_postfix(
                loss=f"{total / seen:.4f}", rate=f"{seen / (time.perf_counter() - started):.0f}/s"
            )
        score = float("nan")
        if where.main:
            val_scores = predict(model, val_batches, len(task.anchors), where, config.workers)
            score = macro_auroc(task.labels[val_rows], val_scores[val_rows])
        score = _broadcast(score, where)
        if epoch_callback is not None:
            epoch_callback(epoch, score)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(score) if config.schedule == "plateau" else scheduler.step()
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / max(seen, 1),
                "val_macro_auroc": score,
                "lr": lr,
                "seconds": time.perf_counter() - started,
            }
        )
        improved = np.isfinite(score) and score > best["score"]
        if improved:
            best = {"epoch": epoch, "score": score}
        stale = _epochs_since_best(history, best)
        if where.main:
            if improved or best["epoch"] < 0:
                _save({"model": model.state_dict(), "epoch": epoch}, run_dir / "best.pt")
            _save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch,
                    "history": history,
                    "best": best,
                },
                last,
            )
        where.barrier()
    state = torch.load(run_dir / "best.pt", map_location=where.device, weights_only=True)
    model.load_state_dict(state["model"], strict=True)
    return model, history, int(state["epoch"])


def _epochs_since_best(history: list[dict[str, Any]], best: dict[str, Any]) -> int:
    return len(history) if best["epoch"] < 0 else history[-1]["epoch"] - best["epoch"]


def _broadcast(value: float, where: Distributed) -> float:
    if where.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return float(box[0])


# --------------------------------------------------------------------------------------------- results
def bootstrap_file(task: TaskData, cohort: Cohort, runs_dir: Path, config: RunConfig) -> Path:
    """Where the test set's bootstrap resamples (a resamples x test anchors count matrix) are stored."""
    folder = task_folder(Path(runs_dir) / "tasks", task.spec, cohort)
    return folder / f"bootstrap_test_seed{config.seed}_n{config.n_boot}.npy"


def _resamples(
    task: TaskData, cohort: Cohort, runs_dir: Path, config: RunConfig, rows: np.ndarray
) -> np.ndarray:
    """Bootstrap resamples of the test anchors, by patient, drawn once per task test set and seed and stored
    with the task, so every backbone is scored on the same resamples (paired comparisons)."""
    path = bootstrap_file(task, cohort, runs_dir, config)
    folder = path.parent
    if path.is_file():
        return np.load(path)
    groups = task.anchors["patient_id"].to_numpy(dtype=object)[rows]
    counts = metrics.bootstrap_resamples(len(rows), n_boot=config.n_boot, seed=config.seed, groups=groups)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, counts)
    os.replace(tmp, path)
    return counts


def result_rows(
    task: TaskData, scores: np.ndarray, config: RunConfig, identifier: str, counts: np.ndarray | None
) -> pd.DataFrame:
    """One row per (target, split) with floats: AUROC with bootstrap (by patient) and DeLong intervals,
    AUPRC, and threshold metrics at the threshold chosen on validation."""
    val, test = _split_rows(task, "val"), _split_rows(task, "test")
    rows = []
    splits = [("val", val), ("test", test)] if counts is not None else [("val", val)]
    if counts is not None:
        ci = metrics.auroc_ci_matrix(task.labels[test], scores[test], counts)
        delong = metrics.delong_matrix(task.labels[test], scores[test])
    for j, target in enumerate(task.kept_targets):
        threshold = _threshold(task.labels[val, j], scores[val, j], config)
        for split, split_rows in splits:
            y, s = task.labels[split_rows, j], scores[split_rows, j]
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
                    delong_low=float(delong.loc[j, "low"]),
                    delong_high=float(delong.loc[j, "high"]),
                )
            row.update(
                metrics.confusion_metrics(y, s, threshold) if len(y) and np.isfinite(threshold) else {}
            )
            rows.append(row)
    return pd.DataFrame(rows)


def _threshold(y: np.ndarray, s: np.ndarray, config: RunConfig) -> float:
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
    rows = np.flatnonzero(task.anchors["split"].isin(list(splits)).to_numpy())
    k = len(task.kept_targets)
    return pd.DataFrame(
        {
            "anchor_id": np.repeat(task.anchors["anchor_id"].to_numpy()[rows], k),
            "patient_id": np.repeat(task.anchors["patient_id"].to_numpy(dtype=object)[rows], k),
            "split": np.repeat(task.anchors["split"].to_numpy(dtype=object)[rows], k),
            "target": np.tile(np.asarray(task.kept_targets, dtype=object), len(rows)),
            "label": task.labels[rows].reshape(-1),
            "score": scores[rows].reshape(-1),
        }
    )


# ------------------------------------------------------------------------------------------- baselines
def _baseline_scores(config: RunConfig, cohort: Cohort, task: TaskData) -> np.ndarray:
    """Scores of a scikit-learn baseline for every anchor row (NaN outside val/test)."""
    built = create_backbone(config.backbone, config.preset, **config.backbone_options)
    train_rows = _split_rows(task, "train")
    scores = np.full((len(task.anchors), len(task.kept_targets)), np.nan)
    if get_backbone_info(config.backbone).baseline_input == "tabular":
        if task.tabular is None:
            raise RunError(f"the tabular baseline needs side inputs; task {task.spec.name} has none")
        features = task.tabular.drop(columns="anchor_id").to_numpy(np.float64)
        built.fit(features[train_rows], task.labels[train_rows])
        evaluated = np.flatnonzero(task.anchors["split"].isin(list(evaluated_splits(config))).to_numpy())
        scores[evaluated] = built.predict_proba(features[evaluated])
        return scores
    extractor, classifier = built
    position = {a: i for i, a in enumerate(task.anchors["anchor_id"].to_numpy())}
    pairs = task.inputs[task.inputs["anchor_id"].isin(task.anchors["anchor_id"].to_numpy()[train_rows])]
    rng = np.random.default_rng(config.seed)
    pairs = pairs.assign(_key=rng.random(len(pairs))).sort_values(["anchor_id", "_key"])
    pairs = pairs[pairs.groupby("anchor_id").cumcount() < 4]  # up to 4 segments per training anchor
    rows = pairs["anchor_id"].map(position).to_numpy()
    classifier.fit(_segment_features(cohort, extractor, pairs["segment_id"].to_numpy()), task.labels[rows])
    for split in evaluated_splits(config):
        pairs = task.eval_inputs(split)
        rows = pairs["anchor_id"].map(position).to_numpy()
        proba = classifier.predict_proba(_segment_features(cohort, extractor, pairs["segment_id"].to_numpy()))
        sums = np.zeros_like(scores)
        counts = np.zeros(len(scores))
        np.add.at(sums, rows, proba)
        np.add.at(counts, rows, 1)
        scored = counts > 0
        scores[scored] = sums[scored] / counts[scored, None]
    return scores


def _segment_features(
    cohort: Cohort, extractor: Any, segment_ids: np.ndarray, chunk: int = 512
) -> np.ndarray:
    parts = []
    for start in range(0, len(segment_ids), chunk):
        ids = segment_ids[start : start + chunk]
        parts.append(extractor(cohort.waveforms(ids, leads=[extractor.lead]), [extractor.lead]))
    return np.concatenate(parts) if parts else np.zeros((0, len(extractor.names)))


# ----------------------------------------------------------------------------------------------- a run
def run_pairing(
    config: RunConfig,
    runs_dir: str | Path = "runs",
    *,
    tracking_uri: str | None = None,
    experiment: str = "ecglab",
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    track: bool = True,
    epoch_callback: EpochCallback | None = None,
    tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
) -> Path:
    """Train (or fit) and evaluate one pairing; returns its run folder. A finished run is not redone unless
    ``force``; an interrupted one continues with ``resume``."""
    runs_dir = Path(runs_dir)
    where = _distributed()
    cohort, task, identifier = prepare(config, runs_dir, where)
    run_dir = runs_dir / identifier[:16]
    record_path = run_dir / "run.json"
    if record_path.is_file() and not force:
        record = json.loads(record_path.read_text())
        if record["status"] == "finished":
            if where.main and progress:
                print(f"{config.backbone} x {config.task}: finished earlier ({run_dir}); --force reruns it")
            return run_dir
    if (run_dir / "last.pt").is_file() and not resume and not force:
        raise RunError(
            f"{run_dir} holds an interrupted run: pass --resume to continue it or --force to restart"
        )
    if force and where.main and run_dir.exists():
        shutil.rmtree(run_dir)
    where.barrier()
    info = get_backbone_info(config.backbone)
    record = {
        "run_id": identifier,
        "status": "running",
        "config": config.to_dict(),
        "task": {
            "name": task.spec.name,
            "version": task.spec.version,
            "digest": task.spec.digest(),
            "training_digest": task.spec.training_digest(),
            "targets": task.kept_targets,
        },
        "cohort": {"name": cohort.name, "hash": cohort.content_hash},
        "backbone": {"name": info.name, "kind": info.kind, "preset": config.preset},
        "provenance": dataclasses.asdict(provenance(str(where.device))),
    }
    if where.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(record_path, record)
    started = time.perf_counter()
    try:
        if info.kind == "baseline":
            scores, history, best_epoch = _baseline_scores(config, cohort, task), [], 0
        else:
            model, history, best_epoch = train(
                config, cohort, task, run_dir, where, resume, progress, epoch_callback
            )
            scores = _model_scores(model, cohort, task, config, where) if where.main else None
        trained = time.perf_counter()
        if where.main:
            _write_results(task, cohort, scores, config, identifier, runs_dir, run_dir)
            (run_dir / "history.jsonl.tmp").write_text("".join(json.dumps(h) + "\n" for h in history))
            os.replace(run_dir / "history.jsonl.tmp", run_dir / "history.jsonl")
            if config.evaluate_test:
                resamples = bootstrap_file(task, cohort, runs_dir, config)
                record["bootstrap"] = {
                    "file": str(resamples.relative_to(runs_dir)),
                    "n_boot": config.n_boot,
                    "seed": config.seed,
                    "rows": "test anchors in task order",
                }
            record.update(
                status="finished",
                best_epoch=best_epoch,
                n_targets=len(task.kept_targets),
                timings={"train_s": trained - started, "eval_s": time.perf_counter() - trained},
            )
            write_json(record_path, record)
    except BaseException as err:
        if where.main:
            status = "pruned" if isinstance(err, PrunedRun) else "failed"
            record.update(status=status, error=f"{type(err).__name__}: {err}")
            write_json(record_path, record)
        raise
    where.barrier()
    if track and where.main:
        from ecglab.bench.tracking import ensure_experiment, log_run, resolve_tracking_uri

        uri = resolve_tracking_uri(tracking_uri)
        ensure_experiment(uri, experiment)
        log_run(run_dir, uri, experiment, parent_run_id=parent_run_id, tags=tags)
    return run_dir


def _model_scores(
    model: LabModel, cohort: Cohort, task: TaskData, config: RunConfig, where: Distributed
) -> np.ndarray:
    scores = np.full((len(task.anchors), len(task.kept_targets)), np.nan)
    plan = input_plan(
        task, float(cohort.segments["fs"].iloc[0]), get_backbone_info(config.backbone).input.normalisation
    )
    tabular = _tabular(task, config)
    for split in evaluated_splits(config):
        batches = EvalBatches(cohort.path, plan, task, split, config.batch_size, tabular)
        rows = _split_rows(task, split)
        scores[rows] = predict(model, batches, len(task.anchors), where, config.workers)[rows]
    return scores


def _write_results(
    task: TaskData,
    cohort: Cohort,
    scores: np.ndarray,
    config: RunConfig,
    identifier: str,
    runs_dir: Path,
    run_dir: Path,
) -> None:
    counts = (
        _resamples(task, cohort, runs_dir, config, _split_rows(task, "test"))
        if config.evaluate_test
        else None
    )
    write_parquet(run_dir / "results.parquet", result_rows(task, scores, config, identifier, counts))
    write_parquet(run_dir / "predictions.parquet", prediction_table(task, scores, evaluated_splits(config)))


def evaluate_run(run_dir: str | Path, runs_dir: str | Path | None = None) -> Path:
    """Re-evaluate a finished run from its best checkpoint (or refit a baseline) and rewrite its results."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    config = RunConfig(**{**record["config"], "task_specs": tuple(record["config"]["task_specs"])})
    runs_dir = Path(runs_dir) if runs_dir is not None else run_dir.parent
    where = Distributed(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    cohort, task, identifier = prepare(config, runs_dir, where)
    if identifier != record["run_id"]:
        raise RunError(f"{run_dir}: the cohort or task changed since this run (run id {identifier[:16]} now)")
    info = get_backbone_info(config.backbone)
    if info.kind == "baseline":
        scores = _baseline_scores(config, cohort, task)
    else:
        tabular = _tabular(task, config)
        backbone = create_backbone(config.backbone, config.preset, **_backbone_options(config, info, task))
        model = LabModel(backbone, len(task.kept_targets), 0 if tabular is None else tabular.shape[1])
        state = torch.load(run_dir / "best.pt", map_location=where.device, weights_only=True)
        model.load_state_dict(state["model"], strict=True)
        scores = _model_scores(model.to(where.device), cohort, task, config, where)
    _write_results(task, cohort, scores, config, identifier, runs_dir, run_dir)
    return run_dir

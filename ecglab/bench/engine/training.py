"""Training one pairing epoch by epoch: the optimizer and schedule, mixed precision, early stopping on the
validation macro AUROC, and the ``best.pt`` and ``last.pt`` checkpoints that let ``resume`` continue an
interrupted run exactly (data order and dropout are seeded by seed and epoch).

The validation score of each epoch (early stopping, the best epoch and so ``best.pt``, epoch callbacks such
as pruners, ``val_macro_auroc`` in the history) is computed on the task's ``train.val_segments`` subset of
the validation inputs when it sets one (the same subset, seeded by the run's seed, every epoch); the final
scoring of the best checkpoint (:func:`ecglab.bench.engine.evaluate.model_scores`) uses every input."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglab.backbones.registry import get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.data import EvalBatches, InputPlan, TrainBatches, loader
from ecglab.bench.engine.distributed import Distributed, all_reduce_sum, broadcast
from ecglab.bench.engine.evaluate import macro_auroc, predict
from ecglab.bench.engine.prepare import build_model, model_input_plan, split_rows, tabular_inputs
from ecglab.bench.losses import REGRESSION_LOSSES, masked_bce, masked_focal, observed_counts
from ecglab.bench.model import LabModel, optimizer_groups, set_backbone_trainable
from ecglab.cohort.store import Cohort
from ecglab.progress import progress_bar, write
from ecglab.tasks.build import TaskData


class PrunedRun(Exception):
    """Raised by an epoch callback (e.g. an Optuna pruner) to stop a run early; the run is marked pruned."""


EpochCallback = Callable[[int, float], None]


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary name, renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def make_scheduler(config: RunConfig, optimizer: torch.optim.Optimizer) -> Any:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1, patience=2)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def autocast(config: RunConfig, device: torch.device) -> torch.autocast:
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def loss_function(config: RunConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss of the configuration: of the labels (``loss``), or of the values (a regression ``objective``,
    whose batches carry them as ``v``)."""
    if config.objective in REGRESSION_LOSSES:
        return REGRESSION_LOSSES[config.objective]
    if config.loss == "focal":
        return functools.partial(masked_focal, gamma=config.focal_gamma)
    return masked_bce


@dataclass
class Fit:
    """What a run trains and checkpoints: model, optimizer, schedule, the history and the best epoch."""

    model: LabModel
    optimizer: torch.optim.Optimizer
    scheduler: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": -1, "score": -np.inf})
    start_epoch: int = 0

    def restore(self, path: Path, device: torch.device) -> None:
        """Continue from ``last.pt``."""
        state = torch.load(path, map_location=device, weights_only=True)
        self.model.load_state_dict(state["model"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history, self.best, self.start_epoch = state["history"], state["best"], state["epoch"] + 1

    def epochs_since_best(self) -> int:
        if self.best["epoch"] < 0:
            return len(self.history)
        return self.history[-1]["epoch"] - self.best["epoch"]

    def end_epoch(
        self, config: RunConfig, epoch: int, train_loss: float, score: float, started: float
    ) -> bool:
        """Step the schedule, append the epoch to the history; whether the validation score improved."""
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step(score) if config.schedule == "plateau" else self.scheduler.step()
        self.history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_macro_auroc": score,
                "lr": lr,
                "seconds": time.perf_counter() - started,
            }
        )
        improved = bool(np.isfinite(score) and score > self.best["score"])
        if improved:
            self.best = {"epoch": epoch, "score": score}
        return improved

    def checkpoint(self, epoch: int, run_dir: Path, improved: bool) -> None:
        """``best.pt`` when the epoch improved (or none is best yet), and ``last.pt`` every epoch."""
        if improved or self.best["epoch"] < 0:
            save_checkpoint({"model": self.model.state_dict(), "epoch": epoch}, run_dir / "best.pt")
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch,
            "history": self.history,
            "best": self.best,
        }
        save_checkpoint(state, run_dir / "last.pt")


def write_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """``history.jsonl`` replaced atomically with ``history`` (one JSON line per epoch)."""
    tmp = run_dir / "history.jsonl.tmp"
    tmp.write_text("".join(json.dumps(entry) + "\n" for entry in history))
    os.replace(tmp, run_dir / "history.jsonl")


def append_history(run_dir: Path, entry: dict[str, Any]) -> None:
    """One epoch's line appended to ``history.jsonl`` as soon as it ends (``last.pt`` holds the same)."""
    with open(run_dir / "history.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def report_epoch(entry: dict[str, Any], epochs: int, improved: bool) -> None:
    """The epoch's line (under the progress bars on a terminal; the epoch's only line in a log): training loss
    and validation macro AUROC."""
    best = "  (best so far)" if improved else ""
    write(
        f"epoch {entry['epoch'] + 1}/{epochs}: train loss {entry['train_loss']:.4f}, "
        f"val macro AUROC {entry['val_macro_auroc']:.3f}, {entry['seconds']:.1f} s{best}"
    )


def new_fit(config: RunConfig, task: TaskData, tabular: np.ndarray | None, where: Distributed) -> Fit:
    """A freshly initialised model (seeded by the run's seed) with its AdamW optimizer and schedule."""
    torch.manual_seed(config.seed)
    model = build_model(config, task, tabular).to(where.device)
    optimizer = torch.optim.AdamW(optimizer_groups(model, config.lr, config.weight_decay))
    return Fit(model, optimizer, make_scheduler(config, optimizer))


def train_epoch(
    wrapped: torch.nn.Module,
    fit: Fit,
    batches: TrainBatches,
    config: RunConfig,
    where: Distributed,
    progress: bool,
    started: float,
) -> float:
    """One pass over this epoch's training batches; the mean training loss per input (anchor or pair)."""
    loss_fn = loss_function(config)
    total, seen = 0.0, 0
    bar = progress_bar(
        loader(batches, config.workers),
        total=len(batches),
        enabled=progress and where.main,
        desc=f"epoch {batches.epoch + 1}/{config.epochs}",
        unit="batch",
        line=False,  # off a terminal the epoch's one line is report_epoch's
    )
    for batch in bar:
        with autocast(config, where.device):
            tab = batch.get("tabular")
            logits = wrapped(batch["x"].to(where.device), None if tab is None else tab.to(where.device))
        labels = batch["v" if "v" in batch else "y"].to(where.device)  # the values of a regression objective
        fit.optimizer.zero_grad(set_to_none=True)
        if where.world > 1:
            # normalised by the global batch's observed counts: DDP's average of the ranks' gradients is
            # then the gradient of the global batch's loss, as one process with the global batch computes it
            counts = all_reduce_sum(observed_counts(labels), where)
            loss = loss_fn(logits.float(), labels, counts=counts) * where.world
        else:
            loss = loss_fn(logits.float(), labels)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(fit.model.parameters(), config.grad_clip)
        fit.optimizer.step()
        total += float(loss.detach()) * len(batch["y"])
        seen += len(batch["y"])
        bar.set_postfix(loss=f"{total / seen:.4f}", rate=f"{seen / (time.perf_counter() - started):.0f}/s")
    return total / max(seen, 1)


def validation_batches(
    config: RunConfig,
    cohort: Cohort,
    task: TaskData,
    plan: InputPlan,
    tabular: np.ndarray | None,
    where: Distributed,
) -> EvalBatches:
    """This rank's shard of the validation inputs scored between epochs: all of them, or the task's seeded
    subset of at most ``train.val_segments`` per anchor (seeded by the run's seed: the same every epoch)."""
    return EvalBatches(
        cohort.path,
        plan,
        task,
        "val",
        config.batch_size,
        tabular,
        where.rank,
        where.world,
        max_segments=task.spec.train.val_segments,
        subset_seed=config.seed,
    )


def validation_score(
    fit: Fit, batches: EvalBatches, task: TaskData, where: Distributed, workers: int
) -> float:
    """The validation macro AUROC: every rank scores its shard of ``batches``, rank 0 computes the metric and
    broadcasts it to every rank."""
    scores = predict(fit.model, batches, len(task.anchors), where, workers)
    score = float("nan")
    if scores is not None:
        rows = split_rows(task, "val")
        score = macro_auroc(task.labels[rows], scores[rows])
    return broadcast(score, where)


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
    """Train until the last epoch or ``patience`` epochs without improvement; the model with the weights of
    its best epoch, the history and the best epoch."""
    info = get_backbone_info(config.backbone)
    tabular = tabular_inputs(task, config)
    fit = new_fit(config, task, tabular, where)
    if resume and (run_dir / "last.pt").is_file():
        fit.restore(run_dir / "last.pt", where.device)
    if where.main:  # the epochs of record so far (none for a fresh run), then one line appended per epoch
        write_history(run_dir, fit.history)
    wrapped = (
        torch.nn.parallel.DistributedDataParallel(fit.model, find_unused_parameters=True)
        if where.world > 1
        else fit.model
    )
    plan = model_input_plan(config, cohort, task)
    train_rows = split_rows(task, "train")
    scaling = fit.model.scaling
    values = None if scaling is None or task.values is None else scaling.standardise(task.values)
    batches = TrainBatches(
        cohort.path,
        plan,
        task,
        train_rows,
        config.batch_size,
        config.seed,
        tabular,
        where.rank,
        where.world,
        values=values,
    )
    val_batches = validation_batches(config, cohort, task, plan, tabular, where)
    stale = fit.epochs_since_best() if fit.history else 0
    for epoch in range(fit.start_epoch, config.epochs):
        if stale >= config.patience:
            break
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout and augmentation: reproducible on resume
        set_backbone_trainable(
            fit.model, config.fine_tune, epoch, config.probe_epochs, config.frozen_stages, info.layout
        )
        batches.set_epoch(epoch)
        wrapped.train()
        started = time.perf_counter()
        train_loss = train_epoch(wrapped, fit, batches, config, where, progress, started)
        score = validation_score(fit, val_batches, task, where, config.workers)
        if epoch_callback is not None:
            epoch_callback(epoch, score)
        improved = fit.end_epoch(config, epoch, train_loss, score, started)
        stale = fit.epochs_since_best()
        if where.main:
            fit.checkpoint(epoch, run_dir, improved)
            append_history(run_dir, fit.history[-1])
            if progress:
                report_epoch(fit.history[-1], config.epochs, improved)
        where.barrier()
    state = torch.load(run_dir / "best.pt", map_location=where.device, weights_only=True)
    fit.model.load_state_dict(state["model"], strict=True)
    return fit.model, fit.history, int(state["epoch"])

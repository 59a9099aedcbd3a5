"""The measures of ``benchmarks/scale.py``: each parses its own arguments and returns its figures as a dict.

build: one task built on a store (time, anchors, inputs, targets kept). loader: the training loader's batches
(random segment and crop per anchor, int16 -> float32 in mV, resampling where the task asks) against a plain
NumPy copy of as many crops drawn the same way, in the same process, warm or cold. evaluate: one pass of the
evaluation batches over the test split (up to ``eval.max_segments`` per anchor) through a model that costs
nothing, pooled per anchor as the engine pools. statistics: the stored patient bootstrap and DeLong at the
test split's size. leaderboard: generated run folders compiled into a leaderboard (see
:mod:`scale_runs`).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglab.bench import metrics
from ecglab.bench.data import EvalBatches, TrainBatches, input_plan
from ecglab.bench.engine.distributed import single_process
from ecglab.bench.engine.evaluate import local_pool, pooled_scores
from ecglab.bench.engine.prepare import split_rows
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.tasks.build import TaskData, build_task, task_folder
from ecglab.tasks.registry import get_task


@dataclass(frozen=True)
class Measure:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict[str, Any]]


def store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--task", required=True)
    parser.add_argument("--work", default="/tmp/ecglab-scale", type=Path, help="task cache folder")


def cached_task(args: argparse.Namespace) -> tuple[TaskData, Cohort, float]:
    """The task (built and cached if needed), its store, and the build's seconds (0 when cached)."""
    cohort = open_cohort(args.store)
    started = time.perf_counter()
    task = build_task(args.task, cohort, cache_dir=args.work / "tasks")
    return task, cohort, time.perf_counter() - started


# ------------------------------------------------------------------------------------------------ build
def run_build(args: argparse.Namespace) -> dict[str, Any]:
    spec = get_task(args.task)
    cohort = open_cohort(args.store)
    cached = (task_folder(args.work / "tasks", spec, cohort) / "task.json").is_file()
    task, _, seconds = cached_task(args)
    per_split = task.anchors["split"].value_counts().to_dict()
    return {
        "task": args.task,
        "store": str(args.store),
        "segments_in_store": len(cohort.segments),
        "lab_rows_in_store": int(cohort.meta["row_counts"]["labs"]),
        "seconds": round(seconds, 1) if not cached else "cached (delete --work/tasks to time it)",
        "anchors": {k: int(v) for k, v in per_split.items()},
        "inputs": len(task.inputs),
        "targets_kept": len(task.kept_targets),
    }


# ------------------------------------------------------------------------------------------------ loader
def loader_arguments(parser: argparse.ArgumentParser) -> None:
    store_arguments(parser)
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=20.0, help="time spent on each side")


def drop_page_cache(cohort: Cohort) -> None:
    """Ask the kernel to drop the store's shard files from the page cache (clean pages only)."""
    for shard in cohort.meta["shards"]:
        fd = os.open(cohort.path / shard["file"], os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm_page_cache(cohort: Cohort) -> None:
    """Read every shard file once, so that the measured reads hit the page cache."""
    for shard in cohort.meta["shards"]:
        with open(cohort.path / shard["file"], "rb") as handle:
            while handle.read(1 << 24):
                pass


def numpy_crops(cohort: Cohort, task: TaskData, rows: np.ndarray, samples: int) -> Callable[[int], int]:
    """The reference: copy ``batch`` crops drawn as the loader draws them (an anchor, one of its segments, a
    crop start) from the memory-mapped shard into an int16 buffer, nothing else. Returns bytes copied."""
    segments = cohort.segments.set_index("segment_id")
    inputs = task.inputs[task.inputs["anchor_id"].isin(task.anchors["anchor_id"].to_numpy()[rows])]
    chosen = segments.loc[inputs["segment_id"].to_numpy(), ["shard", "offset", "length"]]
    shard_no, offset = chosen["shard"].to_numpy(), chosen["offset"].to_numpy()
    room = chosen["length"].to_numpy() - samples
    maps = {
        int(s): np.memmap(cohort.path / cohort.meta["shards"][s]["file"], dtype="<i2", mode="r")
        .reshape(-1, len(cohort.meta["shards"][s]["leads"]))
        .view(np.ndarray)
        for s in np.unique(shard_no)
    }
    rng = np.random.default_rng(1)

    def copy(batch: int) -> int:
        picks = rng.integers(0, len(offset), size=batch)
        starts = offset[picks] + (rng.random(batch) * (room[picks] + 1)).astype(np.int64)
        first = maps[int(shard_no[picks[0]])]
        out = np.empty((batch, samples, first.shape[1]), dtype=np.int16)
        for i, (shard, start) in enumerate(zip(shard_no[picks].tolist(), starts.tolist(), strict=True)):
            out[i] = maps[shard][start : start + samples]
        return out.nbytes

    return copy


def timed(step: Callable[[], int], seconds: float) -> tuple[int, int, float]:
    """Calls ``step`` (which returns bytes) until ``seconds`` pass: (calls, bytes, elapsed)."""
    calls, total, started = 0, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        total += step()
        calls += 1
    return calls, total, elapsed


def run_loader(args: argparse.Namespace) -> dict[str, Any]:
    task, cohort, _ = cached_task(args)
    fs = float(cohort.segments["fs"].iloc[0])
    plan = input_plan(task, fs)
    rows = split_rows(task, "train")
    dataset = TrainBatches(args.store, plan, task, rows, args.batch, seed=0)
    n_leads = len(plan.leads)
    store_bytes = args.batch * plan.store_samples * n_leads * 2
    reference = numpy_crops(cohort, task, rows, plan.store_samples)
    batches = itertools.cycle(range(len(dataset)))

    def loader_step() -> int:
        dataset[next(batches)]
        return store_bytes  # the stored bytes the batch read

    figures: dict[str, Any] = {"task": args.task, "cache": args.cache, "batch": args.batch}
    figures["input"] = f"{n_leads} lead(s), store {fs:g} Hz -> task {plan.fs:g} Hz, {plan.seconds:g} s"
    for name, step in (
        ("numpy_copy", lambda: reference(args.batch)),
        ("loader", loader_step),
    ):
        drop_page_cache(cohort) if args.cache == "cold" else warm_page_cache(cohort)
        timed(step, 0.2)  # first calls: imports, lazily opened store
        if args.cache == "cold":
            drop_page_cache(cohort)
        calls, total, elapsed = timed(step, args.seconds)
        figures[f"{name}_segments_per_s"] = round(calls * args.batch / elapsed)
        figures[f"{name}_MB_per_s"] = round(total / elapsed / 1e6, 1)
    figures["loader_share_of_numpy"] = round(figures["loader_MB_per_s"] / figures["numpy_copy_MB_per_s"], 3)
    shards = cohort.meta["shards"]
    figures["distinct_shard_MiB"] = round(sum(s["n_samples"] * len(s["leads"]) * 2 for s in shards) / 2**20)
    figures["note"] = "peak_gib counts the memory-mapped shard pages this process touched"
    return figures


# ------------------------------------------------------------------------------------------------ evaluate
class FreeModel(torch.nn.Module):
    """A model that costs nothing: constant logits, so only the data path is timed."""

    def __init__(self, n_targets: int) -> None:
        super().__init__()
        self.head = torch.nn.Linear(1, n_targets)

    def forward(self, x: torch.Tensor, tabular: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(x.shape[0], self.head.out_features)


def run_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    task, cohort, _ = cached_task(args)
    plan = input_plan(task, float(cohort.segments["fs"].iloc[0]))
    started = time.perf_counter()
    batches = EvalBatches(args.store, plan, task, "test", batch_size=512)
    setup = time.perf_counter() - started
    model = FreeModel(task.labels.shape[1])
    started = time.perf_counter()
    part = local_pool(model, batches, len(task.anchors), single_process(), workers=0)  # type: ignore[arg-type]
    scores = pooled_scores([part], len(task.anchors), task.labels.shape[1])
    seconds = time.perf_counter() - started
    n_test = len(split_rows(task, "test"))
    return {
        "task": args.task,
        "test_anchors": n_test,
        "inputs_scored": len(batches.rows),
        "max_segments_per_anchor": task.spec.eval.max_segments,
        "setup_s": round(setup, 1),
        "pass_s": round(seconds, 1),
        "inputs_per_s": round(len(batches.rows) / seconds),
        "anchors_scored": int(np.isfinite(scores[:, 0]).sum()),
    }


# ------------------------------------------------------------------------------------------------ statistics
def run_statistics(args: argparse.Namespace) -> dict[str, Any]:
    task, _, _ = cached_task(args)
    test = split_rows(task, "test")
    labels = task.labels[test]
    rng = np.random.default_rng(0)
    scores = rng.random(labels.shape)
    started = time.perf_counter()
    counts = metrics.bootstrap_resamples(
        len(test), 1000, 0, groups=task.anchors["patient_id"].to_numpy()[test]
    )
    resample_s = time.perf_counter() - started
    started = time.perf_counter()
    metrics.auroc_ci_matrix(labels, scores, counts)
    boot_s = time.perf_counter() - started
    started = time.perf_counter()
    metrics.delong_matrix(labels, scores)
    delong_s = time.perf_counter() - started
    return {
        "task": args.task,
        "test_anchors": len(test),
        "targets": labels.shape[1],
        "resamples": 1000,
        "patient_resamples_s": round(resample_s, 1),
        "bootstrap_aurocs_s": round(boot_s, 1),
        "delong_s": round(delong_s, 1),
    }


def run_leaderboard(args: argparse.Namespace) -> dict[str, Any]:
    from scale_runs import compile_leaderboard

    return compile_leaderboard(args.runs, args.work, args.test_rows)


def leaderboard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--test-rows", type=int, default=2000, help="test anchors per generated task")
    parser.add_argument("--work", default="/tmp/ecglab-scale", type=Path)


MEASURES = {
    "build": Measure("build one task on a store, timed", store_arguments, run_build),
    "loader": Measure("the training loader against a NumPy copy", loader_arguments, run_loader),
    "evaluate": Measure("one evaluation pass over the test split", store_arguments, run_evaluate),
    "statistics": Measure("bootstrap + DeLong at the test size", store_arguments, run_statistics),
    "leaderboard": Measure(
        "a leaderboard over generated run folders", leaderboard_arguments, run_leaderboard
    ),
}

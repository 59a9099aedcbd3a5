"""One pairing from start to end: skip it when it finished earlier, train it (or fit a baseline), score it,
write its run folder with its typed record (running, then finished, failed or pruned), and track it in
MLflow (re-evaluating a finished run: :mod:`~ecglab.bench.engine.reevaluate`).

Tracking is a view of the run folder: when MLflow fails after a run finished (the server is down: its
retries are bounded to ~30 s), the run still counts as finished; one warning line says how to log it later
(``ecglab track RUN``). Row-level files go to MLflow only with ``log_row_level``."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from ecglab.backbones.provenance import backbone_package
from ecglab.backbones.registry import get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.engine.baselines import baseline_scores
from ecglab.bench.engine.distributed import Distributed, distributed
from ecglab.bench.engine.evaluate import RESAMPLE_SEED, bootstrap_file, model_predictions, write_results
from ecglab.bench.engine.prepare import RunError, prepare
from ecglab.bench.engine.training import EpochCallback, PrunedRun, train
from ecglab.bench.run_folder import (
    RECORD_FILE,
    BackboneIdentity,
    BootstrapFile,
    CohortIdentity,
    RunRecord,
    TaskIdentity,
    provenance,
    read_record,
    run_folder,
    write_record,
)
from ecglab.bench.tracking import (
    TrackingError,
    ensure_experiment,
    first_line,
    log_run,
    redact_text,
    redact_uri,
    resolve_tracking_uri,
    track_command,
)
from ecglab.cohort.store import Cohort
from ecglab.tasks.build import TaskData


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
    log_row_level: bool = False,
) -> Path:
    """Train (or fit) and evaluate one pairing; returns its run folder. A finished run is not redone unless
    ``force``; an interrupted one continues with ``resume``. With ``track`` the finished run is logged to
    MLflow (``log_row_level``: its predictions with patient and anchor ids too); a tracking failure is a
    warning (see the module docstring), a tracking URI MLflow refuses an error before anything runs."""
    runs_dir = Path(runs_dir)
    uri = resolve_tracking_uri(tracking_uri) if track else None  # a refused URI fails before training
    where = distributed()
    cohort, task, identifier = prepare(config, runs_dir, where)
    run_dir = run_folder(runs_dir, identifier)
    if not force and finished_earlier(run_dir):
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
    record = running_record(config, cohort, task, identifier, where)
    if where.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_record(run_dir, record)
    try:
        execute(record, cohort, task, runs_dir, run_dir, where, resume, progress, epoch_callback)
    except BaseException as err:
        if where.main:
            status = "pruned" if isinstance(err, PrunedRun) else "failed"
            write_record(run_dir, record.replace(status=status, error=f"{type(err).__name__}: {err}"))
        raise
    where.barrier()
    if uri is not None and where.main:
        track_finished(run_dir, uri, experiment, parent_run_id, tags, log_row_level)
    return run_dir


def track_finished(
    run_dir: Path,
    uri: str,
    experiment: str,
    parent_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    row_level: bool = False,
) -> str | None:
    """Log a finished run folder to MLflow; returns the MLflow run id, or None after printing one warning
    line to stderr (the run's result files are complete; the line names ``ecglab track RUN``)."""
    try:
        ensure_experiment(uri, experiment)
        return log_run(run_dir, uri, experiment, parent_run_id=parent_run_id, tags=tags, row_level=row_level)
    except TrackingError as err:
        print(tracking_warning(run_dir, uri, experiment, err, row_level), file=sys.stderr, flush=True)
        return None


def tracking_warning(run_dir: Path, uri: str, experiment: str, err: BaseException, row_level: bool) -> str:
    """One line: the run finished, MLflow failed (why, shortened), and the command that logs it later."""
    reason = redact_text(first_line(err.__cause__ or err), uri)[:300]
    return (
        f"ecglab: warning: {run_dir} finished and its result files are complete, but it was not logged to "
        f"MLflow at {redact_uri(uri)} ({reason}); log it later with "
        f"`{track_command(run_dir, uri, experiment, row_level)}`"
    )


def finished_earlier(run_dir: Path) -> bool:
    """Whether the run folder's record says the run finished (a malformed record raises RunRecordError)."""
    return (run_dir / RECORD_FILE).is_file() and read_record(run_dir).finished


def running_record(
    config: RunConfig, cohort: Cohort, task: TaskData, identifier: str, where: Distributed
) -> RunRecord:
    """The record of a run that starts: configuration, identities (the backbone's with the package it
    comes from) and provenance."""
    info = get_backbone_info(config.backbone)
    package = backbone_package(info.name)
    return RunRecord(
        run_id=identifier,
        status="running",
        config=config,
        task=TaskIdentity(
            name=task.spec.name,
            version=task.spec.version,
            digest=task.spec.digest(),
            training_digest=task.spec.training_digest(),
            spec=task.spec.to_dict(),
            targets=tuple(task.kept_targets),
        ),
        cohort=CohortIdentity(name=cohort.name, hash=cohort.content_hash, scale=cohort.scale),
        backbone=BackboneIdentity(
            name=info.name,
            kind=info.kind,
            preset=config.preset,
            package=package.name,
            version=package.version,
            commit=package.commit,
        ),
        provenance=provenance(str(where.device)),
        world_size=where.world,
    )


def execute(
    record: RunRecord,
    cohort: Cohort,
    task: TaskData,
    runs_dir: Path,
    run_dir: Path,
    where: Distributed,
    resume: bool,
    progress: bool,
    epoch_callback: EpochCallback | None,
) -> None:
    """Train or fit, score, and (rank 0) write the results, the history and the finished record."""
    config = record.config
    started = time.perf_counter()
    values = None  # a regression objective's predicted values
    if get_backbone_info(config.backbone).kind == "baseline":
        scores, history, best_epoch = baseline_scores(config, cohort, task), [], 0
    else:
        model, history, best_epoch = train(
            config, cohort, task, run_dir, where, resume, progress, epoch_callback
        )
        predictions = model_predictions(model, cohort, task, config, where, progress)  # every rank: a shard
        scores, values = predictions if predictions is not None else (None, None)
    trained = time.perf_counter()
    if not where.main:
        return
    write_results(task, cohort, scores, config, record.run_id, runs_dir, run_dir, values)
    (run_dir / "history.jsonl.tmp").write_text("".join(json.dumps(h) + "\n" for h in history))
    os.replace(run_dir / "history.jsonl.tmp", run_dir / "history.jsonl")
    bootstrap = None
    if config.evaluate_test:
        resamples = bootstrap_file(task, cohort, runs_dir, config)
        bootstrap = BootstrapFile(
            file=str(resamples.relative_to(runs_dir)), n_boot=config.n_boot, seed=RESAMPLE_SEED
        )
    finished = record.replace(
        status="finished",
        bootstrap=bootstrap,
        best_epoch=best_epoch,
        n_targets=len(task.kept_targets),
        timings={"train_s": trained - started, "eval_s": time.perf_counter() - trained},
    )
    write_record(run_dir, finished)

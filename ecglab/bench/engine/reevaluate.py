"""Re-evaluating a finished run from its own folder, from any working folder: the record keeps the task
spec's content and absolute paths, so neither the spec file nor the folder the run started in is needed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ecglab.backbones.registry import get_backbone_info
from ecglab.bench.engine.baselines import baseline_scores
from ecglab.bench.engine.distributed import single_process
from ecglab.bench.engine.evaluate import model_predictions, write_results
from ecglab.bench.engine.prepare import RunError, build_model, prepare, tabular_inputs
from ecglab.bench.run_folder import read_record, run_folder
from ecglab.tasks.errors import TaskError
from ecglab.tasks.spec import TaskSpec, spec_from_dict


def stored_spec(run_dir: Path, spec: dict | None) -> TaskSpec | None:
    """The task spec a run stored (None for a record older than that: the task is then looked up)."""
    if spec is None:
        return None
    try:
        return spec_from_dict(spec)
    except (TaskError, ValueError) as err:
        raise RunError(f"{run_dir}/run.json: its stored task spec is not valid: {err}") from None


def evaluate_run(
    run_dir: str | Path,
    runs_dir: str | Path | None = None,
    *,
    cohort: str | Path | None = None,
    progress: bool = False,
) -> Path:
    """Re-evaluate a finished run from its best checkpoint (or refit a baseline) and rewrite its results, in
    this one process (a run trained on several keeps its run id: its world size is read from its record).
    ``cohort``: where the run's cohort store is now, when it moved (its content must be the same)."""
    run_dir = Path(run_dir).resolve()
    record = read_record(run_dir)
    config = record.config
    if cohort is not None:
        config = dataclasses.replace(config, cohort=str(Path(cohort).resolve()))
    runs_dir = Path(runs_dir) if runs_dir is not None else run_dir.parent
    where = single_process()
    spec = stored_spec(run_dir, record.task.spec)
    store, task, identifier = prepare(config, runs_dir, where, world_size=record.world_size, spec=spec)
    if identifier != record.run_id:
        now = run_folder(runs_dir, identifier).name
        raise RunError(f"{run_dir}: the cohort or task changed since this run (run id {now} now)")
    values = None  # a regression objective's predicted values
    if get_backbone_info(config.backbone).kind == "baseline":
        scores = baseline_scores(config, store, task)
    else:
        model = build_model(config, task, tabular_inputs(task, config))
        state = torch.load(run_dir / "best.pt", map_location=where.device, weights_only=True)
        model.load_state_dict(state["model"], strict=True)
        predictions = model_predictions(model.to(where.device), store, task, config, where, progress)
        assert predictions is not None  # a single process is rank 0
        scores, values = predictions
    write_results(task, store, scores, config, identifier, runs_dir, run_dir, values)
    return run_dir

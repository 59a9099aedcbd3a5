"""A worker of a study: :func:`tune` creates or joins the study, runs its trials in this process, and
reports what it did and the study's best trial.

Several processes or machines work on one study by naming the same ``study`` and ``storage``: each runs its
own ``n_trials``, and the trials add up in the study. Create the study (and its SQLite files) with one
process first, e.g. ``ecglab tune ... --trials 0``, then start the others: two processes creating the same
new SQLite database at once can crash. A trial trains in its worker's process (no torchrun): to use several
GPUs, start one worker per GPU (``CUDA_VISIBLE_DEVICES=i ecglab tune --study S ...``) on the same study.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecglab.bench.tracking import ensure_experiment, redact_uri, resolve_tracking_uri
from ecglab.bench.tune.mlflow_runs import ensure_parent_run, update_parent
from ecglab.bench.tune.objective import Objective
from ecglab.bench.tune.settings import ATTR_MLFLOW, METRIC, TuneError
from ecglab.bench.tune.space import space_function
from ecglab.bench.tune.storage import default_storage
from ecglab.bench.tune.study import TuneStudy, open_study


@dataclass
class TuneResult:
    study_name: str
    storage: str  # without a password
    states: dict[str, int]  # this worker's trials by state (COMPLETE, PRUNED, FAIL)
    n_trials_study: int
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    parent_run_id: str | None
    errors: list[str] = field(default_factory=list)


def tune(
    *,
    cohort: str | Path,
    n_trials: int,
    backbone: str | None = None,
    task: str | None = None,
    run_options: Mapping[str, Any] | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    seed: int | None = None,
    space: str | Callable[[Any], Mapping[str, Any]] | None = None,
    task_specs: Sequence[str | Path] = (),
    runs_dir: str | Path = "runs",
    tracking_uri: str | None = None,
    experiment: str | None = None,
    track: bool = True,
    total_trials: int | None = None,
    keep_checkpoints: bool = False,
    progress: bool = False,
    out: Callable[[str], None] = print,
) -> TuneResult:
    """Create or join a study and run ``n_trials`` trials in this process (see the module docstring).

    ``space`` replaces the backbone's declared search space ("module:callable", or a module-level callable);
    ``total_trials`` stops this worker once the study holds that many complete or pruned trials."""
    from ecglab.tasks.registry import get_task

    runs_dir = Path(runs_dir)
    storage = storage or default_storage(runs_dir)
    if callable(space):
        space = f"{space.__module__}:{space.__qualname__}"
    uri = None
    if track:
        uri = resolve_tracking_uri(tracking_uri)

    def create_parent(study: Any) -> None:
        if uri is not None:
            ensure_parent_run(study, uri, experiment or "ecglab")

    tuned = open_study(
        storage,
        study_name,
        cohort=cohort,
        backbone=backbone,
        task=task,
        run_options=run_options,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        space=space,
        task_specs=task_specs,
        on_create=create_parent,
    )
    experiment, parent = _parent_run(tuned, uri, experiment)
    objective = Objective(
        tuned=tuned,
        runs_dir=runs_dir,
        space=space_function(tuned.settings, tuned.base.backbone),
        spec=get_task(tuned.base.task),
        keep_checkpoints=keep_checkpoints,
        progress=progress,
        out=out,
        uri=uri,
        experiment=experiment,
        parent=parent,
    )
    mine = _optimize(tuned.study, objective, n_trials, total_trials, out)
    return _result(tuned, redact_uri(storage), mine, uri, parent, objective.errors)


def _parent_run(tuned: TuneStudy, uri: str | None, experiment: str | None) -> tuple[str | None, str | None]:
    """(experiment, MLflow parent run id) of the study; (experiment as given, None) without tracking."""
    if uri is None:
        return experiment, None
    stored = tuned.study.user_attrs.get(ATTR_MLFLOW) or {}
    if experiment is not None and stored and stored.get("experiment") != experiment:
        raise TuneError(
            f"study {tuned.name!r} logs to MLflow experiment {stored.get('experiment')!r}, not {experiment!r}"
        )
    experiment = stored.get("experiment") or experiment or "ecglab"
    ensure_experiment(uri, experiment)
    return experiment, ensure_parent_run(tuned, uri, experiment)


def _optimize(
    study: Any, objective: Objective, n_trials: int, total_trials: int | None, out: Callable[[str], None]
) -> list[Any]:
    """Run up to ``n_trials`` trials (fewer once the study holds ``total_trials`` complete or pruned ones);
    returns this worker's trials, each announced with ``out`` as it ends."""
    import optuna

    mine: list[Any] = []

    def announce(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        mine.append(trial)
        out(describe_trial(trial))

    callbacks: list[Any] = [announce]
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if total_trials is not None:
        callbacks.append(optuna.study.MaxTrialsCallback(total_trials, states=finished))
    if total_trials is not None and len(study.get_trials(deepcopy=False, states=finished)) >= total_trials:
        n_trials = 0
    if n_trials > 0:
        study.optimize(
            objective, n_trials=n_trials, catch=(Exception,), callbacks=callbacks, gc_after_trial=True
        )
    return mine


def describe_trial(trial: Any) -> str:
    """``trial N: STATE VALUE [params]``, as a worker announces an ended trial."""
    import optuna

    value = f"{METRIC} {trial.value:.4f} " if trial.value is not None else ""
    if trial.state == optuna.trial.TrialState.PRUNED and trial.last_step is not None:
        value = f"after epoch {trial.last_step} ({METRIC} {trial.intermediate_values[trial.last_step]:.4f}) "
    if trial.user_attrs.get("ecglab.error"):
        value = f"({trial.user_attrs['ecglab.error'][:300]}) "
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    return f"trial {trial.number}: {trial.state.name.lower()} {value}[{params}]"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _result(
    tuned: TuneStudy,
    storage: str,
    mine: Sequence[Any],
    uri: str | None,
    parent: str | None,
    errors: list[str],
) -> TuneResult:
    import optuna

    trials = tuned.study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in mine:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    if parent is not None and uri is not None:
        update_parent(uri, parent, trials, best)
    return TuneResult(
        study_name=tuned.name,
        storage=storage,
        states=states,
        n_trials_study=len(trials),
        best_trial=None if best is None else best.number,
        best_value=None if best is None else float(best.value),
        best_params={} if best is None else dict(best.params),
        parent_run_id=parent,
        errors=errors,
    )

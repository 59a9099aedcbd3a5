"""A worker of a study: :func:`tune` creates or joins the study, runs its trials in this process, and
reports what it did and the study's best trial.

Several processes or machines work on one study by naming the same ``study`` and ``storage``: each runs its
own ``n_trials``, and the trials add up in the study. Create the study (and its SQLite files) with one
process first, e.g. ``ecglab tune ... --trials 0``, then start the others: two processes creating the same
new SQLite database at once can crash. A trial trains in its worker's process (no torchrun): to use several
GPUs, start one worker per GPU (``CUDA_VISIBLE_DEVICES=i ecglab tune --study S ...``) on the same study.

A worker announces each trial as it ends (number, state, value, parameters, seconds). Trials of a killed
worker are failed and queued again (:mod:`~ecglab.bench.tune.storage`); a trial that fails with an error
that is not a user error (``EcglabError``: those would fail the same way again) is queued again once
(:data:`ERROR_RETRIES`), and the worker runs the retries of its own failures before it stops.
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
from ecglab.bench.tune.space import describe_space, space_function
from ecglab.bench.tune.storage import resolve_storage, retry_callback
from ecglab.bench.tune.study import TuneStudy, open_study

ERROR_RETRIES = 1  # times a trial failing with an error that is not a user error is queued again


@dataclass
class TuneResult:
    study_name: str
    storage: str  # without a password
    states: dict[str, int]  # this worker's trials by state (COMPLETE, PRUNED, FAIL)
    n_trials_study: int
    study_states: dict[str, int]  # the study's trials by state (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)
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
    log_row_level: bool = False,
) -> TuneResult:
    """Create or join a study and run ``n_trials`` trials in this process (see the module docstring).

    ``storage`` defaults to ``$ECGLAB_OPTUNA_STORAGE``, else ``sqlite:///RUNS_DIR/optuna.db``. ``space``
    replaces the backbone's declared search space ("module:callable", or a module-level callable);
    ``total_trials`` stops this worker once the study holds that many complete or pruned trials; ``out``
    gets a line per trial (``progress``: per-epoch bars too); ``log_row_level`` also logs each trial's
    predictions (patient and anchor ids) to MLflow."""
    from ecglab.tasks.registry import get_task

    runs_dir = Path(runs_dir)
    storage = resolve_storage(storage, runs_dir)
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
    searched = space_function(tuned.settings, tuned.base.backbone, tuned.base.preset)
    if n_trials > 0:
        out(f"study {tuned.name} ({redact_uri(storage)}): {describe_space(searched, tuned.base.backbone)}")
    objective = Objective(
        tuned=tuned,
        runs_dir=runs_dir,
        space=searched,
        spec=get_task(tuned.base.task),
        keep_checkpoints=keep_checkpoints,
        progress=progress,
        uri=uri,
        experiment=experiment,
        parent=parent,
        row_level=log_row_level,
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
    """Run up to ``n_trials`` trials (fewer once the study holds ``total_trials`` complete or pruned ones),
    then the retries of this worker's failed trials; returns this worker's trials, each announced with
    ``out`` as it ends."""
    import optuna

    mine: list[Any] = []
    retry = retry_callback(ERROR_RETRIES)

    def announce(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        mine.append(trial)
        out(describe_trial(trial))
        crashed = trial.user_attrs.get("ecglab.error_kind") == "crash"
        if trial.state == optuna.trial.TrialState.FAIL and crashed:
            retry(study, trial)  # queued: this worker or another runs it again, same parameters

    callbacks: list[Any] = [announce]
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if total_trials is not None:
        callbacks.append(optuna.study.MaxTrialsCallback(total_trials, states=finished))
    if total_trials is not None and len(study.get_trials(deepcopy=False, states=finished)) >= total_trials:
        n_trials = 0
    for _ in range(ERROR_RETRIES + 1):  # the trials asked, then the retries of this worker's failures
        if n_trials <= 0:
            break
        study.optimize(
            objective, n_trials=n_trials, catch=(Exception,), callbacks=callbacks, gc_after_trial=True
        )
        n_trials = len(waiting_retries(study, mine))
    return mine


def waiting_retries(study: Any, trials: Sequence[Any]) -> list[Any]:
    """The study's waiting trials that retry one of ``trials``."""
    import optuna

    numbers = {t.number for t in trials}
    waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    return [t for t in waiting if set(t.system_attrs.get("retry_history", ())) & numbers]


def describe_trial(trial: Any) -> str:
    """``trial N: STATE VALUE [params] (S s)``, as a worker announces an ended trial."""
    import optuna

    value = f"{METRIC} {trial.value:.4f} " if trial.value is not None else ""
    if trial.state == optuna.trial.TrialState.PRUNED and trial.last_step is not None:
        value = f"after epoch {trial.last_step} ({METRIC} {trial.intermediate_values[trial.last_step]:.4f}) "
    if trial.user_attrs.get("ecglab.error"):
        value = f"({trial.user_attrs['ecglab.error'][:300]}) "
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    seconds = f" ({trial.duration.total_seconds():.1f} s)" if trial.duration is not None else ""
    retried = trial.system_attrs.get("failed_trial")
    again = f" (retry of trial {retried})" if retried is not None else ""
    return f"trial {trial.number}{again}: {trial.state.name.lower()} {value}[{params}]{seconds}"


def count_states(trials: Sequence[Any]) -> dict[str, int]:
    """Trials by state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


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
    states = count_states(mine)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    if parent is not None and uri is not None:
        update_parent(uri, parent, trials, best)
    return TuneResult(
        study_name=tuned.name,
        storage=storage,
        states=states,
        n_trials_study=len(trials),
        study_states=count_states(trials),
        best_trial=None if best is None else best.number,
        best_value=None if best is None else float(best.value),
        best_params={} if best is None else dict(best.params),
        parent_run_id=parent,
        errors=errors,
    )

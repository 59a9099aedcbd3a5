"""The best trial on the test split: :func:`run_best` runs the configuration of the study's best complete
trial with ``evaluate_test=True`` and label ``tuned``, a regular run that the leaderboard shows as tuned."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ecglab.bench.config import RunConfig, derive_config
from ecglab.bench.tracking import redact_uri
from ecglab.bench.tune.settings import (
    ATTR_CONFIG,
    ATTR_MLFLOW,
    METRIC,
    TRIAL_OPTIONS,
    TRIAL_OVERRIDES,
    TUNED_LABEL,
    TuneError,
)
from ecglab.bench.tune.space import sample_options, space_function
from ecglab.bench.tune.storage import open_storage, resolve_storage
from ecglab.bench.tune.study import TuneStudy, open_study


def best_config(
    tuned: TuneStudy, *, seed: int | None = None, cohort: str | Path | None = None
) -> tuple[RunConfig, Any]:
    """The best trial's configuration for the test split (``evaluate_test=True``, label ``tuned``) and the
    trial. Raises TuneError when the study has no complete trial."""
    import optuna

    complete = tuned.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise TuneError(f"study {tuned.name!r} has no complete trial yet")
    best = max(complete, key=lambda t: t.value)
    options = best.user_attrs.get(TRIAL_OPTIONS)
    overrides = best.user_attrs.get(TRIAL_OVERRIDES)
    if options is None or overrides is None:  # derive them again from the parameters
        fixed = optuna.trial.FixedTrial(best.params, best.number)
        options, overrides = sample_options(
            fixed,
            tuned.base.backbone,
            space_function(tuned.settings, tuned.base.backbone, tuned.base.preset),
        )
    changes = {
        "backbone_options": {**tuned.base.backbone_options, **options},
        "evaluate_test": True,
        "label": TUNED_LABEL,
        **overrides,
    }
    if seed is not None:
        changes["seed"] = seed
    if cohort is not None:
        changes["cohort"] = str(cohort)
    config = derive_config(tuned.base, changes, source=f"best trial {best.number} of study {tuned.name!r}")
    return config, best


def run_best(
    study_name: str,
    storage: str | None = None,
    *,
    cohort: str | Path | None = None,
    seeds: Sequence[int] | None = None,
    checkpoint: str | None = None,
    task_specs: Sequence[str | Path] = (),
    runs_dir: str | Path = "runs",
    tracking_uri: str | None = None,
    experiment: str | None = None,
    track: bool = True,
    force: bool = False,
    progress: bool = True,
    out: Callable[[str], None] = print,
    log_row_level: bool = False,
) -> list[Path]:
    """Run the best trial's configuration on the test split, once per seed (default: the study's training
    seed); returns the run folders (label ``tuned``; finished ones are not redone unless ``force``). The
    cohort, checkpoint and task spec files default to the paths the study was created with; ``storage`` to
    ``$ECGLAB_OPTUNA_STORAGE``, else ``sqlite:///RUNS_DIR/optuna.db``; ``log_row_level`` also logs the
    runs' predictions (patient and anchor ids) to MLflow."""
    import optuna

    from ecglab.bench import engine

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs_dir = Path(runs_dir)
    storage = resolve_storage(storage, runs_dir)
    store = open_storage(storage)
    if study_name not in optuna.get_all_study_names(store):
        raise TuneError(f"no study {study_name!r} in {redact_uri(storage)}")
    attrs = optuna.load_study(study_name=study_name, storage=store).user_attrs
    if ATTR_CONFIG not in attrs:
        raise TuneError(f"study {study_name!r} was not created by `ecglab tune`")
    tuned = open_study(
        storage,
        study_name,
        cohort=cohort if cohort is not None else attrs[ATTR_CONFIG]["cohort"],
        run_options={"checkpoint": checkpoint} if checkpoint else None,
        task_specs=task_specs,
        create=False,
    )
    mlflow = attrs.get(ATTR_MLFLOW) or {}
    experiment = experiment or mlflow.get("experiment") or "ecglab"
    runs = []
    for seed in seeds if seeds else [tuned.base.seed]:
        config, best = best_config(tuned, seed=seed)
        out(
            f"{tuned.name}: best trial {best.number} ({METRIC} {best.value:.4f}); running it on the test "
            f"split with seed {seed} as {config.backbone} [{TUNED_LABEL}] x {config.task}"
        )
        tags = {
            "ecglab.study": tuned.name,
            "ecglab.best_trial": str(best.number),
            "ecglab.label": TUNED_LABEL,
        }
        runs.append(
            engine.run_pairing(
                config,
                runs_dir,
                tracking_uri=tracking_uri,
                experiment=experiment,
                force=force,
                resume=not force,
                progress=progress,
                track=track,
                tags=tags,
                log_row_level=log_row_level,
            )
        )
    return runs

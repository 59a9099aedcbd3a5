"""Hyperparameter search with Optuna, on the validation split only.

A study tunes one (backbone, task) pairing. Each trial samples the backbone's declared search space
(``BackboneInfo.search_space``, or a ``module:callable`` given with ``space``) plus the framework's own
parameters (for trained backbones: ``lr`` log-uniform in [1e-5, 1e-2] and ``weight_decay`` log-uniform in
[1e-6, 1e-1]), trains it with :func:`ecglab.bench.engine.run_pairing` on a ``RunConfig`` with
``evaluate_test=False``
(the engine then never scores the test split), and returns the validation macro AUROC read from the run's
``results.parquet`` (rows with ``split == "val"``; a results file holding test rows is refused). After every
epoch the engine's ``epoch_callback`` reports the validation macro AUROC to the trial; when the pruner says
so the callback raises :class:`~ecglab.bench.engine.PrunedRun` (the run folder is marked ``pruned``)
and the trial
ends as pruned (``optuna.TrialPruned``).

Storage: any SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``); by default
``sqlite:///<runs dir>/optuna.db``. Several processes or machines work on one study by naming the same
``study`` and ``storage``: each runs its own ``n_trials``, and the trials add up in the study. The study keeps
what every worker must share, written once when it is created (as study user attributes, ``ecglab.*``):

- the sampler (``tpe`` or ``random``), its seed, the pruner (``median`` or ``none``), their options and the
  search space: a joining worker rebuilds the same sampler and pruner from them, and one that asks for other
  settings is refused with a clear error (leave them out to take the study's);
- the run configuration (backbone, task, preset, epochs, ...) and the cohort's content hash: a worker passes
  its own cohort path (and checkpoint, task spec files and data-loader workers, which are per machine), and
  must not change the rest;
- the MLflow parent run: each trial is logged as a child run of it (pruned trials too, with the epochs they
  ran; failed ones with their error).

The sampler is reseeded for each trial from (seed, trial number): one worker is reproducible, and workers
sharing a seed still draw different trials. Create the study (and its SQLite files) with one process first,
e.g. ``ecglab tune ... --trials 0``, then start the others: two processes creating the same new SQLite
database at once can crash. Trial run folders sit in the runs folder like any run (each labelled
``optuna:STUDY:UID:N``, so two trials never share a folder), without checkpoints unless ``keep_checkpoints``.

:func:`run_best` runs the best trial's configuration on the test split (``evaluate_test=True``, label
``tuned``): a regular run that the leaderboard shows as tuned.

A trial trains in its worker's process (no torchrun): to use several GPUs, start one worker per GPU
(``CUDA_VISIBLE_DEVICES=i ecglab tune --study S ...``) on the same study.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecglab.bench.config import RunConfig
from ecglab.errors import EcglabError

if TYPE_CHECKING:
    import optuna

LR_RANGE = (1e-5, 1e-2)
WEIGHT_DECAY_RANGE = (1e-6, 1e-1)
FRAMEWORK_PARAMS = ("lr", "weight_decay")
METRIC = "val_macro_auroc"
DEFAULT_DB = "optuna.db"
TUNED_LABEL = "tuned"

ATTR_SETTINGS = "ecglab.settings"
ATTR_CONFIG = "ecglab.run_config"
ATTR_COHORT = "ecglab.cohort_hash"
ATTR_UID = "ecglab.uid"
ATTR_MLFLOW = "ecglab.mlflow"
TRIAL_OPTIONS = "ecglab.backbone_options"
TRIAL_OVERRIDES = "ecglab.run_overrides"
SETTINGS_VERSION = 1

LOCAL_FIELDS = ("cohort", "workers", "task_specs", "checkpoint")  # per machine: never compared
NOT_RUN_OPTIONS = ("backbone", "task", "cohort", "label", "evaluate_test", "task_specs", *FRAMEWORK_PARAMS)
SETTLE_S = 30.0  # how long a joining worker waits for a study being created to get its settings

SAMPLER_OPTIONS: dict[str, dict[str, Any]] = {"tpe": {"n_startup_trials": 10}, "random": {}}
PRUNER_OPTIONS: dict[str, dict[str, Any]] = {
    "median": {"n_startup_trials": 5, "n_warmup_steps": 1},
    "none": {},
}


def _tpe(seed: int | None, **options: Any) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, **options)


def _random(seed: int | None, **options: Any) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed, **options)


def _median(**options: Any) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.MedianPruner(**options)


def _nop(**options: Any) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.NopPruner(**options)


SAMPLERS: dict[str, Callable[..., Any]] = {"tpe": _tpe, "random": _random}
PRUNERS: dict[str, Callable[..., Any]] = {"median": _median, "none": _nop}


class TuneError(EcglabError):
    """A study that cannot be created, joined or used as asked."""


# ------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class StudySettings:
    """What every worker of a study shares (stored with the study when it is created)."""

    sampler: str = "tpe"
    seed: int | None = 0
    pruner: str = "median"
    space: str | None = None  # "module:callable(trial) -> options"; None: the backbone's declared space
    sampler_options: dict[str, Any] = field(default_factory=dict)
    pruner_options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": SETTINGS_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySettings:
        return cls(**{k: v for k, v in data.items() if k != "version"})

    def build_sampler(self) -> Any:
        if self.sampler not in SAMPLERS:
            raise TuneError(f"unknown sampler {self.sampler!r} (known: {', '.join(SAMPLERS)})")
        return trial_seeded_sampler(SAMPLERS[self.sampler], self.seed, self.sampler_options)

    def build_pruner(self) -> Any:
        if self.pruner not in PRUNERS:
            raise TuneError(f"unknown pruner {self.pruner!r} (known: {', '.join(PRUNERS)})")
        return PRUNERS[self.pruner](**self.pruner_options)


def _new_settings(
    sampler: str | None, seed: int | None, pruner: str | None, space: str | None
) -> StudySettings:
    sampler = sampler or "tpe"
    pruner = pruner or "median"
    if sampler not in SAMPLERS:
        raise TuneError(f"unknown sampler {sampler!r} (known: {', '.join(SAMPLERS)})")
    if pruner not in PRUNERS:
        raise TuneError(f"unknown pruner {pruner!r} (known: {', '.join(PRUNERS)})")
    return StudySettings(
        sampler=sampler,
        seed=0 if seed is None else seed,
        pruner=pruner,
        space=space,
        sampler_options=dict(SAMPLER_OPTIONS.get(sampler, {})),
        pruner_options=dict(PRUNER_OPTIONS.get(pruner, {})),
    )


_TRIAL_SEEDED: type | None = None


def trial_seeded_sampler(make: Callable[..., Any], seed: int | None, options: Mapping[str, Any]) -> Any:
    """A sampler that delegates each trial to a fresh ``make(seed', **options)`` with seed' drawn from
    (seed, trial number): one worker alone is reproducible, and workers sharing a study and a seed still
    draw different trials. (The class is made on first use, so importing this module imports no optuna.)"""
    global _TRIAL_SEEDED
    if _TRIAL_SEEDED is None:
        _TRIAL_SEEDED = _trial_seeded_class()
    return _TRIAL_SEEDED(make, seed, options)


def _trial_seeded_class() -> type:
    import numpy as np
    import optuna

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        def __init__(self, make: Callable[..., Any], seed: int | None, options: Mapping[str, Any]) -> None:
            self._make, self._seed, self._options = make, seed, dict(options)
            self._current = make(seed, **self._options)

        def _seed_for(self, number: int) -> int | None:
            if self._seed is None:
                return None
            return int(np.random.SeedSequence([self._seed, number]).generate_state(1)[0])

        def before_trial(self, study: Any, trial: Any) -> None:
            self._current = self._make(self._seed_for(trial.number), **self._options)
            self._current.before_trial(study, trial)

        def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
            return self._current.infer_relative_search_space(study, trial)

        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
            return self._current.sample_relative(study, trial, search_space)

        def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
            return self._current.sample_independent(study, trial, name, distribution)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            self._current.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self._current.reseed_rng()

    return TrialSeededSampler


# ------------------------------------------------------------------------------------------- storage
def default_storage(runs_dir: str | Path = "runs") -> str:
    """``sqlite:///<absolute runs dir>/optuna.db``."""
    return "sqlite:///" + str((Path(runs_dir) / DEFAULT_DB).resolve())


def _redacted(url: str) -> str:
    from ecglab.bench.tracking import redact_uri as redact

    return redact(url)


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for a SQLAlchemy URL: SQLite waits for locks (several local workers), and
    trials of a worker that died are failed by the others after a missed heartbeat."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.lower().startswith("sqlite:"):
        path = url.split("///", 1)[1].partition("?")[0] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    else:
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", optuna.exceptions.ExperimentalWarning
            )  # heartbeats: stable enough
            return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180, **kwargs)
    except Exception as err:
        raise TuneError(
            f"cannot open the Optuna storage {_redacted(url)}: {type(err).__name__}: {err}"
        ) from err


# --------------------------------------------------------------------------------------------- studies
@dataclass
class TuneStudy:
    """An Optuna study with what ecglab stored in it."""

    study: Any  # optuna.Study, with the sampler and pruner of the settings
    settings: StudySettings
    base: RunConfig  # this worker's: the study's run configuration with this worker's local fields
    cohort_hash: str
    uid: str
    storage_url: str

    @property
    def name(self) -> str:
        return str(self.study.study_name)


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    return RunConfig(**{**data, "task_specs": tuple(data.get("task_specs", ()))})


def _wait_for_settings(study: Any) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_S
    while True:
        attrs = study.user_attrs
        if ATTR_SETTINGS in attrs:
            return attrs
        if time.monotonic() > deadline:
            raise TuneError(
                f"study {study.study_name!r} exists but holds no ecglab settings (not created by `ecglab "
                "tune`, or its creator died right after creating it); use another --study name"
            )
        time.sleep(0.5)


def open_study(
    storage: str,
    study_name: str | None,
    *,
    cohort: str | Path,
    backbone: str | None = None,
    task: str | None = None,
    run_options: Mapping[str, Any] | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    seed: int | None = None,
    space: str | None = None,
    task_specs: Sequence[str | Path] = (),
    create: bool = True,
    on_create: Callable[[Any], None] | None = None,
) -> TuneStudy:
    """Create study ``study_name`` (default ``BACKBONE-PRESET-TASK``) or join it.

    Creating needs ``backbone`` and ``task``; ``run_options`` are RunConfig fields (epochs, preset, ...).
    Joining takes the study's settings and run configuration: what is passed must equal what is stored
    (``cohort``, ``task_specs`` and the local fields ``workers`` and ``checkpoint`` are this worker's own),
    else :class:`TuneError` says what differs. ``on_create(study)`` runs once, on creation, before the
    settings are written (joiners wait for them), e.g. to create the MLflow parent run.
    """
    import optuna

    from ecglab.cohort.store import open_cohort
    from ecglab.tasks.registry import register_spec_file

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_options = dict(run_options or {})
    bad = sorted(set(run_options) & set(NOT_RUN_OPTIONS))
    if bad:
        raise TuneError(
            f"run options {bad} cannot be fixed for a search: lr and weight_decay are searched; backbone, "
            "task, cohort and task_specs have their own arguments; label and evaluate_test are tune's"
        )
    unknown = sorted(set(run_options) - {f.name for f in dataclasses.fields(RunConfig)})
    if unknown:
        raise TuneError(f"unknown run options {unknown} (RunConfig fields, as in `ecglab train`)")
    for file in task_specs:
        register_spec_file(file)
    cohort_hash = open_cohort(cohort).content_hash
    if study_name is None:
        if not (backbone and task):
            raise TuneError("name the study (--study NAME) or give --backbone and --task")
        study_name = f"{backbone}-{run_options.get('preset', 'tiny')}-{task}"
    url = storage
    store = open_storage(url)
    existing = study_name in optuna.get_all_study_names(store)
    if not existing:
        if not create:
            raise TuneError(f"no study {study_name!r} in {_redacted(url)}")
        if not (backbone and task):
            raise TuneError(
                f"study {study_name!r} does not exist yet: creating it needs --backbone and --task"
            )
        _check_backbone_and_task(backbone, task)
        settings = _new_settings(sampler, seed, pruner, space)
        local = {
            "cohort": str(cohort),
            "task_specs": tuple(str(p) for p in task_specs),
        }
        try:
            base = RunConfig(backbone=backbone, task=task, **local, **run_options)
        except (TypeError, ValueError) as err:
            raise TuneError(str(err)) from err
        base = dataclasses.replace(base, evaluate_test=False, label="")
        try:
            study = optuna.create_study(
                storage=store,
                study_name=study_name,
                direction="maximize",
                sampler=settings.build_sampler(),
                pruner=settings.build_pruner(),
            )
        except optuna.exceptions.DuplicatedStudyError:
            existing = True  # created meanwhile by another worker: join it
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names([METRIC])
            uid = uuid.uuid4().hex
            study.set_user_attr(ATTR_CONFIG, base.to_dict())
            study.set_user_attr(ATTR_COHORT, cohort_hash)
            study.set_user_attr(ATTR_UID, uid)
            if on_create is not None:
                try:
                    on_create(study)
                except BaseException:  # a study without settings would hold up every joiner: remove it
                    optuna.delete_study(study_name=study_name, storage=store)
                    raise
            study.set_user_attr(ATTR_SETTINGS, settings.to_dict())  # last: joiners wait for it
            return TuneStudy(study, settings, base, cohort_hash, uid, url)

    loaded = optuna.load_study(study_name=study_name, storage=store)
    attrs = _wait_for_settings(loaded)
    settings = StudySettings.from_dict(attrs[ATTR_SETTINGS])
    asked = {"sampler": sampler, "seed": seed, "pruner": pruner, "space": space}
    differ = [
        f"{name}={value!r} (the study's: {getattr(settings, name)!r})"
        for name, value in asked.items()
        if value is not None and value != getattr(settings, name)
    ]
    stored = dict(attrs[ATTR_CONFIG])
    given = {"backbone": backbone, "task": task, **run_options}
    for name, value in given.items():
        if value is None or name in LOCAL_FIELDS:
            continue
        if _as_json(value) != _as_json(stored.get(name)):
            differ.append(f"{name}={value!r} (the study's: {stored.get(name)!r})")
    if differ:
        raise TuneError(
            f"study {study_name!r} in {_redacted(url)} was created with other settings: "
            + "; ".join(differ)
            + ". Every worker of a study must use the same; leave these out to take the study's, or name "
            "another --study"
        )
    if attrs[ATTR_COHORT] != cohort_hash:
        raise TuneError(
            f"cohort {cohort} (content hash {cohort_hash[:12]}) is not the cohort of study {study_name!r} "
            f"(hash {attrs[ATTR_COHORT][:12]}): trials on different data are not comparable"
        )
    if not task_specs:  # the creator's spec files, where this machine has them too
        task_specs = [file for file in stored.get("task_specs", ()) if Path(file).is_file()]
        for file in task_specs:
            register_spec_file(file)
    _check_backbone_and_task(stored["backbone"], stored["task"])
    local = {"cohort": str(cohort), "task_specs": tuple(str(p) for p in task_specs)}
    for name in ("workers", "checkpoint"):
        if run_options.get(name) is not None:
            local[name] = run_options[name]
    base = _config_from_dict({**stored, **local})
    study = optuna.load_study(
        study_name=study_name, storage=store, sampler=settings.build_sampler(), pruner=settings.build_pruner()
    )
    return TuneStudy(study, settings, base, attrs[ATTR_COHORT], attrs[ATTR_UID], url)


def _check_backbone_and_task(backbone: str, task: str) -> None:
    from ecglab.backbones.registry import get_backbone_info
    from ecglab.tasks.registry import get_task

    try:
        get_backbone_info(backbone)
        get_task(task)
    except KeyError as err:
        raise TuneError(str(err.args[0])) from None


# ---------------------------------------------------------------------------------------------- trials
def _space_function(settings: StudySettings, backbone: str) -> Callable[[Any], Mapping[str, Any]] | None:
    from ecglab.backbones.registry import get_backbone_info

    info = get_backbone_info(backbone)
    target = settings.space or info.search_space
    if target is None:
        if info.kind == "baseline":
            raise TuneError(
                f"{backbone} declares no search space and has no trained parameters: give --space"
            )
        return None  # the framework's lr and weight_decay only
    try:
        space = info.resolve(target)
    except (ImportError, AttributeError, ValueError) as err:
        raise TuneError(f"search space {target!r} cannot be loaded: {err}") from err
    if not callable(space):
        raise TuneError(f"search space {target!r} is not a callable(trial) -> options")
    return space


def sample_options(
    trial: Any, backbone: str, space: Callable[[Any], Mapping[str, Any]] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(backbone options, RunConfig overrides) of one trial: the backbone's space, then for trained backbones
    the framework's ``lr`` and ``weight_decay``."""
    from ecglab.backbones.registry import get_backbone_info

    options = dict(space(trial)) if space is not None else {}
    reserved = sorted(set(trial.params) & set(FRAMEWORK_PARAMS))
    if reserved:
        raise TuneError(
            f"the search space of {backbone} names {reserved}, which the framework searches itself"
        )
    overrides: dict[str, Any] = {}
    if get_backbone_info(backbone).kind != "baseline":
        overrides["lr"] = trial.suggest_float("lr", *LR_RANGE, log=True)
        overrides["weight_decay"] = trial.suggest_float("weight_decay", *WEIGHT_DECAY_RANGE, log=True)
    return options, overrides


def pruning_callback(
    trial: Any, scores: list[tuple[int, float]] | None = None
) -> Callable[[int, float], None]:
    """The engine's epoch callback for a trial: report the validation macro AUROC, raise PrunedRun when the
    pruner says so. Epochs with no finite score are not reported (and cannot prune)."""
    from ecglab.bench.engine import PrunedRun

    def report(epoch: int, score: float) -> None:
        if scores is not None:
            scores.append((epoch, score))
        if not math.isfinite(score):
            return
        trial.report(score, epoch)
        if trial.should_prune():
            raise PrunedRun(f"trial {trial.number} pruned after epoch {epoch} ({METRIC} {score:.4f})")

    return report


def validation_macro_auroc(run_dir: str | Path) -> float:
    """The mean validation AUROC over targets (targets without both classes left out). A results file with
    test rows is refused: a search must never see the test split."""
    import pandas as pd

    results = pd.read_parquet(Path(run_dir) / "results.parquet", columns=["split", "auroc"])
    if (results["split"] == "test").any():
        raise TuneError(f"{run_dir}/results.parquet holds test rows; a search must use validation only")
    values = results.loc[results["split"] == "val", "auroc"].astype("float64").dropna()
    if values.empty:
        raise TuneError(f"{run_dir}: no target has both classes in the validation split (no AUROC)")
    return float(values.mean())


def _drop_checkpoints(run_dir: Path) -> None:
    for name in ("best.pt", "last.pt"):
        (run_dir / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- MLflow
def _client(uri: str) -> Any:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def ensure_parent_run(tuned: TuneStudy | Any, uri: str, experiment: str) -> str:
    """The MLflow run id of the study's parent run, created (and stored in the study) when it has none.
    Raises TuneError when the stored one is not in this tracking store or experiment."""
    from ecglab.bench.tracking import ensure_experiment, flatten

    study = tuned.study if isinstance(tuned, TuneStudy) else tuned
    experiment_id = ensure_experiment(uri, experiment)
    client = _client(uri)
    stored = study.user_attrs.get(ATTR_MLFLOW)
    if stored:
        parent = stored["parent_run_id"]
        try:
            run = client.get_run(parent)
        except Exception as err:
            raise TuneError(
                f"the MLflow parent run {parent} of study {study.study_name!r} is not in {_redacted(uri)} "
                f"(its trials are logged at {stored.get('tracking_uri')}): pass that --tracking-uri, or "
                "--no-track"
            ) from err
        if run.info.experiment_id != experiment_id:
            raise TuneError(
                f"the MLflow parent run of study {study.study_name!r} is in experiment "
                f"{stored.get('experiment')!r}, not {experiment!r}: "
                f"pass --experiment {stored.get('experiment')}"
            )
        return parent
    attrs = study.user_attrs
    config = attrs.get(ATTR_CONFIG, {})
    tags = {
        "ecglab.kind": "optuna-study",
        "ecglab.study": study.study_name,
        "ecglab.backbone": str(config.get("backbone", "")),
        "ecglab.task": str(config.get("task", "")),
    }
    run_id = client.create_run(experiment_id, run_name=f"optuna:{study.study_name}", tags=tags).info.run_id
    settings = attrs.get(ATTR_SETTINGS) or {}
    params = {f"study.{k}": v for k, v in flatten(settings)}
    params.update({k: v for k, v in flatten(config) if k not in LOCAL_FIELDS})
    from mlflow.entities import Param

    batch = [Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in params.items()]
    for start in range(0, len(batch), 100):
        client.log_batch(run_id, params=batch[start : start + 100])
    client.set_terminated(run_id, "FINISHED")
    study.set_user_attr(
        ATTR_MLFLOW, {"parent_run_id": run_id, "experiment": experiment, "tracking_uri": _redacted(uri)}
    )
    return run_id


def _log_unfinished(
    run_dir: Path,
    scores: list[tuple[int, float]],
    uri: str,
    experiment: str,
    parent: str,
    tags: dict[str, str],
) -> str:
    """A child run for a pruned trial (run.json says pruned, which log_run does not take): its config,
    the epochs it ran, status KILLED."""
    from mlflow.entities import Metric, Param, RunTag

    from ecglab.bench.tracking import (
        PARENT_TAG,
        RUN_ID_TAG,
        RunFolder,
        ensure_experiment,
        epoch_metrics,
        run_params,
        run_tags,
    )

    record = json.loads((run_dir / "run.json").read_text())
    history = [{"epoch": e, METRIC: s} for e, s in scores if math.isfinite(s)]
    folder = RunFolder(path=run_dir, record=record, history=history, results=None)
    client = _client(uri)
    experiment_id = ensure_experiment(uri, experiment)
    run_id = client.create_run(
        experiment_id, run_name=folder.name, tags={RUN_ID_TAG: folder.run_id, PARENT_TAG: parent}
    ).info.run_id
    now = int(time.time() * 1000)
    params = [Param(k, v) for k, v in run_params(folder).items()]
    run_tags_ = [RunTag(k, v) for k, v in run_tags(folder, tags).items()]
    for start in range(0, max(len(params), len(run_tags_)), 100):
        client.log_batch(run_id, params=params[start : start + 100], tags=run_tags_[start : start + 100])
    client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v, step in epoch_metrics(folder)])
    client.set_terminated(run_id, "KILLED")
    return run_id


# --------------------------------------------------------------------------------------------- tuning
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
    import optuna

    from ecglab.bench import engine
    from ecglab.bench.config import run_id
    from ecglab.tasks.registry import get_task

    runs_dir = Path(runs_dir)
    storage = storage or default_storage(runs_dir)
    if callable(space):
        space = f"{space.__module__}:{space.__qualname__}"
    uri = None
    if track:
        from ecglab.bench.tracking import ensure_experiment, resolve_tracking_uri

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
    study, base = tuned.study, tuned.base
    parent = None
    if uri is not None:
        stored = study.user_attrs.get(ATTR_MLFLOW) or {}
        if experiment is not None and stored and stored.get("experiment") != experiment:
            raise TuneError(
                f"study {tuned.name!r} logs to MLflow experiment {stored.get('experiment')!r}, "
                f"not {experiment!r}"
            )
        experiment = stored.get("experiment") or experiment or "ecglab"
        ensure_experiment(uri, experiment)
        parent = ensure_parent_run(tuned, uri, experiment)
    space_fn = _space_function(tuned.settings, base.backbone)
    spec = get_task(base.task)
    errors: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        options, overrides = sample_options(trial, base.backbone, space_fn)
        trial.set_user_attr(TRIAL_OPTIONS, _as_json(options))
        trial.set_user_attr(TRIAL_OVERRIDES, _as_json(overrides))
        config = dataclasses.replace(
            base,
            backbone_options={**base.backbone_options, **options},
            evaluate_test=False,
            label=f"optuna:{tuned.name}:{tuned.uid[:8]}:{trial.number}",
            **overrides,
        )
        identifier = run_id(config, spec.version, spec.digest(), tuned.cohort_hash)
        run_dir = runs_dir / identifier[:16]
        trial.set_user_attr("ecglab.run_dir", str(run_dir))
        trial.set_user_attr("ecglab.run_id", identifier)
        scores: list[tuple[int, float]] = []
        tags = {"ecglab.study": tuned.name, "ecglab.trial": str(trial.number)}
        try:
            engine.run_pairing(
                config,
                runs_dir,
                progress=progress,
                track=False,
                epoch_callback=pruning_callback(trial, scores),
            )
        except engine.PrunedRun as err:
            if not keep_checkpoints:
                _drop_checkpoints(run_dir)
            if uri is not None and parent is not None:
                _track(lambda: _log_unfinished(run_dir, scores, uri, experiment, parent, tags), trial)
            raise optuna.TrialPruned(str(err)) from None
        except Exception as err:
            message = f"{type(err).__name__}: {err}"
            errors.append(f"trial {trial.number}: {message}")
            trial.set_user_attr("ecglab.error", message[:2000])
            if (run_dir / "run.json").is_file() and uri is not None:
                from ecglab.bench.tracking import log_run

                _track(lambda: log_run(run_dir, uri, experiment, parent_run_id=parent, tags=tags), trial)
            raise
        value = validation_macro_auroc(run_dir)
        if not keep_checkpoints:
            _drop_checkpoints(run_dir)
        if uri is not None:
            from ecglab.bench.tracking import log_run

            def log() -> str:
                mlflow_id = log_run(run_dir, uri, experiment, parent_run_id=parent, tags=tags)
                _client(uri).log_metric(mlflow_id, METRIC, value)  # the objective (the run logs test only)
                return mlflow_id

            _track(log, trial)
        return value

    def _track(log: Callable[[], str], trial: optuna.Trial) -> None:
        try:
            trial.set_user_attr("ecglab.mlflow_run_id", log())
        except Exception as err:  # MLflow is a view: the trial's result stands
            trial.set_user_attr("ecglab.tracking_error", str(err)[:2000])
            out(f"trial {trial.number}: not logged to MLflow: {err}")

    mine: list[Any] = []

    def announce(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        mine.append(trial)
        value = f"{METRIC} {trial.value:.4f} " if trial.value is not None else ""
        if trial.state == optuna.trial.TrialState.PRUNED and trial.last_step is not None:
            value = (
                f"after epoch {trial.last_step} ({METRIC} {trial.intermediate_values[trial.last_step]:.4f}) "
            )
        if trial.user_attrs.get("ecglab.error"):
            value = f"({trial.user_attrs['ecglab.error'][:300]}) "
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        out(f"trial {trial.number}: {trial.state.name.lower()} {value}[{params}]")

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
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in mine:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    if parent is not None and uri is not None:
        _update_parent(uri, parent, trials, best)
    return TuneResult(
        study_name=tuned.name,
        storage=_redacted(storage),
        states=states,
        n_trials_study=len(trials),
        best_trial=None if best is None else best.number,
        best_value=None if best is None else float(best.value),
        best_params={} if best is None else dict(best.params),
        parent_run_id=parent,
        errors=errors,
    )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _update_parent(uri: str, parent: str, trials: Sequence[Any], best: Any) -> None:
    from mlflow.entities import Metric

    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    now, step = int(time.time() * 1000), len(trials)
    metrics = [Metric(f"n_trials_{state.lower()}", float(n), now, step) for state, n in counts.items()]
    if best is not None:
        metrics.append(Metric(f"best_{METRIC}", float(best.value), now, step))
        metrics.append(Metric("best_trial", float(best.number), now, step))
    with contextlib.suppress(Exception):  # a view only; the study holds the truth
        _client(uri).log_batch(parent, metrics=metrics)


# ------------------------------------------------------------------------------------------- tune-best
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
            fixed, tuned.base.backbone, _space_function(tuned.settings, tuned.base.backbone)
        )
    config = dataclasses.replace(
        tuned.base,
        backbone_options={**tuned.base.backbone_options, **options},
        evaluate_test=True,
        label=TUNED_LABEL,
        **overrides,
    )
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    if cohort is not None:
        config = dataclasses.replace(config, cohort=str(cohort))
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
) -> list[Path]:
    """Run the best trial's configuration on the test split, once per seed (default: the study's training
    seed); returns the run folders (label ``tuned``; finished ones are not redone unless ``force``). The
    cohort, checkpoint and task spec files default to the paths the study was created with."""
    import optuna

    from ecglab.bench import engine

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs_dir = Path(runs_dir)
    storage = storage or default_storage(runs_dir)
    store = open_storage(storage)
    if study_name not in optuna.get_all_study_names(store):
        raise TuneError(f"no study {study_name!r} in {_redacted(storage)}")
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
            )
        )
    return runs

"""Creating or joining a study: what the study stores when it is created (settings, run configuration, cohort
hash), the checks a joining worker passes, and the run configurations built from the study's.

A worker passes its own cohort path (and checkpoint, task spec files and data-loader workers, which are per
machine), and must not change the rest: what it asks is compared with what the study stores, and a
difference is refused with a clear error. Every run configuration is built by
:func:`ecglab.bench.config.build_run_config`.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecglab.bench.config import FIELDS, ConfigError, RunConfig, build_run_config, coerce_field
from ecglab.bench.tracking import redact_uri
from ecglab.bench.tune.settings import (
    ATTR_COHORT,
    ATTR_CONFIG,
    ATTR_SETTINGS,
    ATTR_UID,
    LOCAL_FIELDS,
    METRIC,
    NOT_RUN_OPTIONS,
    SETTLE_S,
    StudySettings,
    TuneError,
    new_settings,
)
from ecglab.bench.tune.storage import fail_dead_trials, open_storage


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


@dataclass(frozen=True)
class _Request:
    """What a worker asks of a study (None: take the study's)."""

    url: str
    name: str
    cohort: str | Path
    cohort_hash: str
    backbone: str | None
    task: str | None
    run_options: dict[str, Any]
    sampler: str | None
    pruner: str | None
    seed: int | None
    space: str | None
    task_specs: Sequence[str | Path]

    def local(self, task_specs: Sequence[str | Path]) -> dict[str, Any]:
        """This worker's own fields: its cohort path and spec files, and the workers and checkpoint given."""
        local: dict[str, Any] = {"cohort": str(self.cohort), "task_specs": tuple(str(p) for p in task_specs)}
        for name in ("workers", "checkpoint"):
            if self.run_options.get(name) is not None:
                local[name] = self.run_options[name]
        return local


def as_json(value: Any) -> Any:
    """``value`` as it comes back from a study's user attributes (JSON)."""
    return json.loads(json.dumps(value, default=str))


def checked_run_options(run_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """RunConfig fields fixed for every trial, each coerced as RunConfig takes it; the searched, per-pairing
    and tune's own fields are refused."""
    run_options = dict(run_options or {})
    bad = sorted(set(run_options) & set(NOT_RUN_OPTIONS))
    if bad:
        raise TuneError(
            f"run options {bad} cannot be fixed for a search: lr and weight_decay are searched; backbone, "
            "task, cohort and task_specs have their own arguments; label and evaluate_test are tune's"
        )
    unknown = sorted(set(run_options) - set(FIELDS))
    if unknown:
        raise TuneError(f"unknown run options {unknown} (RunConfig fields, as in `ecglab train`)")
    try:
        return {name: coerce_field(name, value) for name, value in run_options.items()}
    except ConfigError as err:
        raise TuneError(f"run options: {err}") from None


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
    run_options = checked_run_options(run_options)
    for file in task_specs:
        register_spec_file(file)
    cohort_hash = open_cohort(cohort).content_hash
    if study_name is None:
        if not (backbone and task):
            raise TuneError("name the study (--study NAME) or give --backbone and --task")
        study_name = f"{backbone}-{run_options.get('preset', 'tiny')}-{task}"
    request = _Request(
        url=storage,
        name=study_name,
        cohort=cohort,
        cohort_hash=cohort_hash,
        backbone=backbone,
        task=task,
        run_options=run_options,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        space=space,
        task_specs=task_specs,
    )
    store = open_storage(storage)
    if study_name not in optuna.get_all_study_names(store):
        if not create:
            raise TuneError(f"no study {study_name!r} in {redact_uri(storage)}")
        created = _create(request, store, on_create)
        if created is not None:
            return created
    return _join(request, store)


def _create(request: _Request, store: Any, on_create: Callable[[Any], None] | None) -> TuneStudy | None:
    """The new study, its settings and run configuration stored; None when another worker created it
    meanwhile (then it is joined)."""
    import optuna

    if not (request.backbone and request.task):
        raise TuneError(f"study {request.name!r} does not exist yet: creating it needs --backbone and --task")
    check_backbone_and_task(request.backbone, request.task)
    settings = new_settings(request.sampler, request.seed, request.pruner, request.space)
    values = {
        "backbone": request.backbone,
        "task": request.task,
        "cohort": str(request.cohort),
        "task_specs": tuple(str(p) for p in request.task_specs),
        **request.run_options,
        "evaluate_test": False,
        "label": "",
    }
    try:
        base = build_run_config(values, source=f"study {request.name!r}")
    except ConfigError as err:
        raise TuneError(str(err)) from err
    try:
        study = optuna.create_study(
            storage=store,
            study_name=request.name,
            direction="maximize",
            sampler=settings.build_sampler(),
            pruner=settings.build_pruner(),
        )
    except optuna.exceptions.DuplicatedStudyError:
        return None  # created meanwhile by another worker: join it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([METRIC])
    uid = uuid.uuid4().hex
    study.set_user_attr(ATTR_CONFIG, base.to_dict())
    study.set_user_attr(ATTR_COHORT, request.cohort_hash)
    study.set_user_attr(ATTR_UID, uid)
    if on_create is not None:
        try:
            on_create(study)
        except BaseException:  # a study without settings would hold up every joiner: remove it
            optuna.delete_study(study_name=request.name, storage=store)
            raise
    study.set_user_attr(ATTR_SETTINGS, settings.to_dict())  # last: joiners wait for it
    return TuneStudy(study, settings, base, request.cohort_hash, uid, request.url)


def _join(request: _Request, store: Any) -> TuneStudy:
    """The existing study, once what this worker asks matches what it stores."""
    import optuna

    from ecglab.tasks.registry import register_spec_file

    loaded = optuna.load_study(study_name=request.name, storage=store)
    attrs = _wait_for_settings(loaded)
    settings = StudySettings.from_dict(attrs[ATTR_SETTINGS])
    stored = dict(attrs[ATTR_CONFIG])
    differ = _differences(request, settings, stored)
    if differ:
        raise TuneError(
            f"study {request.name!r} in {redact_uri(request.url)} was created with other settings: "
            + "; ".join(differ)
            + ". Every worker of a study must use the same; leave these out to take the study's, or name "
            "another --study"
        )
    if attrs[ATTR_COHORT] != request.cohort_hash:
        raise TuneError(
            f"cohort {request.cohort} (content hash {request.cohort_hash[:12]}) is not the cohort of study "
            f"{request.name!r} (hash {attrs[ATTR_COHORT][:12]}): trials on different data are not comparable"
        )
    task_specs = request.task_specs
    if not task_specs:  # the creator's spec files, where this machine has them too
        task_specs = [file for file in stored.get("task_specs", ()) if Path(file).is_file()]
        for file in task_specs:
            register_spec_file(file)
    check_backbone_and_task(stored["backbone"], stored["task"])
    base = build_run_config(
        {**stored, **request.local(task_specs)}, source=f"study {request.name!r} run configuration"
    )
    study = optuna.load_study(
        study_name=request.name,
        storage=store,
        sampler=settings.build_sampler(),
        pruner=settings.build_pruner(),
    )
    fail_dead_trials(study)  # a killed worker's trials: failed and queued again, before this one starts
    return TuneStudy(study, settings, base, attrs[ATTR_COHORT], attrs[ATTR_UID], request.url)


def _differences(request: _Request, settings: StudySettings, stored: Mapping[str, Any]) -> list[str]:
    asked = {
        "sampler": request.sampler,
        "seed": request.seed,
        "pruner": request.pruner,
        "space": request.space,
    }
    differ = [
        f"{name}={value!r} (the study's: {getattr(settings, name)!r})"
        for name, value in asked.items()
        if value is not None and value != getattr(settings, name)
    ]
    given = {"backbone": request.backbone, "task": request.task, **request.run_options}
    for name, value in given.items():
        if value is None or name in LOCAL_FIELDS:
            continue
        if as_json(value) != as_json(stored.get(name)):
            differ.append(f"{name}={value!r} (the study's: {stored.get(name)!r})")
    return differ


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


def check_backbone_and_task(backbone: str, task: str) -> None:
    """Refuse a backbone or task this machine does not know (with the registries' close matches)."""
    from ecglab.backbones.registry import get_backbone_info
    from ecglab.tasks.registry import get_task

    try:
        get_backbone_info(backbone)
        get_task(task)
    except KeyError as err:
        raise TuneError(str(err.args[0])) from None

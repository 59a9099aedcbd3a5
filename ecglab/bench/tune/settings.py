"""What every worker of a study shares: the sampler, its seed, the pruner, their options and the search space
(:class:`StudySettings`), and the names under which ecglab stores things in an Optuna study.

The sampler is reseeded for each trial from (seed, trial number) (:func:`trial_seeded_sampler`): one worker
is reproducible, and workers sharing a seed still draw different trials. Importing this module imports no
optuna.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


class TuneError(EcglabError):
    """A study that cannot be created, joined or used as asked."""


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


def new_settings(
    sampler: str | None, seed: int | None, pruner: str | None, space: str | None
) -> StudySettings:
    """The settings of a study being created: the defaults where nothing is asked (tpe, seed 0, median)."""
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

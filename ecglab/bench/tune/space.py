"""What a trial samples: the backbone's declared search space (``BackboneInfo.search_space``, or a
``module:callable`` the study names with ``space``), then for trained backbones the framework's own ``lr``
(log-uniform in [1e-5, 1e-2]) and ``weight_decay`` (log-uniform in [1e-6, 1e-1]).

A backbone declares one space, for its full size. A study of another preset (``tiny``, the default) searches
that preset's space: the options the preset sets (model size: widths, depths, ...) stay at the preset's
values and the space's other options are searched (:class:`PresetSpace`), so ``--preset tiny`` trains tiny
models. A space the study names with ``space`` is searched as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ecglab.bench.tune.settings import (
    FRAMEWORK_PARAMS,
    LR_RANGE,
    WEIGHT_DECAY_RANGE,
    StudySettings,
    TuneError,
)

FULL_PRESET = "full"  # the preset a backbone's declared space is written for


class PinnedTrial:
    """An Optuna trial whose suggestions of the ``fixed`` names return those values (not searched, not
    recorded as parameters); every other call goes to the trial."""

    def __init__(self, trial: Any, fixed: Mapping[str, Any]) -> None:
        self._trial, self._fixed = trial, dict(fixed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._fixed[name] if name in self._fixed else self._trial.suggest_categorical(name, choices)

    def suggest_int(self, name: str, low: int, high: int, **kwargs: Any) -> Any:
        return (
            self._fixed[name] if name in self._fixed else self._trial.suggest_int(name, low, high, **kwargs)
        )

    def suggest_float(self, name: str, low: float, high: float, **kwargs: Any) -> Any:
        if name in self._fixed:
            return self._fixed[name]
        return self._trial.suggest_float(name, low, high, **kwargs)


class PresetSpace:
    """A backbone's declared space searched at a preset: the preset's options fixed (and left out of the
    sampled options, the preset supplies them), the rest searched."""

    def __init__(self, space: Callable[[Any], Mapping[str, Any]], preset: str, fixed: Mapping[str, Any]):
        self.space, self.preset, self.fixed = space, preset, dict(fixed)

    def __call__(self, trial: Any) -> dict[str, Any]:
        options = dict(self.space(PinnedTrial(trial, self.fixed)))
        return {k: v for k, v in options.items() if k not in self.fixed}


def describe_space(space: Callable[[Any], Mapping[str, Any]] | None, backbone: str) -> str:
    """What a study searches, in words (for the line a worker prints when it starts)."""
    if space is None:
        return f"{backbone} declares no search space: tuning learning rate and weight decay only"
    if isinstance(space, PresetSpace):
        fixed = ", ".join(f"{k}={v}" for k, v in sorted(space.fixed.items()))
        return f"{backbone}'s search space at preset {space.preset} (fixed by the preset: {fixed})"
    name = getattr(space, "__qualname__", repr(space))
    return f"{backbone}: search space {getattr(space, '__module__', '')}:{name}"


def space_function(
    settings: StudySettings, backbone: str, preset: str | None = None
) -> Callable[[Any], Mapping[str, Any]] | None:
    """The callable(trial) -> backbone options of the study's space (the backbone's declared space at
    ``preset``, see the module docstring); None: the framework's parameters only."""
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
    fixed = info.presets.get(preset or FULL_PRESET, {})
    if settings.space is None and preset not in (None, FULL_PRESET) and fixed:
        return PresetSpace(space, str(preset), fixed)
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

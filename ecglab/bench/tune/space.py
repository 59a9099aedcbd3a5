"""What a trial samples: the backbone's declared search space (``BackboneInfo.search_space``, or a
``module:callable`` the study names with ``space``), then for trained backbones the framework's own ``lr``
(log-uniform in [1e-5, 1e-2]) and ``weight_decay`` (log-uniform in [1e-6, 1e-1])."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecglab.bench.tune.settings import (
    FRAMEWORK_PARAMS,
    LR_RANGE,
    WEIGHT_DECAY_RANGE,
    StudySettings,
    TuneError,
)


def space_function(settings: StudySettings, backbone: str) -> Callable[[Any], Mapping[str, Any]] | None:
    """The callable(trial) -> backbone options of the study's space; None: the framework's parameters
    only."""
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

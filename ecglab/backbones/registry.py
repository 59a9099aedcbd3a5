"""The backbone registry: metadata for every backbone, the model code imported only when one is created.

A backbone is a torch module mapping an ECG batch (batch, leads, samples) to features (batch, feature_dim)
through ``forward_features``; the framework owns heads, loss and fine-tuning. Built-ins are declared in
``ecglab/backbones/builtin.py``; other packages register through the ``ecglab.backbones`` entry-point group,
whose entries point at a ``BackboneInfo`` (or a list of them) in a light module. Listing reads metadata only.
"""

from __future__ import annotations

import inspect
from typing import Any

from ecglab.backbones.builtin import BUILTIN
from ecglab.backbones.errors import BadOption, UnknownPreset, check_option_names, did_you_mean
from ecglab.backbones.info import BackboneInfo
from ecglab.registry import Registry

ENTRY_POINT_GROUP = "ecglab.backbones"


def new_registry() -> Registry[BackboneInfo]:
    """A fresh registry of the built-ins and the installed entry points (loaded on first use)."""
    return Registry("backbone", BackboneInfo, lambda: BUILTIN, ENTRY_POINT_GROUP, BackboneInfo.check)


REGISTRY = new_registry()


def register_backbone(info: BackboneInfo) -> BackboneInfo:
    """Add a backbone; a second one of the same name raises."""
    return REGISTRY.register(info)


def list_backbones(pattern: str | None = None) -> list[str]:
    return REGISTRY.names(pattern)


def get_backbone_info(name: str) -> BackboneInfo:
    return REGISTRY.get(name)


def preset_options(info: BackboneInfo, preset: str) -> dict[str, Any]:
    """The options of one of the backbone's presets; :class:`UnknownPreset` (with close matches) if it has
    no such preset."""
    if preset not in info.presets:
        hint = did_you_mean(preset, info.presets, "presets")
        listing = f" (presets: {', '.join(info.presets)})" if hint.startswith("; did") else ""
        raise UnknownPreset(f"backbone {info.name!r} has no preset {preset!r}{hint}{listing}")
    return dict(info.presets[preset])


def check_options(name: str, preset: str, options: dict[str, Any]) -> None:
    """Check a backbone name, preset and option names without building anything (imports the factory's
    module): unknown ones raise one-line errors with close matches. A factory taking ``**options`` forwards
    them: only its own named options are checked here, the rest by the factory when it is built."""
    info = get_backbone_info(name)
    check_option_types(name, preset_options(info, preset), options)
    parameters = inspect.signature(info.resolve(info.factory)).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    check_option_names(name, options, named)


def option_kind(value: Any) -> str | None:
    """The kind an option's value has, as a preset states it: integer, number, true/false, text, list; None
    for values of no checked kind (None, mappings)."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    return None


def check_option_types(name: str, preset: dict[str, Any], options: dict[str, Any]) -> None:
    """An option given for one the preset sets must be of the preset value's kind (an integer for a float
    option is fine): ``--option d_model=abc`` is a one-line :class:`BadOption`, not a traceback from inside
    the model."""
    for key, value in options.items():
        expected = option_kind(preset.get(key))
        if expected is None or key not in preset:
            continue
        given = option_kind(value)
        if given != expected and not (expected == "a number" and given == "an integer"):
            raise BadOption(
                f"backbone {name!r} option {key}: expected {expected} (the preset has {preset[key]!r}), "
                f"got {value!r}"
            )


def create_backbone(name: str, preset: str = "full", **options: Any) -> Any:
    """Build backbone ``name`` with a preset's options, overridden by ``options``; an unknown preset or
    option raises a one-line :class:`~ecglab.backbones.errors.BackboneError` with close matches. What a
    factory is given in a run (``in_channels`` always, ``checkpoint``, ``fs``) is documented in one place:
    :class:`~ecglab.backbones.info.InputContract`."""
    check_options(name, preset, options)
    info = get_backbone_info(name)
    return info.resolve(info.factory)(**{**preset_options(info, preset), **options})

"""The backbone registry: metadata for every backbone, the model code imported only when one is created.

A backbone is a torch module mapping an ECG batch (batch, leads, samples) to features (batch, feature_dim)
through ``forward_features``; the framework owns heads, loss and fine-tuning. Built-ins are declared in
``backbones/builtin.py``; other packages register through the ``ecglab.backbones`` entry-point group, whose
entries point at a ``BackboneInfo`` (or a list of them) in a light module. Listing reads metadata only.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "ecglab.backbones"


@dataclass(frozen=True)
class InputContract:
    """What a backbone expects: leads by name (None: any number, set by ``in_channels``), sampling rate,
    window length in seconds (None: any), and the normalisation the framework applies to each input record:
    ``zscore`` (one mean and standard deviation over the record's leads and samples) or ``none``."""

    leads: tuple[str, ...] | None = None
    fs: float = 500.0
    seconds: float | None = 10.0
    normalisation: str = "none"


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    factory: str  # "module:callable" returning the torch module (or the baseline model)
    summary: str
    input: InputContract = field(default_factory=InputContract)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # at least "full" and "tiny"
    n_parameters: dict[str, int] = field(default_factory=dict)  # per preset, with the preset's own options
    licence: str = ""
    reference: str = ""
    pretraining_data: tuple[str, ...] = ()
    search_space: str | None = None  # "module:callable(trial) -> dict of options"
    kind: str = "torch"  # "torch": a feature extractor; "baseline": a scikit-learn model on derived features
    expected_leads: str | None = None  # "module:callable(in_channels) -> lead names" for pretrained weights

    def resolve(self, target: str) -> Callable[..., Any]:
        module, _, attribute = target.partition(":")
        if not attribute:
            raise ValueError(f"backbone {self.name!r}: {target!r} is not of the form 'module:callable'")
        return getattr(importlib.import_module(module), attribute)


_REGISTRY: dict[str, BackboneInfo] = {}
_LOADED = False


def register_backbone(info: BackboneInfo) -> BackboneInfo:
    """Add a backbone; a second one of the same name raises."""
    if info.name in _REGISTRY:
        raise ValueError(
            f"backbone {info.name!r} is already registered (factory {_REGISTRY[info.name].factory})"
        )
    missing = {"full", "tiny"} - set(info.presets)
    if info.kind == "torch" and missing:
        raise ValueError(f"backbone {info.name!r}: presets {sorted(missing)} are required")
    _REGISTRY[info.name] = info
    return info


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from backbones import builtin

    for info in builtin.BUILTIN:
        register_backbone(info)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()
        for info in loaded if isinstance(loaded, Iterable) else [loaded]:
            if not isinstance(info, BackboneInfo):
                raise TypeError(
                    f"entry point {entry.name} ({entry.value}) gave {type(info).__name__}, "
                    "expected BackboneInfo or a list of them"
                )
            register_backbone(info)


def list_backbones(pattern: str | None = None) -> list[str]:
    _load()
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def get_backbone_info(name: str) -> BackboneInfo:
    _load()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(_REGISTRY))}"
        raise KeyError(f"unknown backbone {name!r}{hint}")
    return _REGISTRY[name]


def create_backbone(name: str, preset: str = "full", **options: Any) -> Any:
    """Build backbone ``name`` with a preset's options, overridden by ``options``."""
    info = get_backbone_info(name)
    if preset not in info.presets:
        raise KeyError(f"backbone {name!r} has no preset {preset!r} (presets: {', '.join(info.presets)})")
    return info.resolve(info.factory)(**{**info.presets[preset], **options})

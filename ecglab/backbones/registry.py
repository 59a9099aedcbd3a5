"""The backbone registry: metadata for every backbone, the model code imported only when one is created.

A backbone is a torch module mapping an ECG batch (batch, leads, samples) to features (batch, feature_dim)
through ``forward_features``; the framework owns heads, loss and fine-tuning. Built-ins are declared in
``ecglab/backbones/builtin.py``; other packages register through the ``ecglab.backbones`` entry-point group,
whose entries point at a ``BackboneInfo`` (or a list of them) in a light module. Listing reads metadata only.
"""

from __future__ import annotations

from typing import Any

from ecglab.backbones.builtin import BUILTIN
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


def create_backbone(name: str, preset: str = "full", **options: Any) -> Any:
    """Build backbone ``name`` with a preset's options, overridden by ``options``."""
    info = get_backbone_info(name)
    if preset not in info.presets:
        raise KeyError(f"backbone {name!r} has no preset {preset!r} (presets: {', '.join(info.presets)})")
    return info.resolve(info.factory)(**{**info.presets[preset], **options})

"""Parameter counts, computed rather than declared: each preset is built on the CPU with the leads it is
built with outside a task (:meth:`BackboneInfo.in_channels`) and its parameters counted. A real build is
cheap (the full ECGFounder, 30.7M parameters, in about 0.4 s and 120 MB) and exact whatever the factory
does; torch's ``meta`` device would allocate nothing but costs seconds on its first use (it imports sympy)
and fails on factories that read their parameters' values. Imports torch and the backbone's model code."""

from __future__ import annotations

from dataclasses import dataclass

from ecglab.backbones.info import BackboneInfo
from ecglab.backbones.registry import create_backbone


@dataclass(frozen=True)
class Count:
    """A preset's parameters: all of them (``total``) and those that train (``trainable``)."""

    total: int
    trainable: int


def count_parameters(info: BackboneInfo, preset: str) -> Count:
    """The parameters of ``info``'s torch backbone at ``preset`` (its preset options and
    :meth:`BackboneInfo.in_channels`); a factory that fails raises as it does."""
    model = create_backbone(info.name, preset, in_channels=info.in_channels(preset))
    parameters = list(model.parameters())
    return Count(sum(p.numel() for p in parameters), sum(p.numel() for p in parameters if p.requires_grad))


def format_count(total: int) -> str:
    """A parameter count for a listing: ``30.67M``, ``58.0k``, ``512``."""
    if total >= 1_000_000:
        return f"{total / 1e6:.2f}M"
    if total >= 1_000:
        return f"{total / 1e3:.1f}k"
    return str(total)

"""Parameter counts, computed rather than declared: each preset is built on torch's ``meta`` device (shapes
without storage, so the full ECGFounder counts in a fraction of a second and allocates nothing), with the
leads it is built with outside a task (:meth:`BackboneInfo.in_channels`). A factory that cannot build on
the meta device (one that reads its parameters' values while it builds) is counted by a real CPU build.
Imports torch and the backbone's model code."""

from __future__ import annotations

from dataclasses import dataclass

from ecglab.backbones.info import BackboneInfo
from ecglab.backbones.registry import create_backbone

ON_META = "meta"
ON_CPU = "cpu"


@dataclass(frozen=True)
class Count:
    """A preset's trainable and frozen parameters (``total``), and where it was counted: ``meta``, or
    ``cpu`` after the meta build failed (``meta_error`` says how)."""

    total: int
    device: str
    meta_error: str = ""


def count_parameters(info: BackboneInfo, preset: str) -> Count:
    """The parameters of ``info``'s torch backbone at ``preset`` (its preset options and
    :meth:`BackboneInfo.in_channels`); a factory that fails on the CPU too raises as it does."""
    import torch

    options = {"in_channels": info.in_channels(preset)}
    try:
        with torch.device(ON_META):
            model = create_backbone(info.name, preset, **options)
        return Count(sum(p.numel() for p in model.parameters()), ON_META)
    except (NotImplementedError, RuntimeError) as err:  # reads a meta tensor's value: count a real build
        meta_error = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    model = create_backbone(info.name, preset, **options)
    return Count(sum(p.numel() for p in model.parameters()), ON_CPU, meta_error)


def format_count(total: int) -> str:
    """A parameter count for a listing: ``30.67M``, ``58.0k``, ``512``."""
    if total >= 1_000_000:
        return f"{total / 1e6:.2f}M"
    if total >= 1_000:
        return f"{total / 1e3:.1f}k"
    return str(total)

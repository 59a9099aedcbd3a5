"""What a backbone declares about itself: its input contract, presets, provenance, search space, and the
layout the framework's fine-tune modes need (stem and stages), as timm's pretrained configs declare
``first_conv`` and ``classifier``. Light: importing it imports no model code."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("torch", "baseline")
BASELINE_INPUTS = ("tabular", "ecg_features")


@dataclass(frozen=True)
class FineTuneLayout:
    """Parameter-name prefixes of a staged backbone: ``stem`` (frozen with the first stage) and ``stages``,
    the prefix of the numbered stages (``stages.0.``, ``stages.1.``, ...). ``fine_tune=frozen_stages`` needs
    it; a backbone without one cannot be trained in that mode."""

    stem: tuple[str, ...]
    stages: str

    def stage_of(self, parameter: str) -> int | None:
        """-1 for a stem parameter, the stage number for a stage's, None for the rest."""
        if parameter.startswith(self.stem):
            return -1
        prefix = self.stages + "."
        if parameter.startswith(prefix):
            return int(parameter[len(prefix) :].split(".")[0])
        return None


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
    layout: FineTuneLayout | None = None  # stem and stages, for fine_tune=frozen_stages
    baseline_input: str | None = None  # baselines: "tabular" (side inputs) or "ecg_features" (segments)

    def check(self) -> None:
        """Raise ValueError for metadata the framework cannot use."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        missing = {"full", "tiny"} - set(self.presets)
        if self.kind == "torch" and missing:
            raise ValueError(f"presets {sorted(missing)} are required")
        if self.kind == "baseline" and self.baseline_input not in BASELINE_INPUTS:
            raise ValueError(f"a baseline declares baseline_input, one of {BASELINE_INPUTS}")

    def resolve(self, target: str) -> Callable[..., Any]:
        module, _, attribute = target.partition(":")
        if not attribute:
            raise ValueError(f"backbone {self.name!r}: {target!r} is not of the form 'module:callable'")
        return getattr(importlib.import_module(module), attribute)

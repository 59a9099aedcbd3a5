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
NORMALISATIONS = ("zscore", "none")
DEFAULT_IN_CHANNELS = 12  # leads of a preset without in_channels, for a contract of any leads


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
    """What a backbone expects of its input, and what its factory is given. One contract for every backbone.

    **The factory** (``BackboneInfo.factory``) is called with keyword arguments only: the preset's options,
    the user's ``--option`` values over them, and from the framework

    - ``in_channels``, always: the number of leads the task feeds, the rows of the input batch. When the
      contract names its ``leads`` it equals ``len(leads)`` (a task with other leads is refused unless
      ``--allow-lead-mismatch``, and then it is the task's count). A user option ``in_channels`` that differs
      is refused; a preset's ``in_channels`` is what the conformance suite and the parameter counts use.
    - ``checkpoint``: only with ``--checkpoint`` (a factory without that argument refuses the flag).
    - ``fs``: the task's sampling rate, only when the options set ``preprocess`` (a backbone filtering its
      own input at the rate it really receives).

    Nothing else: rate and length reach the backbone only as the input batch ``(batch, in_channels,
    samples)``, which the task decides (its ``input.fs`` and ``input.seconds``). The built-in torch factories
    (ecgfounder, s4, transformer, timm) all take ``in_channels`` (timm accepts and ignores it: leads are the
    image's height); the baselines (tabular, ecg_features) are scikit-learn models built from their options
    alone, fitted on derived features, not torch factories.

    **Fields.** ``leads``: lead names in input order (None: any leads, the task's). ``fs`` (Hz) and
    ``seconds`` (None: any length): what the backbone was designed for; the conformance suite builds its
    test batch from them. With ``required=False`` (the default) they are hints: a task that feeds another rate
    or length trains, and the run prints one warning line naming both; with ``required=True`` they are
    requirements: such a task is refused with a one-line error before anything is built. ``normalisation``:
    what the framework applies to each input record before the backbone, ``zscore`` (one mean and standard
    deviation over the record's leads and samples, as every built-in torch backbone) or ``none`` (the
    store's values as they are)."""

    leads: tuple[str, ...] | None = None
    fs: float = 500.0
    seconds: float | None = 10.0
    normalisation: str = "none"
    required: bool = False

    def describe(self) -> str:
        """The contract in words (``ecglab backbones list``): leads, rate, length, the rule, normalisation."""
        if self.leads == ():
            return "no ECG input (side inputs only)"
        leads = "any" if self.leads is None else ",".join(self.leads)
        rule = "required" if self.required else "a hint: the task decides"
        return f"leads {leads}, {self.declared()} ({rule}); normalisation {self.normalisation}"

    def declared(self) -> str:
        """The declared rate and length in words: ``500 Hz, 10 s`` (``any length`` without ``seconds``)."""
        return f"{self.fs:g} Hz, " + ("any length" if self.seconds is None else f"{self.seconds:g} s")

    def matches(self, fs: float, seconds: float) -> bool:
        """Whether a task feeding ``fs`` Hz, ``seconds``-s crops feeds what the contract declares (always
        for a contract without ECG input)."""
        if self.leads == ():
            return True
        return float(fs) == float(self.fs) and (self.seconds is None or float(seconds) == float(self.seconds))


@dataclass(frozen=True)
class BackboneInfo:
    """A registered backbone: name, ``factory`` ("module:callable", imported only when the backbone is
    built; what it is called with: :class:`InputContract`), the input contract, presets (options by preset
    name, at least ``full`` and ``tiny``), licence, reference, pretraining data and the optional parts:
    ``search_space`` (without one, ``ecglab tune`` searches learning rate and weight decay only),
    ``expected_leads``, ``layout``. Parameter counts are computed (:mod:`ecglab.backbones.counting`), never
    declared: ``n_parameters`` is deprecated and ignored."""

    name: str
    factory: str  # "module:callable" returning the torch module (or the baseline model)
    summary: str
    input: InputContract = field(default_factory=InputContract)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # at least "full" and "tiny"
    n_parameters: dict[str, int] | None = None  # deprecated, ignored: counts are computed
    licence: str = ""
    reference: str = ""
    pretraining_data: tuple[str, ...] = ()
    search_space: str | None = None  # optional "module:callable(trial) -> dict of options"
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
        if self.input.normalisation not in NORMALISATIONS:
            raise ValueError(
                f"input normalisation must be one of {NORMALISATIONS}, got {self.input.normalisation!r}"
            )

    def in_channels(self, preset: str) -> int:
        """The leads a preset is built with outside a task (the conformance suite, parameter counts): the
        contract's named leads, else the preset's ``in_channels``, else 12."""
        if self.input.leads:
            return len(self.input.leads)
        return int(self.presets[preset].get("in_channels", DEFAULT_IN_CHANNELS))

    def resolve(self, target: str) -> Callable[..., Any]:
        """The callable a ``module:callable`` target names (importing its module)."""
        module, _, attribute = target.partition(":")
        if not attribute:
            raise ValueError(f"backbone {self.name!r}: {target!r} is not of the form 'module:callable'")
        return getattr(importlib.import_module(module), attribute)

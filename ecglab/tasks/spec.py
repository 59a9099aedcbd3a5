"""Task specs: declarative, versioned definitions of what a task's inputs and labels are.

A spec names everything that defines its labels (anchors, window or horizon, panel, split, evaluation
sampling, input contract) and how training samples its inputs (``train``). Specs live in YAML files under
``ecglab/tasks/specs/`` (or a user's file); a ``grid`` in a file expands one spec into several tasks, e.g.
one per forecasting horizon, with ``{placeholders}`` in the name filled from the grid values. Changing
anything that changes labels requires a new ``version``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

KINDS = ("window_estimation", "closest_estimation", "forecast")
PANELS = ("anyecg_lab", "cardiolab", "csv")
SPLITS = ("patient", "source", "temporal")
POOLINGS = ("mean",)
SAMPLINGS = ("anchor", "pair")


@dataclass(frozen=True)
class PanelSpec:
    """Which targets: the AnyECG-Lab panel, the CardioLab rule, or a user CSV (see ecglab.tasks.panels)."""

    kind: str = "anyecg_lab"
    path: str | None = None
    min_positives: int = 10
    min_negatives: int = 10


@dataclass(frozen=True)
class SplitSpec:
    """How patients are split. ``patient``: seeded, stratified on label prevalence, by patient.
    ``source``: the cohort's own split column (e.g. MC-MED's ``split_random``). ``temporal``: by the
    patients' ``temporal_key`` (earliest to ``train``)."""

    kind: str = "patient"
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    seed: int = 0
    column: str | None = None


@dataclass(frozen=True)
class EvalSpec:
    """How an anchor is scored at evaluation: up to ``max_segments`` random segments (AnyECG-Lab: 200), or
    ``crops`` non-overlapping crops of one segment (CardioLab: 4); probabilities pooled by ``pooling``."""

    max_segments: int | None = 200
    crops: int | None = None
    pooling: str = "mean"
    seed: int = 0


@dataclass(frozen=True)
class InputSpec:
    """What a backbone receives: leads by name, sampling rate and crop length."""

    leads: tuple[str, ...] = ("II",)
    fs: float = 500.0
    seconds: float = 10.0


@dataclass(frozen=True)
class TrainSpec:
    """How training visits the training split and scores validation between epochs. ``sampling``: ``anchor``
    (one random segment per anchor and epoch) or ``pair`` (every (anchor, segment) pair once per epoch, as
    AnyECG-Lab trained). ``val_segments``: validation during training scores at most this many of each
    anchor's evaluated segments, one seeded subset for every epoch (null: all of them); the final scoring of
    validation and test always uses all of them. Left out of :meth:`TaskSpec.to_dict` (and so of the
    digests) at its defaults, so specs written before it keep their digests."""

    sampling: str = "anchor"
    val_segments: int | None = None


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: str
    kind: str
    description: str = ""
    window_min: float | None = None  # window_estimation and closest_estimation: +/- minutes
    train_window_min: float | None = None  # window_estimation: inputs of the training split (default window)
    horizon_min: float | None = None  # forecast: [t, t + horizon]
    panel: PanelSpec = field(default_factory=PanelSpec)
    split: SplitSpec = field(default_factory=SplitSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)
    input: InputSpec = field(default_factory=InputSpec)
    tabular: bool = False
    tags: tuple[str, ...] = ()
    train: TrainSpec = field(default_factory=TrainSpec)

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {KINDS}")
        if self.kind in ("window_estimation", "closest_estimation") and not self.window_min:
            problems.append("window_min is required")
        if self.kind == "forecast" and not self.horizon_min:
            problems.append("horizon_min is required")
        if self.panel.kind not in PANELS or (self.panel.kind == "csv" and not self.panel.path):
            problems.append(f"panel.kind must be one of {PANELS} (csv needs panel.path)")
        if self.split.kind not in SPLITS or (self.split.kind == "source" and not self.split.column):
            problems.append(f"split.kind must be one of {SPLITS} (source needs split.column)")
        fractions = self.split.fractions
        if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
            problems.append("split.fractions must be three non-negative numbers summing to 1")
        if (self.eval.max_segments is None) == (self.eval.crops is None):
            problems.append("eval needs exactly one of max_segments and crops")
        if self.eval.pooling not in POOLINGS:
            problems.append(f"eval.pooling must be one of {POOLINGS}")
        if self.train.sampling not in SAMPLINGS:
            problems.append(f"train.sampling must be one of {SAMPLINGS}")
        limit = self.train.val_segments
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            problems.append("train.val_segments must be a positive integer or null")
        if not self.version:
            problems.append("version is required")
        if problems:
            raise ValueError(f"task {self.name!r}: " + "; ".join(problems))

    @property
    def train_window(self) -> float | None:
        return self.train_window_min or self.window_min

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON data; ``train`` only when it is not the default (as specs were before it)."""
        data = json.loads(json.dumps(asdict(self)))
        if self.train == TrainSpec():
            data.pop("train")
        return data

    def digest(self) -> str:
        """Hash of everything that defines the labels and inputs (the description and tags excluded)."""
        data = self.to_dict()
        data.pop("description")
        data.pop("tags")
        return hashlib.sha256(json.dumps(_canonical(data), sort_keys=True).encode()).hexdigest()

    def training_digest(self) -> str:
        """Hash of what training depends on: tasks that differ only in evaluation share trained models."""
        data = self.to_dict()
        for key in ("name", "description", "tags", "eval"):
            data.pop(key)
        data["window_min"] = self.train_window
        data.pop("train_window_min")
        return hashlib.sha256(json.dumps(_canonical(data), sort_keys=True).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """The same JSON for equal numbers whatever their type (60 and 60.0), so that equal specs hash alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


_NESTED = {
    "panel": PanelSpec,
    "split": SplitSpec,
    "eval": EvalSpec,
    "input": InputSpec,
    "train": TrainSpec,
}


def _tuples(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)} (known: {sorted(names)})")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def spec_from_dict(data: dict[str, Any]) -> TaskSpec:
    data = dict(data)
    for key, cls in _NESTED.items():
        if key in data:
            data[key] = cls(**_tuples(cls, data[key] or {}))
    return TaskSpec(**_tuples(TaskSpec, data))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**params)
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    return value


def load_spec_file(path: str | Path) -> list[TaskSpec]:
    """Specs of a YAML file: a mapping with ``tasks:`` (a list of specs), optional ``defaults:`` merged into
    each, and per spec an optional ``grid:`` of ``field: [values]`` expanded into one task per combination."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise ValueError(f"{path}: expected a mapping with a 'tasks' list")
    specs = []
    for entry in data["tasks"]:
        entry = _merge(data.get("defaults", {}), entry)
        grid = entry.pop("grid", {}) or {}
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
            params = dict(zip(keys, combo, strict=True))
            try:
                filled = _fill(entry, params)
            except (KeyError, IndexError, ValueError) as err:
                raise ValueError(
                    f"{path}: task {entry.get('name')!r}: placeholder {err} is not a grid field "
                    f"(grid: {keys}); write literal braces as {{{{ and }}}}"
                ) from err
            filled.update(params)
            try:
                specs.append(spec_from_dict(filled))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{path}: {err}") from err
    return specs


def with_changes(spec: TaskSpec, **changes: Any) -> TaskSpec:
    return replace(spec, **changes)

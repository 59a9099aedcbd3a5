"""Task specs: declarative, versioned definitions of what a task's inputs and labels are.

A spec names everything that defines its labels (anchors, window or horizon, panel, split, evaluation
sampling, input contract) and how training samples its inputs (``train``). Specs live in YAML files under
``ecglab/tasks/specs/`` (or a user's file); a ``grid`` in a file expands one spec into several tasks, e.g.
one per forecasting horizon, with ``{placeholders}`` in the name filled from the grid values. Changing
anything that changes labels requires a new ``version``.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.tasks.errors import TaskSpecError

KINDS = ("window_estimation", "closest_estimation", "forecast")
PANELS = ("anyecg_lab", "cardiolab", "csv")
SPLITS = ("patient", "source", "temporal")
POOLINGS = ("mean",)
SAMPLINGS = ("anchor", "pair")
# subgroups of the test patients reported by default (ecglab.tasks.subgroups); not part of the digests
SUBGROUPS = ("sex", "age_band")
SUBGROUP_TABLES = ("patients", "visits")


@dataclass(frozen=True)
class PanelSpec:
    """Which targets: the AnyECG-Lab panel, the CardioLab rule, or a user CSV (see ecglab.tasks.panels).
    A target needs ``min_positives``/``min_negatives`` anchors and ``min_positive_patients``/
    ``min_negative_patients`` patients of each class in val and test (why 10: ecglab.tasks.target_filters).
    ``min_lab_rows``: CardioLab only, labs with fewer rows are dropped (the authors' 200)."""

    kind: str = "anyecg_lab"
    path: str | None = None
    min_positives: int = 10
    min_negatives: int = 10
    min_positive_patients: int = 10
    min_negative_patients: int = 10
    min_lab_rows: int = 200


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
    subgroups: tuple[str, ...] = SUBGROUPS  # test AUROC by these columns; evaluation only, not in digests

    def __post_init__(self) -> None:
        problems = _type_problems(self)
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {KINDS}")
        for key, kinds in (
            ("window_min", ("window_estimation", "closest_estimation")),
            ("horizon_min", ("forecast",)),
        ):
            value = getattr(self, key)
            if self.kind in kinds and value is None:
                problems.append(f"{key} is required")
        if self.panel.kind not in PANELS or (self.panel.kind == "csv" and not self.panel.path):
            problems.append(f"panel.kind must be one of {PANELS} (csv needs panel.path)")
        if self.split.kind not in SPLITS or (self.split.kind == "source" and not self.split.column):
            problems.append(f"split.kind must be one of {SPLITS} (source needs split.column)")
        fractions = self.split.fractions
        if (
            not isinstance(fractions, tuple)
            or len(fractions) != 3
            or not all(_is_number(f) for f in fractions)
            or abs(sum(fractions) - 1.0) > 1e-9
            or min(fractions) < 0
        ):
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
            raise TaskSpecError(f"task {self.name!r}: " + "; ".join(problems))

    @property
    def train_window(self) -> float | None:
        return self.train_window_min or self.window_min

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON data; ``train`` and ``subgroups`` only when not the default (as specs were
        before them)."""
        data = json.loads(json.dumps(asdict(self)))
        if self.train == TrainSpec():
            data.pop("train")
        if self.subgroups == SUBGROUPS:
            data.pop("subgroups")
        return data

    def digest(self) -> str:
        """Hash of everything that defines the labels and inputs (the description, tags and subgroups
        excluded: they change no label, so runs that differ only in them stay comparable)."""
        data = self.to_dict()
        data.pop("description")
        data.pop("tags")
        data.pop("subgroups", None)
        return hashlib.sha256(json.dumps(_canonical(data), sort_keys=True).encode()).hexdigest()

    def training_digest(self) -> str:
        """Hash of what training depends on: tasks that differ only in evaluation share trained models."""
        data = self.to_dict()
        for key in ("name", "description", "tags", "eval"):
            data.pop(key)
        data.pop("subgroups", None)
        data["window_min"] = self.train_window
        data.pop("train_window_min")
        return hashlib.sha256(json.dumps(_canonical(data), sort_keys=True).encode()).hexdigest()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _texts(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, str) for v in value)


def _type_problems(spec: TaskSpec) -> list[str]:
    """Keys of the wrong type or out of range: windows and horizons positive minutes, counts positive
    integers, text where text belongs, a non-empty list of known leads."""
    problems = []
    if not isinstance(spec.name, str) or not spec.name:
        problems.append("name must be non-empty text")
    if not isinstance(spec.version, str | int) or isinstance(spec.version, bool):
        problems.append('version must be text (e.g. version: "1")')
    for key in ("description", "kind"):
        if not isinstance(getattr(spec, key), str):
            problems.append(f"{key} must be text")
    for key in ("window_min", "train_window_min", "horizon_min"):
        value = getattr(spec, key)
        if value is not None and not (_is_number(value) and value > 0):
            problems.append(f"{key} must be a positive number of minutes, got {value!r}")
    if not isinstance(spec.tabular, bool):
        problems.append(f"tabular must be true or false, got {spec.tabular!r}")
    if not _texts(spec.tags):
        problems.append("tags must be a list of text")
    problems += _subgroup_problems(spec.subgroups)
    for key in ("min_positives", "min_negatives", "min_positive_patients", "min_negative_patients"):
        if not _is_count(getattr(spec.panel, key), 1):
            problems.append(f"panel.{key} must be a positive integer, got {getattr(spec.panel, key)!r}")
    if not _is_count(spec.panel.min_lab_rows, 0):
        problems.append(f"panel.min_lab_rows must be a non-negative integer, got {spec.panel.min_lab_rows!r}")
    if spec.panel.path is not None and not isinstance(spec.panel.path, str):
        problems.append("panel.path must be text (a CSV file)")
    for key, value in (("split.seed", spec.split.seed), ("eval.seed", spec.eval.seed)):
        if not _is_count(value, 0):
            problems.append(f"{key} must be a non-negative integer, got {value!r}")
    for key in ("max_segments", "crops"):
        value = getattr(spec.eval, key)
        if value is not None and not _is_count(value, 1):
            problems.append(f"eval.{key} must be a positive integer or null, got {value!r}")
    leads = spec.input.leads
    if not _texts(leads) or not leads:
        problems.append(f"input.leads must be a non-empty list of lead names, got {leads!r}")
    elif unknown := [lead for lead in leads if lead not in STANDARD_LEADS]:
        problems.append(f"input.leads: unknown leads {unknown} (known: {', '.join(STANDARD_LEADS)})")
    for key in ("fs", "seconds"):
        value = getattr(spec.input, key)
        if not (_is_number(value) and value > 0):
            problems.append(f"input.{key} must be a positive number, got {value!r}")
    return problems


def _subgroup_problems(names: Any) -> list[str]:
    """``subgroups``: a list of distinct names, each ``age_band``, a bare column name or
    ``patients.<column>`` / ``visits.<column>`` (whether the column exists is checked on the cohort)."""
    if not _texts(names) or not all(names):
        return [f"subgroups must be a list of column names (e.g. [sex, age_band]), got {names!r}"]
    problems = []
    if len(set(names)) < len(names):
        problems.append(f"subgroups names a column twice: {list(names)}")
    for name in names:
        table, dot, column = name.rpartition(".")
        if dot and (table not in SUBGROUP_TABLES or not column):
            problems.append(f"subgroups: {name!r} is not patients.<column> or visits.<column>")
    return problems


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
        close = {k: difflib.get_close_matches(str(k), names, n=1) for k in sorted(unknown, key=str)}
        hints = [f"{k!r} -> {m[0]!r}" for k, m in close.items() if m]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise TaskSpecError(
            f"{cls.__name__}: unknown fields {sorted(unknown, key=str)}{hint} (known: {sorted(names)})"
        )
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _fields_of(cls: type, values: Any, key: str) -> dict[str, Any]:
    """The keyword arguments of ``cls`` from ``values``, or a TaskSpecError for a value that is not a
    mapping, an unknown key or a missing required one."""
    if not isinstance(values, dict):
        raise TaskSpecError(f"{key} must be a mapping of {cls.__name__} fields, got {values!r}")
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        raise TaskSpecError(f"missing required keys {missing}")
    return _tuples(cls, values)


def spec_from_dict(data: dict[str, Any]) -> TaskSpec:
    """A TaskSpec from JSON/YAML data; TaskSpecError (a ValueError) names the task and the bad key."""
    if not isinstance(data, dict):
        raise TaskSpecError(f"a task spec must be a mapping, got {data!r}")
    data = dict(data)
    try:
        for key, cls in _NESTED.items():
            if key in data:
                data[key] = cls(**_fields_of(cls, data[key] or {}, key))
        values = _fields_of(TaskSpec, data, "the task")
    except TaskSpecError as err:
        raise TaskSpecError(f"task {data.get('name')!r}: {err}") from err
    return TaskSpec(**values)


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


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise TaskSpecError(f"{path}: task spec file not found") from err
    except UnicodeDecodeError as err:
        raise TaskSpecError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    except yaml.YAMLError as err:
        raise TaskSpecError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from err


def _expand(path: Path, entry: Any, defaults: dict[str, Any]) -> list[TaskSpec]:
    """The specs of one ``tasks:`` entry: its grid expanded, ``{placeholders}`` filled."""
    if not isinstance(entry, dict):
        raise TaskSpecError(f"{path}: each entry of 'tasks' must be a mapping, got {entry!r}")
    entry = _merge(defaults, entry)
    grid = entry.pop("grid", {}) or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise TaskSpecError(
            f"{path}: task {entry.get('name')!r}: grid must map fields to non-empty lists, got {grid!r}"
        )
    keys, specs = list(grid), []
    for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        params = dict(zip(keys, combo, strict=True))
        try:
            filled = _fill(entry, params)
        except (KeyError, IndexError, ValueError) as err:
            raise TaskSpecError(
                f"{path}: task {entry.get('name')!r}: placeholder {err} is not a grid field "
                f"(grid: {keys}); write literal braces as {{{{ and }}}}"
            ) from err
        filled.update(params)
        try:
            spec = spec_from_dict(filled)
        except TaskSpecError as err:
            raise TaskSpecError(f"{path}: {err}") from err
        _check_csv_panel(path, spec)
        specs.append(spec)
    return specs


def _check_csv_panel(path: Path, spec: TaskSpec) -> None:
    """A CSV panel must exist and name at least one target (an empty panel builds nothing)."""
    if spec.panel.kind != "csv" or spec.panel.path is None:
        return
    panel = Path(spec.panel.path)
    where = f"{path}: task {spec.name!r}: panel.path {panel}"
    if not panel.is_file():
        raise TaskSpecError(f"{where}: no such file (columns: target, lab, direction, threshold)")
    try:
        lines = [line for line in panel.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as err:
        raise TaskSpecError(f"{where}: not UTF-8 text ({err.reason})") from err
    if len(lines) < 2:
        raise TaskSpecError(f"{where}: the panel names no targets (a header and one row per target)")


def load_spec_file(path: str | Path) -> list[TaskSpec]:
    """Specs of a YAML file: a mapping with ``tasks:`` (a list of specs), optional ``defaults:`` merged into
    each, and per spec an optional ``grid:`` of ``field: [values]`` expanded into one task per combination.
    Any problem is a TaskSpecError naming the file, the task and the key."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise TaskSpecError(f"{path}: expected a mapping with a 'tasks' list")
    unknown = sorted(set(data) - {"tasks", "defaults"}, key=str)
    if unknown:
        raise TaskSpecError(f"{path}: unknown top-level keys {unknown} (known: defaults, tasks)")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise TaskSpecError(f"{path}: defaults must be a mapping, got {defaults!r}")
    return [spec for entry in data["tasks"] for spec in _expand(path, entry, defaults)]


def with_changes(spec: TaskSpec, **changes: Any) -> TaskSpec:
    return replace(spec, **changes)

"""Suite files: reading and validating a benchmark suite, the (backbone, task, seed) pairings it names.

A suite file::

    name: cardiolab_mimic                 # required; letters, digits, '_', '-', '.'
    description: CardioLab on MIMIC-IV    # optional
    cohort: /data/mimic_store             # required: the cohort store every pairing reads
    task_specs: [my_tasks.yaml]           # optional: YAML files of extra tasks (built-in ones need none)
    tasks: [cardiolab_est_60min]          # required: task names (built-in or from task_specs)
    seeds: [0, 1, 2]                      # optional, default [0]
    runs_dir: ../runs                     # optional, default ./runs (as for `ecglab train`)
    experiment: ecglab                    # optional: the MLflow experiment, default "ecglab"
    run:                                  # optional: RunConfig fields shared by every pairing
      epochs: 20
      batch_size: 64
    backbones:                            # required: one entry per backbone configuration
      - name: s4                          # a registered backbone (`ecglab backbones list`)
        preset: full                      # optional: default run.preset, else RunConfig's ("tiny")
        options: {dropout: 0.1}           # optional: backbone options over the preset's
        label: fusion                     # optional: names a variant ("tuned", "fusion", ...); stored in
                                          # the run's config, shown by the leaderboard
        run: {fusion: true, lr: 3e-4}     # optional: RunConfig fields for this entry, over the shared ones
        tasks: [cardiolab_est_60min]      # optional: only these of the suite's tasks (default: all)
    external:                             # optional: other stores every finished pairing is scored on
      - {cohort: /data/mcmed_store, scope: all}   # (ecglab.bench.suite.external_cohorts)

Relative paths (``cohort``, ``task_specs``, ``runs_dir``, ``run.checkpoint``) are relative to the suite file's
folder; ``~`` and ``$VARS`` are expanded. ``run`` sections take any :class:`~ecglab.bench.config.RunConfig`
field except those the suite sets itself (backbone, preset, backbone_options, label, task, cohort, seed,
task_specs) and ``evaluate_test`` (a suite always evaluates the test split); their values are checked by
:func:`~ecglab.bench.config.coerce_field` and every pairing is built by
:func:`~ecglab.bench.config.build_run_config`. Unknown keys, unknown backbone, preset and task names, wrong
value types and two entries that would give the same pairing are refused on load, with the file, the place in
it and close matches. Paths are checked before the first pairing runs
(:func:`ecglab.bench.suite.runner.check_paths`).

A pairing is named ``BACKBONE/TASK/seedN`` where BACKBONE is the entry's name, or ``name:label`` when it has a
label; :meth:`Suite.pairings` lists them in run order (backbones, then tasks, then seeds).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecglab.bench.config import FIELDS, ConfigError, RunConfig, build_run_config, coerce_field
from ecglab.bench.suite.external_cohorts import ExternalCohort, parse_external
from ecglab.errors import EcglabError

TOP_KEYS = (
    "name",
    "description",
    "cohort",
    "task_specs",
    "tasks",
    "seeds",
    "runs_dir",
    "experiment",
    "run",
    "backbones",
    "external",
)
REQUIRED_TOP = ("name", "cohort", "tasks", "backbones")
BACKBONE_KEYS = ("name", "preset", "options", "label", "run", "tasks")
SET_BY_SUITE = {  # RunConfig fields the suite sets itself: where it sets them
    "backbone": "backbones[].name",
    "preset": "backbones[].preset",
    "backbone_options": "backbones[].options",
    "label": "backbones[].label",
    "task": "tasks",
    "cohort": "cohort",
    "seed": "seeds",
    "task_specs": "task_specs",
}
NOT_IN_SUITES = ("evaluate_test",)
DEFAULT_RUNS_DIR = "runs"
DEFAULT_EXPERIMENT = "ecglab"
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+$")

Fail = Callable[[str, str], "SuiteError"]


class SuiteError(EcglabError):
    """A suite file that cannot be read or run as written."""


@dataclass(frozen=True)
class BackboneEntry:
    name: str
    preset: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    run: dict[str, Any] = field(default_factory=dict)
    tasks: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        return f"{self.name}:{self.label}" if self.label else self.name


@dataclass(frozen=True)
class Pairing:
    name: str  # BACKBONE/TASK/seedN
    backbone_id: str
    config: RunConfig


@dataclass(frozen=True)
class Suite:
    name: str
    source: str  # the file, for messages
    cohort: str
    tasks: tuple[str, ...]
    backbones: tuple[BackboneEntry, ...]
    seeds: tuple[int, ...] = (0,)
    task_specs: tuple[str, ...] = ()
    run: dict[str, Any] = field(default_factory=dict)
    runs_dir: str = DEFAULT_RUNS_DIR
    experiment: str = DEFAULT_EXPERIMENT
    description: str = ""
    external: tuple[ExternalCohort, ...] = ()

    def pairings(self) -> list[Pairing]:
        """Every (backbone, task, seed) pairing in run order: backbones, then tasks, then seeds. A setting
        that makes no valid RunConfig raises :class:`~ecglab.bench.config.ConfigError` naming the entry."""
        out = []
        for index, entry in enumerate(self.backbones):
            shared = {k: v for k, v in {**self.run, **entry.run}.items() if k != "preset"}
            for task in entry.tasks if entry.tasks is not None else self.tasks:
                for seed in self.seeds:
                    values = {
                        **shared,
                        "backbone": entry.name,
                        "preset": entry.preset,
                        "backbone_options": dict(entry.options),
                        "label": entry.label,
                        "task": task,
                        "cohort": self.cohort,
                        "seed": seed,
                        "task_specs": self.task_specs,
                    }
                    config = build_run_config(values, source=f"{self.source}: backbones[{index}]")
                    out.append(Pairing(f"{entry.id}/{task}/seed{seed}", entry.id, config))
        return out


# ------------------------------------------------------------------------------------------------ loading
SHIPPED_SUITES = Path(__file__).resolve().parent.parent / "suites"


def shipped_suites() -> list[str]:
    """The names of the suites shipped with ecglab (``ecglab run NAME`` runs one)."""
    return sorted(p.stem for p in SHIPPED_SUITES.glob("*.yaml") if p.stem != "demo_tasks")


def find_suite(path_or_name: str | Path) -> Path:
    """A suite file, or the shipped suite of that name; :class:`SuiteError` naming both kinds otherwise."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    if path.suffix == "" and path.name == str(path_or_name) and path.name in shipped_suites():
        return SHIPPED_SUITES / f"{path.name}.yaml"
    raise SuiteError(f"{path}: no such suite file, nor a shipped suite ({', '.join(shipped_suites())})")


def load_suite(path_or_name: str | Path) -> Suite:
    """Read and validate a suite file, or a shipped suite by name (see the module docstring); raises
    :class:`SuiteError`. A shipped suite is a template: its relative ``cohort``, ``runs_dir`` and
    ``run.checkpoint`` are taken from the working folder, not from inside the installed package."""
    path = find_suite(path_or_name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SuiteError(f"{path}: not valid YAML: {err}") from err
    shipped = path.resolve().parent == SHIPPED_SUITES
    base = path.resolve().parent
    return parse_suite(data, source=str(path), base_dir=base, data_dir=Path.cwd() if shipped else base)


def parse_suite(
    data: Any,
    source: str = "<suite>",
    base_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> Suite:
    """Validate a suite given as a mapping (e.g. built in Python); relative task spec files are taken from
    ``base_dir`` (default: the current folder), relative data paths (cohort, runs_dir, checkpoints) from
    ``data_dir`` (default: ``base_dir``)."""
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    data_base = Path(data_dir) if data_dir is not None else base

    def fail(where: str, message: str) -> SuiteError:
        return SuiteError(f"{source}: {where}: {message}" if where else f"{source}: {message}")

    if not isinstance(data, Mapping):
        raise fail("", "a suite file is a mapping of name, cohort, tasks, backbones, ...")
    _check_keys(data, TOP_KEYS, "", fail)
    missing = [key for key in REQUIRED_TOP if data.get(key) in (None, "", [])]
    if missing:
        raise fail("", f"missing {', '.join(missing)} (required: {', '.join(REQUIRED_TOP)})")

    name = _string(data["name"], "name", fail)
    if not _TOKEN.match(name):
        raise fail("name", f"{name!r}: use letters, digits, '_', '-' and '.' only")
    cohort = expand_path(_string(data["cohort"], "cohort", fail), data_base)
    task_specs = tuple(
        expand_path(_string(item, f"task_specs[{i}]", fail), base)
        for i, item in enumerate(_list(data.get("task_specs") or [], "task_specs", fail))
    )
    for i, spec in enumerate(task_specs):
        _register_specs(spec, f"task_specs[{i}]", fail)
    tasks = tuple(
        _task(_string(item, f"tasks[{i}]", fail), f"tasks[{i}]", fail)
        for i, item in enumerate(_list(data["tasks"], "tasks", fail))
    )
    _no_duplicates(tasks, "tasks", fail)
    seeds_raw = data.get("seeds")
    seeds = tuple(
        _integer(item, f"seeds[{i}]", fail)
        for i, item in enumerate(_list([0] if seeds_raw is None else seeds_raw, "seeds", fail))
    )
    _no_duplicates(seeds, "seeds", fail)
    run = _run_section(data.get("run") or {}, "run", data_base, fail)
    runs_dir = data.get("runs_dir")
    runs_dir = (
        DEFAULT_RUNS_DIR if runs_dir is None else expand_path(_string(runs_dir, "runs_dir", fail), data_base)
    )
    experiment = _string(data.get("experiment") or DEFAULT_EXPERIMENT, "experiment", fail)
    description = _string(data.get("description") or "", "description", fail)
    entries = tuple(
        _backbone_entry(raw, f"backbones[{i}]", run, tasks, data_base, fail)
        for i, raw in enumerate(_list(data["backbones"], "backbones", fail))
    )
    _distinct_entries(entries, fail)
    suite = Suite(
        name=name,
        source=source,
        cohort=cohort,
        tasks=tasks,
        backbones=entries,
        seeds=seeds,
        task_specs=task_specs,
        run=run,
        runs_dir=runs_dir,
        experiment=experiment,
        description=description,
        external=parse_external(data.get("external"), lambda v: expand_path(v, data_base), fail),
    )
    try:  # each entry's settings make a valid RunConfig
        suite.pairings()
    except ConfigError as err:  # names the file and the entry
        raise SuiteError(str(err)) from None
    return suite


def _distinct_entries(entries: Sequence[BackboneEntry], fail: Fail) -> None:
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise fail(
                f"backbones[{i}]",
                f"same backbone and label as backbones[{seen[entry.id]}] ({entry.id!r}): their run folders "
                "and leaderboard rows could not be told apart; give one a label",
            )
        seen[entry.id] = i


def _check_keys(data: Mapping[str, Any], allowed: Sequence[str], where: str, fail: Fail) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else f"; allowed: {', '.join(allowed)}"
            raise fail(where, f"unknown key {key!r}{hint}")


def _string(value: Any, where: str, fail: Fail) -> str:
    if not isinstance(value, str):
        raise fail(where, f"expected a string, got {type(value).__name__} {value!r}")
    return value


def _integer(value: Any, where: str, fail: Fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(where, f"expected an integer, got {value!r}")
    return value


def _list(value: Any, where: str, fail: Fail) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise fail(where, f"expected a list, got {type(value).__name__} {value!r}")
    return list(value)


def _no_duplicates(values: Sequence[Any], where: str, fail: Fail) -> None:
    repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
    if repeated:
        raise fail(where, f"listed twice: {', '.join(repeated)}")


def expand_path(value: str, base: Path) -> str:
    """``~`` and ``$VARS`` expanded, a relative path taken from ``base``; a path naming an unset variable
    is kept as written (:func:`~ecglab.bench.suite.runner.check_paths` reports it)."""
    expanded = os.path.expanduser(os.path.expandvars(value))
    if "$" in expanded:
        return expanded
    path = Path(expanded)
    return os.path.normpath(path if path.is_absolute() else base / path)


def unset_vars(text: str) -> str:
    """`` (environment variable X not set)`` for the unset variables ``text`` names, else ``""``."""
    unset = sorted(v for v in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text) if v not in os.environ)
    return f" (environment variable {', '.join(unset)} not set)" if unset else ""


def _register_specs(file: str, where: str, fail: Fail) -> None:
    from ecglab.tasks.registry import register_spec_file

    if not Path(file).is_file():
        raise fail(where, f"task spec file {file} does not exist{unset_vars(file)}")
    try:
        register_spec_file(file)
    except (EcglabError, ValueError, KeyError, OSError) as err:
        raise fail(where, f"{file}: {err}") from err


def _task(name: str, where: str, fail: Fail) -> str:
    from ecglab.tasks.registry import get_task

    try:
        get_task(name)
    except KeyError as err:
        raise fail(where, f"{err.args[0]} (task_specs adds tasks of your own)") from None
    return name


def _run_section(section: Any, where: str, base: Path, fail: Fail) -> dict[str, Any]:
    """A ``run`` section's RunConfig fields, each coerced by :func:`~ecglab.bench.config.coerce_field`;
    its errors are given the place in the file."""
    if not isinstance(section, Mapping):
        raise fail(where, f"expected a mapping of run options, got {section!r}")
    out = {}
    for key, value in section.items():
        if key in SET_BY_SUITE and not (key == "preset" and where == "run"):
            raise fail(f"{where}.{key}", f"set by the suite itself: use {SET_BY_SUITE[key]}")
        if key in NOT_IN_SUITES:
            raise fail(f"{where}.{key}", "a suite always evaluates the test split (searches: `ecglab tune`)")
        try:
            out[key] = coerce_field(key, value)
        except ConfigError as err:  # "unknown run option ..." at the section, "KEY: expected ..." at the key
            if key not in FIELDS:
                raise fail(where, str(err)) from None
            raise fail(f"{where}.{key}", str(err).removeprefix(f"{key}: ")) from None
        if key == "checkpoint" and out[key]:
            out[key] = expand_path(out[key], base)
    return out


def _backbone_entry(
    raw: Any, where: str, shared: dict[str, Any], tasks: tuple[str, ...], base: Path, fail: Fail
) -> BackboneEntry:
    from ecglab.backbones.registry import get_backbone_info

    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise fail(where, f"expected a mapping with name, preset, options, label, run, got {raw!r}")
    _check_keys(raw, BACKBONE_KEYS, where, fail)
    if not raw.get("name"):
        raise fail(where, "missing name")
    name = _string(raw["name"], f"{where}.name", fail)
    try:
        info = get_backbone_info(name)
    except KeyError as err:
        raise fail(f"{where}.name", f"{err.args[0]} (`ecglab backbones list` shows them)") from None
    preset = raw.get("preset") or shared.get("preset") or FIELDS["preset"].default
    preset = _string(preset, f"{where}.preset", fail)
    if preset not in info.presets:
        close = difflib.get_close_matches(preset, list(info.presets), n=2)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise fail(
            f"{where}.preset", f"{name} has no preset {preset!r}; {hint}presets: {', '.join(info.presets)}"
        )
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise fail(f"{where}.options", f"expected a mapping of backbone options, got {options!r}")
    label = _string(raw.get("label") or "", f"{where}.label", fail)
    if label and not _TOKEN.match(label):
        raise fail(f"{where}.label", f"{label!r}: use letters, digits, '_', '-' and '.' only")
    run = _run_section(raw.get("run") or {}, f"{where}.run", base, fail)
    entry_tasks = None if raw.get("tasks") is None else _entry_tasks(raw["tasks"], where, tasks, fail)
    return BackboneEntry(
        name=name, preset=preset, options=dict(options), label=label, run=run, tasks=entry_tasks
    )


def _entry_tasks(raw: Any, where: str, tasks: tuple[str, ...], fail: Fail) -> tuple[str, ...]:
    entry_tasks = tuple(
        _string(t, f"{where}.tasks[{i}]", fail) for i, t in enumerate(_list(raw, f"{where}.tasks", fail))
    )
    for i, task in enumerate(entry_tasks):
        if task not in tasks:
            close = difflib.get_close_matches(task, tasks, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise fail(f"{where}.tasks[{i}]", f"{task!r} is not one of the suite's tasks{hint}")
    _no_duplicates(entry_tasks, f"{where}.tasks", fail)
    return entry_tasks

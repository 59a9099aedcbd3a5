"""Benchmark suites: every (backbone, task, seed) pairing of a YAML file, run in order with the engine.

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

Relative paths (``cohort``, ``task_specs``, ``runs_dir``, ``run.checkpoint``) are relative to the suite file's
folder; ``~`` and ``$VARS`` are expanded. ``run`` sections take any :class:`~ecglab.bench.config.RunConfig`
field except those the suite sets itself (backbone, preset, backbone_options, label, task, cohort, seed,
task_specs) and ``evaluate_test`` (a suite always evaluates the test split). Unknown keys, unknown backbone,
preset and task names, wrong value types and two entries that would give the same pairing are refused on load,
with the file, the place in it and close matches. Paths are checked before the first pairing runs
(:func:`check_paths`).

A pairing is named ``BACKBONE/TASK/seedN`` where BACKBONE is the entry's name, or ``name:label`` when it has a
label. :func:`run_suite` runs the pairings in file order (backbones, then tasks, then seeds):

- a pairing whose run id (a hash of its configuration, task version and cohort) already has a finished run
  folder is skipped (``--force`` reruns it); when tracking, it is still logged to MLflow, which is idempotent,
  so a rerun completes the tracking of runs whose logging failed earlier;
- a failed run is never reused: it is rerun from scratch; an interrupted one (Ctrl-C, a killed process)
  continues from its last epoch checkpoint, exactly (the engine's resume);
- a failing pairing is reported and the suite goes on; the report lists every failure at the end.

Run one ``ecglab run`` per runs folder at a time (or give concurrent ones disjoint ``--only`` sets). Under
``torchrun`` each pairing trains with DistributedDataParallel and rank 0 reports and tracks.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecglab.bench.config import RunConfig
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
)
REQUIRED_TOP = ("name", "cohort", "tasks", "backbones")
BACKBONE_KEYS = ("name", "preset", "options", "label", "run", "tasks")
SET_BY_SUITE = ("backbone", "preset", "backbone_options", "label", "task", "cohort", "seed", "task_specs")
NOT_IN_SUITES = ("evaluate_test",)
DEFAULT_RUNS_DIR = "runs"
DEFAULT_EXPERIMENT = "ecglab"
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+$")
_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


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

    def pairings(self) -> list[Pairing]:
        """Every (backbone, task, seed) pairing in run order: backbones, then tasks, then seeds."""
        out = []
        for entry in self.backbones:
            for task in entry.tasks if entry.tasks is not None else self.tasks:
                for seed in self.seeds:
                    shared = {k: v for k, v in {**self.run, **entry.run}.items() if k != "preset"}
                    config = RunConfig(
                        **shared,
                        backbone=entry.name,
                        preset=entry.preset,
                        backbone_options=dict(entry.options),
                        label=entry.label,
                        task=task,
                        cohort=self.cohort,
                        seed=seed,
                        task_specs=self.task_specs,
                    )
                    out.append(Pairing(f"{entry.id}/{task}/seed{seed}", entry.id, config))
        return out


# ------------------------------------------------------------------------------------------------ loading
def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file (see the module docstring); raises :class:`SuiteError`."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SuiteError(f"{path}: not valid YAML: {err}") from err
    return parse_suite(data, source=str(path), base_dir=path.resolve().parent)


def parse_suite(data: Any, source: str = "<suite>", base_dir: str | Path | None = None) -> Suite:
    """Validate a suite given as a mapping (e.g. built in Python); relative paths are taken from
    ``base_dir`` (default: the current folder)."""
    base = Path(base_dir) if base_dir is not None else Path.cwd()

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
    cohort = _path(_string(data["cohort"], "cohort", fail), base)
    task_specs = tuple(
        _path(_string(item, f"task_specs[{i}]", fail), base)
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
    run = _run_section(data.get("run") or {}, "run", base, fail)
    runs_dir = data.get("runs_dir")
    runs_dir = DEFAULT_RUNS_DIR if runs_dir is None else _path(_string(runs_dir, "runs_dir", fail), base)
    experiment = _string(data.get("experiment") or DEFAULT_EXPERIMENT, "experiment", fail)
    description = _string(data.get("description") or "", "description", fail)

    entries = []
    for i, raw in enumerate(_list(data["backbones"], "backbones", fail)):
        entries.append(_backbone_entry(raw, f"backbones[{i}]", run, tasks, base, fail))
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise fail(
                f"backbones[{i}]",
                f"same backbone and label as backbones[{seen[entry.id]}] ({entry.id!r}): their run folders "
                "and leaderboard rows could not be told apart; give one a label",
            )
        seen[entry.id] = i
    suite = Suite(
        name=name,
        source=source,
        cohort=cohort,
        tasks=tasks,
        backbones=tuple(entries),
        seeds=seeds,
        task_specs=task_specs,
        run=run,
        runs_dir=runs_dir,
        experiment=experiment,
        description=description,
    )
    for entry_index, entry in enumerate(entries):  # each entry's settings make a valid RunConfig
        try:
            dataclasses.replace(suite, backbones=(entry,)).pairings()
        except (TypeError, ValueError) as err:
            raise fail(f"backbones[{entry_index}]", str(err)) from err
    return suite


def _check_keys(data: Mapping[str, Any], allowed: Sequence[str], where: str, fail: Callable) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else f"; allowed: {', '.join(allowed)}"
            raise fail(where, f"unknown key {key!r}{hint}")


def _string(value: Any, where: str, fail: Callable) -> str:
    if not isinstance(value, str):
        raise fail(where, f"expected a string, got {type(value).__name__} {value!r}")
    return value


def _integer(value: Any, where: str, fail: Callable) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(where, f"expected an integer, got {value!r}")
    return value


def _list(value: Any, where: str, fail: Callable) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise fail(where, f"expected a list, got {type(value).__name__} {value!r}")
    return list(value)


def _no_duplicates(values: Sequence[Any], where: str, fail: Callable) -> None:
    repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
    if repeated:
        raise fail(where, f"listed twice: {', '.join(repeated)}")


def _path(value: str, base: Path) -> str:
    expanded = os.path.expanduser(os.path.expandvars(value))
    if "$" in expanded:  # an unset variable: kept as written, reported by check_paths
        return expanded
    path = Path(expanded)
    return os.path.normpath(path if path.is_absolute() else base / path)


def _register_specs(file: str, where: str, fail: Callable) -> None:
    from ecglab.tasks.registry import register_spec_file

    if not Path(file).is_file():
        raise fail(where, f"task spec file {file} does not exist{_unset_vars(file)}")
    try:
        register_spec_file(file)
    except (EcglabError, ValueError, KeyError, OSError) as err:
        raise fail(where, f"{file}: {err}") from err


def _task(name: str, where: str, fail: Callable) -> str:
    from ecglab.tasks.registry import get_task

    try:
        get_task(name)
    except KeyError as err:
        raise fail(where, f"{err.args[0]} (task_specs adds tasks of your own)") from None
    return name


def _coerce(name: str, value: Any, where: str, fail: Callable) -> Any:
    """A RunConfig field's value with YAML's quirks undone ("1e-3" is a string in YAML 1.1)."""
    kind = str(_FIELDS[name].type).replace(" ", "")
    if kind == "float":
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(where, f"expected a number, got {value!r}")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(where, f"expected an integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail(where, f"expected true or false, got {value!r}")
        return value
    if kind in ("str", "str|None"):
        if value is None and kind == "str|None":
            return None
        if not isinstance(value, str):
            raise fail(where, f"expected a string, got {value!r}")
        return value
    return value


def _run_section(section: Any, where: str, base: Path, fail: Callable) -> dict[str, Any]:
    if not isinstance(section, Mapping):
        raise fail(where, f"expected a mapping of run options, got {section!r}")
    out = {}
    for key, value in section.items():
        if key in SET_BY_SUITE:
            place = {
                "backbone": "backbones[].name",
                "preset": "backbones[].preset",
                "backbone_options": "backbones[].options",
                "label": "backbones[].label",
                "task": "tasks",
                "cohort": "cohort",
                "seed": "seeds",
                "task_specs": "task_specs",
            }[key]
            if not (key == "preset" and where == "run"):
                raise fail(f"{where}.{key}", f"set by the suite itself: use {place}")
        if key in NOT_IN_SUITES:
            raise fail(f"{where}.{key}", "a suite always evaluates the test split (searches: `ecglab tune`)")
        if key not in _FIELDS:
            close = difflib.get_close_matches(str(key), list(_FIELDS), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise fail(where, f"unknown run option {key!r}{hint} (RunConfig fields, as in `ecglab train`)")
        out[key] = _coerce(key, value, f"{where}.{key}", fail)
        if key == "checkpoint" and out[key]:
            out[key] = _path(out[key], base)
    return out


def _backbone_entry(
    raw: Any, where: str, shared: dict[str, Any], tasks: tuple[str, ...], base: Path, fail: Callable
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
    preset = raw.get("preset") or shared.get("preset") or _FIELDS["preset"].default
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
    entry_tasks = None
    if raw.get("tasks") is not None:
        entry_tasks = tuple(
            _string(t, f"{where}.tasks[{i}]", fail)
            for i, t in enumerate(_list(raw["tasks"], f"{where}.tasks", fail))
        )
        for i, task in enumerate(entry_tasks):
            if task not in tasks:
                close = difflib.get_close_matches(task, tasks, n=2)
                hint = f"; did you mean {' or '.join(close)}?" if close else ""
                raise fail(f"{where}.tasks[{i}]", f"{task!r} is not one of the suite's tasks{hint}")
        _no_duplicates(entry_tasks, f"{where}.tasks", fail)
    return BackboneEntry(
        name=name, preset=preset, options=dict(options), label=label, run=run, tasks=entry_tasks
    )


def _unset_vars(text: str) -> str:
    unset = sorted(v for v in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text) if v not in os.environ)
    return f" (environment variable {', '.join(unset)} not set)" if unset else ""


# ------------------------------------------------------------------------------------------- selection
def check_paths(suite: Suite, pairings: Iterable[Pairing] | None = None) -> None:
    """Refuse, before anything runs, a cohort or checkpoint file that does not exist (placeholders left as
    they were shipped, unset variables)."""
    problems = []
    if not Path(suite.cohort).is_dir():
        problems.append(
            f"cohort {suite.cohort} does not exist{_unset_vars(suite.cohort)}: edit `cohort:` to the "
            "folder of a cohort store (`ecglab cohort ...` builds one)"
        )
    seen = set()
    for pairing in suite.pairings() if pairings is None else pairings:
        checkpoint = pairing.config.checkpoint
        if checkpoint and checkpoint not in seen and not Path(checkpoint).is_file():
            seen.add(checkpoint)
            problems.append(
                f"{pairing.backbone_id}: checkpoint {checkpoint} does not exist{_unset_vars(checkpoint)}: "
                "edit `checkpoint:` to the weights file you downloaded (ecglab never downloads weights)"
            )
    if problems:
        raise SuiteError(f"{suite.source}: " + "; ".join(problems))


def select(pairings: Sequence[Pairing], patterns: Sequence[str]) -> list[Pairing]:
    """Pairings whose name ``BACKBONE/TASK/seedN`` matches any shell-style pattern; a pattern without '/' is
    also matched against the backbone (its name or name:label) and the task on their own."""
    if not patterns:
        return list(pairings)

    def matches(pairing: Pairing, pattern: str) -> bool:
        if fnmatch.fnmatchcase(pairing.name, pattern):
            return True
        if "/" in pattern:
            return False
        backbone, task, _ = pairing.name.split("/")
        return any(fnmatch.fnmatchcase(part, pattern) for part in (backbone, backbone.split(":")[0], task))

    chosen = [p for p in pairings if any(matches(p, pattern) for pattern in patterns)]
    if not chosen:
        names = ", ".join(p.name for p in pairings[:6]) + (", ..." if len(pairings) > 6 else "")
        raise SuiteError(f"--only {' '.join(patterns)} matches no pairing (pairings: {names})")
    return chosen


# ------------------------------------------------------------------------------------------------ running
@dataclass
class Outcome:
    pairing: str
    status: str  # finished | skipped | failed | not run
    run_dir: Path | None = None
    test_macro_auroc: float = float("nan")
    seconds: float = float("nan")
    error: str = ""
    tracking_error: str = ""


@dataclass
class SuiteReport:
    suite: str
    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def untracked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.tracking_error]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.untracked and self.count("not run") == 0

    def table(self) -> str:
        width = max([len("pairing"), *(len(o.pairing) for o in self.outcomes)])
        lines = [f"{'pairing':{width}s}  {'status':9s}  {'test macro AUROC':>16s}  {'seconds':>8s}"]
        for o in self.outcomes:
            auroc = f"{o.test_macro_auroc:.3f}" if o.test_macro_auroc == o.test_macro_auroc else "-"
            seconds = f"{o.seconds:.1f}" if o.seconds == o.seconds else "-"
            status = o.status + ("*" if o.tracking_error else "")
            lines.append(f"{o.pairing:{width}s}  {status:9s}  {auroc:>16s}  {seconds:>8s}")
        counts = ", ".join(
            f"{self.count(s)} {s}" for s in ("finished", "skipped", "failed", "not run") if self.count(s)
        )
        lines.append(f"{self.suite}: {len(self.outcomes)} pairings: {counts}")
        if self.untracked:
            lines.append(
                "* finished, but not logged to MLflow: " + "; ".join(o.tracking_error for o in self.untracked)
            )
        for o in self.failed:
            lines.append(f"FAILED {o.pairing}: {o.error}")
        return "\n".join(lines)


def _status(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return None


def macro_test_auroc(run_dir: Path) -> float:
    """The mean test AUROC over the run's targets (NaN targets left out)."""
    import pandas as pd

    try:
        results = pd.read_parquet(run_dir / "results.parquet", columns=["split", "auroc"])
    except (OSError, ValueError):
        return float("nan")
    values = results.loc[results["split"] == "test", "auroc"].astype("float64").dropna()
    return float(values.mean()) if len(values) else float("nan")


def _silent(line: str) -> None:
    pass


def run_suite(
    suite: Suite,
    *,
    runs_dir: str | Path | None = None,
    tracking_uri: str | None = None,
    track: bool = True,
    force: bool = False,
    only: Sequence[str] = (),
    progress: bool = True,
    out: Callable[[str], None] = print,
) -> SuiteReport:
    """Run the suite's pairings (those matching ``only``) in order and return the report; a failing pairing
    does not stop the others. On Ctrl-C the report so far is printed and KeyboardInterrupt re-raised."""
    from ecglab.bench import engine
    from ecglab.bench.config import run_id
    from ecglab.cohort.store import open_cohort
    from ecglab.tasks.registry import get_task, register_spec_file

    pairings = select(suite.pairings(), only)
    check_paths(suite, pairings)
    for file in suite.task_specs:
        register_spec_file(file)
    cohort = open_cohort(suite.cohort)
    runs_dir = Path(runs_dir if runs_dir is not None else suite.runs_dir)
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun: rank 0 reports and tracks
    if not main:
        out = _silent
    uri = None
    if track and main:
        from ecglab.bench.tracking import ensure_experiment, resolve_tracking_uri

        uri = resolve_tracking_uri(tracking_uri)
        ensure_experiment(uri, suite.experiment)  # once, before any run
    outcomes = [Outcome(p.name, "not run") for p in pairings]
    report = SuiteReport(suite.name, outcomes)
    try:
        for index, (pairing, outcome) in enumerate(zip(pairings, outcomes, strict=True)):
            spec = get_task(pairing.config.task)
            identifier = run_id(pairing.config, spec.version, spec.digest(), cohort.content_hash)
            run_dir = runs_dir / identifier[:16]
            record = _status(run_dir)
            head = f"[{index + 1}/{len(pairings)}] {pairing.name}"
            started = time.perf_counter()
            if record is not None and record.get("status") == "finished" and not force:
                out(f"{head}: finished earlier ({run_dir}), skipped; --force reruns it")
                outcome.status, outcome.run_dir = "skipped", run_dir
                outcome.test_macro_auroc = macro_test_auroc(run_dir)
            else:
                interrupted = record is not None and (
                    record.get("status") == "running"
                    or str(record.get("error", "")).startswith("KeyboardInterrupt")
                )
                fresh = force or (record is not None and not interrupted)  # failed or pruned: from scratch
                verb = "rerunning (--force)" if force and record else "resuming" if interrupted else "running"
                if record is not None and not force and not interrupted:
                    verb = f"rerunning a {record.get('status')} run"
                out(f"{head}: {verb} ({run_dir})")
                try:
                    engine.run_pairing(
                        pairing.config,
                        runs_dir,
                        resume=not fresh,
                        force=fresh,
                        progress=progress,
                        track=False,
                    )
                except Exception as err:
                    outcome.status, outcome.run_dir = "failed", run_dir
                    outcome.error = f"{type(err).__name__}: {err}"
                    outcome.seconds = time.perf_counter() - started
                    out(f"{head}: FAILED: {outcome.error}")
                    continue
                outcome.status, outcome.run_dir = "finished", run_dir
                outcome.test_macro_auroc = macro_test_auroc(run_dir)
                outcome.seconds = time.perf_counter() - started
            if uri is not None:
                from ecglab.bench.tracking import log_run

                try:
                    log_run(run_dir, uri, suite.experiment, tags={"ecglab.suite": suite.name})
                except EcglabError as err:
                    outcome.tracking_error = str(err)
                    out(f"{head}: not logged to MLflow: {err}")
    except KeyboardInterrupt:
        out(report.table())
        raise
    return report

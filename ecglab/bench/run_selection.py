"""Finding run folders and choosing among them: every run folder under a runs folder (searched as the
leaderboard searches it), one :class:`RunSummary` per folder (its backbone, preset, task, seed, status, test
macro AUROC and external evaluations, read from ``run.json`` and ``results.parquet`` only), and a
:class:`RunFilter` of shell-style patterns that ``ecglab runs list``, ``ecglab leaderboard`` and ``ecglab
submission export`` share. Read-only; a malformed run folder never stops a listing: it is listed with status
``unreadable: reason``.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.bench.run_folder import STATUSES, RunRecord, RunRecordError, is_run_folder, read_record
from ecglab.errors import EcglabError

SKIPPED_FOLDERS = ("tasks", "mlruns")  # task caches and MLflow stores beside the run folders
UNREADABLE = "unreadable"
STATES = (*STATUSES, UNREADABLE)
EXTERNAL_RECORDS = "external/*/external.json"
# the selectors, in the order they are named: RunFilter field -> the option that sets it
SELECTORS = {
    "backbone": "--backbone",
    "task": "--task",
    "preset": "--preset",
    "label": "--label",
    "seed": "--seed",
    "status": "--status",
}


class SelectionError(EcglabError):
    """A runs folder that does not exist or holds no run folder, or selectors that match no run."""


@dataclass(frozen=True)
class RunSummary:
    """One run folder as ``ecglab runs list`` shows it. ``status``: running, finished, failed, pruned (from
    ``run.json``) or ``unreadable: reason``; ``macro_auroc``: the mean test AUROC over the targets of a
    finished run (None where there is none, ``note`` says why)."""

    folder: str
    status: str
    run_id: str = ""
    backbone: str = ""
    preset: str = ""
    task: str = ""
    seed: int | None = None
    label: str = ""
    objective: str = "classification"
    calibration: str = "none"
    entry: str = ""
    cohort: str = ""
    cohort_hash: str = ""
    macro_auroc: float | None = None
    n_targets: int = 0
    external: int = 0
    note: str = ""

    @property
    def state(self) -> str:
        """The status without its reason: one of :data:`STATES`."""
        return self.status.split(":", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values."""
        return asdict(self)


def entry_name(
    backbone: str, preset: str, label: str = "", objective: str = "", calibration: str = ""
) -> str:
    """A backbone configuration's name as the leaderboard gives it: ``backbone/preset``, then `` [label]``
    when labelled, `` [objective]`` when trained on the lab values and `` [calibration]`` when recalibrated
    (a tag the label already says is not repeated)."""
    tags = (
        label,
        "" if objective == "classification" else objective,
        "" if calibration == "none" else calibration,
    )
    return f"{backbone}/{preset}" + "".join(f" [{t}]" for t in dict.fromkeys(tags) if t)


# ------------------------------------------------------------------------------------------------ finding
def run_folders_in(path: str | Path) -> list[Path]:
    """The run folders (holding ``run.json``) at or under ``path``, searched recursively in name order,
    skipping task caches, MLflow stores and hidden folders; a run folder's own subfolders are not searched."""
    path = Path(path)
    if is_run_folder(path):
        return [path]
    found = []
    for root, dirs, _files in os.walk(path):
        if is_run_folder(root):
            found.append(Path(root))
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
    return found


def find_runs(paths: Iterable[str | Path]) -> list[Path]:
    """The run folders among ``paths`` (each a run folder or a folder of them), each once. SelectionError
    for a path that does not exist, is not a folder or holds no run folder."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SelectionError(f"{path}: no such folder (give the runs folder, e.g. runs)")
        if not path.is_dir():
            raise SelectionError(f"{path}: expected a run folder or a folder of run folders")
        folders = run_folders_in(path)
        if not folders:
            raise SelectionError(f"{path}: holds no run folder (a folder with run.json)")
        found.extend(folders)
    unique: dict[Path, Path] = {}
    for folder in found:
        unique.setdefault(folder.resolve(), folder)
    return list(unique.values())


# ------------------------------------------------------------------------------------------------ reading
def summarise(run_dir: str | Path) -> RunSummary:
    """The summary of one run folder; never raises for a malformed one (status ``unreadable: reason``)."""
    run_dir = Path(run_dir)
    try:
        record = read_record(run_dir)
    except RunRecordError as err:
        return RunSummary(folder=str(run_dir), status=f"{UNREADABLE}: {one_line(err)}")
    config = record.config
    macro, n_targets, note = test_macro(run_dir, record)
    return RunSummary(
        folder=str(run_dir),
        status=record.status,
        run_id=record.run_id,
        backbone=config.backbone,
        preset=config.preset,
        task=record.task.name,
        seed=int(config.seed),
        label=config.label or "",
        objective=config.objective,
        calibration=config.calibration,
        entry=entry_name(
            config.backbone, config.preset, config.label or "", config.objective, config.calibration
        ),
        cohort=record.cohort.name,
        cohort_hash=record.cohort.hash,
        macro_auroc=macro,
        n_targets=n_targets,
        external=len(list(run_dir.glob(EXTERNAL_RECORDS))),
        note=note,
    )


def test_macro(run_dir: Path, record: RunRecord) -> tuple[float | None, int, str]:
    """(test macro AUROC, targets with a test AUROC, a note) of a finished run, read from its
    ``results.parquet`` (only the split, target and auroc columns); (None, 0, why) where there is none."""
    if not record.finished:
        return None, 0, one_line(record.error) if record.error else ""
    path = run_dir / "results.parquet"
    if not path.is_file():
        return None, 0, "no results.parquet"
    try:
        table = pq.read_table(path, columns=["split", "auroc"])
        splits = table.column("split").to_pylist()
        aurocs = table.column("auroc").to_pylist()
    except (pa.ArrowException, OSError, KeyError) as err:
        return None, 0, f"results.parquet unreadable ({one_line(err)[:120]})"
    test = [a for s, a in zip(splits, aurocs, strict=True) if s == "test"]
    if not test:
        no_test = "validation only (a hyperparameter search trial)" if not record.config.evaluate_test else ""
        return None, 0, no_test or "no test results"
    scored = [float(a) for a in test if isinstance(a, int | float) and not math.isnan(a)]
    if not scored:
        return None, 0, "no test AUROC (every target lacks positives or negatives)"
    note = "" if len(scored) == len(test) else f"{len(test) - len(scored)} target(s) without a test AUROC"
    return sum(scored) / len(scored), len(scored), note


def one_line(value: object) -> str:
    """Text on one line: runs of whitespace, line breaks included, as single spaces."""
    return " ".join(str(value).split())


def sort_key(run: RunSummary) -> tuple:
    """Runs in order of task, backbone, seed (then preset, label and folder); unreadable folders last."""
    return (
        run.state == UNREADABLE,
        run.task,
        run.backbone,
        -1 if run.seed is None else run.seed,
        run.entry,
        run.folder,
    )


# ------------------------------------------------------------------------------------------------ choosing
@dataclass(frozen=True)
class RunFilter:
    """Selectors of runs: per field, shell-style patterns (``fnmatch``: ``*``, ``?``, ``[...]``) of which a
    run must match one; every field given must match. An empty field selects every run. ``seed``: numbers;
    ``status``: running, finished, failed, pruned or unreadable (the only selector an unreadable run folder
    can match: its fields are unknown)."""

    backbone: tuple[str, ...] = ()
    task: tuple[str, ...] = ()
    preset: tuple[str, ...] = ()
    label: tuple[str, ...] = ()
    seed: tuple[int, ...] = ()
    status: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [s for s in self.status if not fnmatch.filter(STATES, s)]
        if unknown:
            raise SelectionError(f"--status {', '.join(unknown)}: a status is one of {', '.join(STATES)}")

    @property
    def given(self) -> dict[str, tuple]:
        """The selectors that are set, by field."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def field_matches(self, name: str, run: RunSummary) -> bool:
        """Whether ``run`` matches the patterns of field ``name`` (True when that field is not set)."""
        patterns = getattr(self, name)
        if not patterns:
            return True
        if name == "status":
            return any(fnmatch.fnmatchcase(run.state, p) for p in patterns)
        if run.state == UNREADABLE:
            return False
        if name == "seed":
            return run.seed in patterns
        return any(fnmatch.fnmatchcase(getattr(run, name), p) for p in patterns)

    def matches(self, run: RunSummary) -> bool:
        """Whether ``run`` matches every selector that is set."""
        return all(self.field_matches(name, run) for name in self.given)

    def describe(self) -> str:
        """The selectors as options, e.g. ``--backbone s4 --task 'demo_*'``."""
        parts = []
        for name, values in self.given.items():
            text = ",".join(str(v) for v in values)
            parts.append(f"{SELECTORS[name]} {text if text.replace(',', '').isidentifier() else repr(text)}")
        return " ".join(parts)


def list_runs(paths: str | Path | Sequence[str | Path]) -> list[RunSummary]:
    """Every run folder under ``paths`` (a runs folder, a run folder, or several), summarised and sorted by
    task, backbone and seed."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    return sorted((summarise(folder) for folder in find_runs(paths)), key=sort_key)


def select_runs(
    paths: str | Path | Sequence[str | Path], run_filter: RunFilter | None = None
) -> list[RunSummary]:
    """The runs under ``paths`` that ``run_filter`` selects, sorted by task, backbone and seed.
    SelectionError (one line, naming what exists) when selectors are given and no run matches them."""
    runs = list_runs(paths)
    if run_filter is None or not run_filter.given:
        return runs
    chosen = [r for r in runs if run_filter.matches(r)]
    if not chosen:
        raise SelectionError(no_match(runs, run_filter, paths))
    return chosen


def no_match(runs: list[RunSummary], run_filter: RunFilter, paths: object) -> str:
    """Why nothing matched: the first selector that matches no run, with the values the runs there have;
    else the selectors together."""
    where = ", ".join(str(p) for p in paths) if isinstance(paths, list | tuple) else str(paths)
    for name, wanted in run_filter.given.items():
        if any(run_filter.field_matches(name, r) for r in runs):
            continue
        if name == "status":
            there = sorted({r.state for r in runs})
        else:
            there = sorted({str(getattr(r, name)) for r in runs if r.state != UNREADABLE})
        shown = ", ".join(repr(v) if v == "" else v for v in there[:20]) + (
            ", ..." if len(there) > 20 else ""
        )
        selector = f"{SELECTORS[name]} {','.join(map(str, wanted))}"
        return f"no run under {where} matches {selector}; {name}s there: {shown or 'none'}"
    return (
        f"no run under {where} matches {run_filter.describe()} together (each matches some run); "
        f"see `ecglab runs list {where}`"
    )

"""The tasks of a submission file: the spec each run was trained on, embedded in the file (``task_spec``:
the run's stored spec as canonical JSON, the same on every row of the run), and their checks.

A submission written by ``submission_version`` 2 carries its task's spec, so it is checked and put on a
leaderboard where the task is not registered (a task from a spec file, in a fresh shell): the embedded spec
must be a valid spec of the row's task, version and digest (``spec_from_dict(json).digest() ==
task_digest``); where the task is registered as well, the registered spec must have that version and
digest too. A row without an embedded spec (a version-1 file, or a run recorded before specs were kept in
``run.json``) needs the registered task, as before.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ecglab.tasks.registry import TASK_SOURCES, get_task, list_tasks
from ecglab.tasks.spec import TaskSpec, spec_from_dict

SUBMITTED_TASK_SOURCES = (
    f"{TASK_SOURCES}, or from the spec a submission embeds (files written by `ecglab submission export` of "
    "this version, submission_version 2)"
)


def spec_json(spec: Mapping[str, Any]) -> str:
    """A spec's data (``TaskSpec.to_dict()``) as canonical JSON: sorted keys, no spaces, ASCII."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def embedded_spec(text: str) -> TaskSpec:
    """The TaskSpec of a ``task_spec`` cell; ValueError saying why it is none."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ValueError(f"not JSON ({err})") from None
    return spec_from_dict(data)  # TaskSpecError (a ValueError) names the bad key


def run_spec_json(stored: Mapping[str, Any] | None, name: str, digest: str) -> str:
    """The ``task_spec`` cell of a run: its stored spec (``run.json``'s ``task.spec``) when that spec is
    the run's (same digest), else the registered spec of its name when that one is, else empty (the check
    then needs the registered task)."""
    candidates: list[Mapping[str, Any]] = [stored] if stored else []
    registered = registered_spec(name)
    if registered is not None:
        candidates.append(registered.to_dict())
    for data in candidates:
        try:
            spec = spec_from_dict(dict(data))
        except ValueError:
            continue
        if spec.name == name and spec.digest() == digest:
            return spec_json(data)
    return ""


def registered_spec(name: str) -> TaskSpec | None:
    """The registered spec of task ``name``, or None."""
    try:
        return get_task(name)
    except KeyError:
        return None


def unknown_task(task: str) -> str:
    """Why a task without an embedded spec cannot be checked, and where tasks come from."""
    close = difflib.get_close_matches(task, list_tasks(), n=3)
    hint = f" (registered tasks with close names: {', '.join(close)})" if close else ""
    return (
        f"task {task}: not a registered task{hint}, and the file embeds no task_spec for it (a version-1 "
        f"submission or a run recorded without its spec); {SUBMITTED_TASK_SOURCES}: register its spec file "
        "or export the runs again"
    )


def _lines(index: pd.Index) -> str:
    """File lines (header = line 1) of rows of the typed frame (its index is the file's row order)."""
    shown = ", ".join(str(int(i) + 2) for i in index[:5])
    return f"line {shown}" + (f" and {len(index) - 5} more" if len(index) > 5 else "")


def embedded_problems(task: str, rows: pd.DataFrame, registered: bool) -> list[str]:
    """What is wrong with the embedded specs of one task's rows: not a spec, another task, another version,
    or a digest that is not the rows' ``task_digest`` (the spec or the digest was edited after export)."""
    problems = []
    head = f"task {task}:" if registered else f"task {task}: not a registered task, and"
    given = rows[rows["task_spec"] != ""]
    for (text, version, digest), part in given.groupby(["task_spec", "task_version", "task_digest"]):
        where = _lines(part.index)
        try:
            spec = embedded_spec(str(text))
        except ValueError as err:
            problems.append(f"{head} the embedded task_spec is not a task spec on {where}: {err}")
            continue
        if spec.name != task:
            problems.append(f"{head} the embedded task_spec on {where} is of task {spec.name!r}")
        elif str(spec.version) != version:
            problems.append(
                f"{head} the embedded task_spec is version {spec.version}, the rows say {version} ({where})"
            )
        elif spec.digest() != digest:
            problems.append(
                f"{head} the embedded task_spec's digest {spec.digest()[:12]} is not the task_digest "
                f"{str(digest)[:12]} on {where}: the spec or the digest was edited after export"
            )
    return problems


def registered_problems(task: str, rows: pd.DataFrame, spec: TaskSpec) -> list[str]:
    """The rows of a registered task must have its version and digest."""
    versions = sorted(rows["task_version"].unique())
    wrong = [v for v in versions if v != str(spec.version)]
    if wrong:
        return [
            f"task {task}: version {', '.join(wrong)} in the file, but the registered task is version "
            f"{spec.version}: rerun on the current task"
        ]
    digests = sorted(set(rows["task_digest"]) - {spec.digest()})
    if digests:
        return [
            f"task {task} v{spec.version}: task digest {', '.join(d[:12] for d in digests)} differs from "
            f"the registered spec ({spec.digest()[:12]}): the spec changed without a new version"
        ]
    return []


def check_tasks(frame: pd.DataFrame, problems: list[str]) -> None:
    """Per task: one cohort hash; embedded specs that are the rows' task, version and digest; and, where
    the task is registered, its version and digest (where it is not, every row must embed its spec)."""
    for task, rows in frame.groupby("task", sort=True):
        task = str(task)
        hashes = sorted(rows["cohort_hash"].unique())
        if len(hashes) > 1:
            problems.append(
                f"task {task}: {len(hashes)} cohort hashes ({', '.join(h[:12] for h in hashes)}); results "
                "are comparable only on one cohort: submit one file per cohort"
            )
        spec = registered_spec(task)
        found = embedded_problems(task, rows, registered=spec is not None)
        problems.extend(found)
        if spec is not None:
            problems.extend(registered_problems(task, rows, spec))
        elif not found and (rows["task_spec"] == "").any():
            problems.append(unknown_task(task))

"""Which results may share a table: per task, rows are comparable only when task version, task digest and
cohort hash match. Mixing results of one task from two cohorts (or task versions) raises
``ComparabilityError`` naming both, unless a cohort hash is chosen, in which case the others are refused with
the reason."""

from __future__ import annotations

from typing import Any

from ecglab.leaderboards.errors import ComparabilityError
from ecglab.leaderboards.inputs import RunResult, refusal


def comparable_runs(
    runs: list[RunResult], cohort_hash: str | None, refused: list[dict[str, Any]]
) -> dict[str, list[RunResult]]:
    """Runs per task; raises ComparabilityError when one task mixes cohorts or task versions."""
    by_task: dict[str, list[RunResult]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    kept: dict[str, list[RunResult]] = {}
    for task, task_runs in sorted(by_task.items()):
        if cohort_hash:
            chosen = [r for r in task_runs if r.cohort_hash.startswith(cohort_hash)]
            for run in task_runs:
                if not run.cohort_hash.startswith(cohort_hash):
                    refused.append(
                        refusal(
                            run.origin,
                            f"cohort hash {run.cohort_hash[:12]} is not the chosen cohort {cohort_hash}",
                            run=run,
                        )
                    )
            task_runs = chosen
        groups: dict[tuple[str, str, str], list[RunResult]] = {}
        for run in task_runs:
            groups.setdefault((run.task_version, run.task_digest, run.cohort_hash), []).append(run)
        if len(groups) > 1:
            raise ComparabilityError(_mixing_message(task, groups))
        if task_runs:
            kept[task] = task_runs
    return kept


def _mixing_message(task: str, groups: dict[tuple[str, str, str], list[RunResult]]) -> str:
    keys = list(groups)
    differ = []
    if len({k[0] for k in keys}) > 1:
        differ.append("task version")
    if len({k[2] for k in keys}) > 1:
        differ.append("cohort hash")
    if len({k[1] for k in keys}) > 1 and len({k[0] for k in keys}) == 1:
        differ.append("task digest (the spec changed without a new version)")
    lines = [
        f"task {task}: results come from {len(groups)} different task versions or cohorts, and rows are "
        f"comparable only when task version and cohort hash match (they differ in {', '.join(differ)}):"
    ]
    for (version, digest, cohort), runs in groups.items():
        names = sorted({r.cohort_name for r in runs if r.cohort_name})
        origins = ", ".join(r.origin for r in runs[:3]) + (" ..." if len(runs) > 3 else "")
        lines.append(
            f"  - v{version}, task digest {digest[:12]}, cohort {'/'.join(names) or '?'} hash {cohort[:12]}: "
            f"{len(runs)} run(s): {origins}"
        )
    lines.append(
        "Build one leaderboard per cohort and task version: pass only one cohort's results, or choose one "
        "with --cohort-hash PREFIX (the others are then refused and listed)."
    )
    return "\n".join(lines)

"""Run folders as the leaderboard and the submission export find them: the run folders among the paths
given, the key that tells one backbone configuration from another, and the registration of a run's own task
spec files."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ecglab.bench.config import RunConfig, hashed_fields
from ecglab.bench.run_selection import run_folders_in
from ecglab.leaderboards.submission import SubmissionError

# configuration fields that do not tell one backbone configuration from another across tasks and seeds
NOT_IN_CONFIG_KEY = ("seed", "task", "cohort", "workers", "task_specs", "runs_dir")


def config_key(config: RunConfig | Mapping[str, Any]) -> str:
    """A short hash of a run's configuration without seed, task and cohort: runs of one backbone
    configuration (on any task, any seed) share it, so seeds are grouped and configurations kept apart."""
    values = config.to_dict() if isinstance(config, RunConfig) else dict(config)
    data = hashed_fields({k: v for k, v in values.items() if k not in NOT_IN_CONFIG_KEY})
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def find_run_folders(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders (holding ``run.json``) among ``paths``: each path is a run folder or a folder of them
    (searched recursively, skipping task caches and hidden folders). Raises SubmissionError for a path that
    does not exist or holds no run folder. The search is :func:`ecglab.bench.run_selection.run_folders_in`,
    as ``ecglab runs list`` searches."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SubmissionError(f"{path}: no such file or folder")
        if not path.is_dir():
            raise SubmissionError(f"{path}: expected a run folder or a folder of run folders")
        folders = run_folders_in(path)
        found.extend(folders)
        if not folders:
            raise SubmissionError(f"{path}: holds no run folder (a folder with run.json)")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def register_specs(files: Iterable[str]) -> None:
    """Register the task spec files a run was trained with, where they still exist (a spec file that
    changed since is left to the digest checks, which report it)."""
    from ecglab.tasks.registry import register_spec_file

    for file in files:
        if Path(file).is_file():
            with contextlib.suppress(ValueError, OSError):  # a changed spec: the digest check reports it
                register_spec_file(file)

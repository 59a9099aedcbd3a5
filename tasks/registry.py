"""The task registry: built-in specs from ``tasks/specs/*.yaml``, plus any a user registers."""

from __future__ import annotations

import difflib
import fnmatch
from importlib import resources
from pathlib import Path

from tasks.spec import TaskSpec, load_spec_file

_REGISTRY: dict[str, TaskSpec] = {}
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    folder = resources.files("tasks") / "specs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as path:
                for spec in load_spec_file(path):
                    register_task(spec)


def register_task(spec: TaskSpec) -> None:
    """Add a spec; a second spec of the same name raises."""
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name!r} is already registered (version {_REGISTRY[spec.name].version})")
    _REGISTRY[spec.name] = spec


def register_spec_file(path: str | Path) -> list[str]:
    """Register every task of a user's YAML spec file; returns their names. Loading the same file again is
    harmless (identical specs are skipped); a different spec under a registered name raises."""
    _load_builtins()
    specs = load_spec_file(path)
    for spec in specs:
        if _REGISTRY.get(spec.name) != spec:
            register_task(spec)
    return [spec.name for spec in specs]


def list_tasks(pattern: str | None = None) -> list[str]:
    _load_builtins()
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def get_task(name: str) -> TaskSpec:
    _load_builtins()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(_REGISTRY))}"
        raise KeyError(f"unknown task {name!r}{hint}")
    return _REGISTRY[name]

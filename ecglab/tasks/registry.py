"""The task registry: built-in specs from ``ecglab/tasks/specs/*.yaml``, plus any a user registers."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ecglab.registry import Registry, UnknownName
from ecglab.tasks.lead_ablation import lead_variants
from ecglab.tasks.spec import TaskSpec, load_spec_file

TASK_SOURCES = (
    "tasks come from the built-in specs (`ecglab tasks list`) and from spec files (`--task-spec FILE`, "
    "`ecglab tasks list --spec FILE`, a suite's `task_specs:`)"
)


def builtin_specs() -> list[TaskSpec]:
    """Every spec of the YAML files shipped in the package's ``specs`` folder, and the single-lead variants
    of the estimation tasks derived from them (:mod:`ecglab.tasks.lead_ablation`)."""
    folder = resources.files("ecglab.tasks") / "specs"
    specs: list[TaskSpec] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as path:
                specs.extend(load_spec_file(path))
    return specs + lead_variants(specs)


def new_registry() -> Registry[TaskSpec]:
    """A fresh registry of the built-in specs (loaded on first use)."""
    return Registry("task", TaskSpec, builtin_specs)


REGISTRY = new_registry()


def register_task(spec: TaskSpec) -> None:
    """Add a spec; a second spec of the same name raises."""
    REGISTRY.register(spec)


def register_spec_file(path: str | Path) -> list[str]:
    """Register every task of a user's YAML spec file; returns their names. Loading the same file again is
    harmless (identical specs are skipped); a different spec under a registered name raises."""
    specs = load_spec_file(path)
    for spec in specs:
        if spec.name not in REGISTRY or REGISTRY.get(spec.name) != spec:
            register_task(spec)
    return [spec.name for spec in specs]


def list_tasks(pattern: str | None = None) -> list[str]:
    return REGISTRY.names(pattern)


def get_task(name: str) -> TaskSpec:
    """The registered spec of task ``name``; :class:`~ecglab.registry.UnknownName` (a KeyError) with close
    matches and where tasks come from."""
    try:
        return REGISTRY.get(name)
    except UnknownName as err:
        raise UnknownName(f"{err} ({TASK_SOURCES})") from None

"""What a task's name and spec (the registered one, else the one stored with the run or embedded in its
submission) say about its window or horizon, so that tasks of one family (estimation windows, forecasting
horizons) can be drawn as one curve."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.run_folders import register_specs
from ecglab.tasks.spec import TaskSpec, spec_from_dict


@dataclass(frozen=True)
class TaskInfo:
    """What a task's name and registered spec say about its window or horizon."""

    name: str
    kind: str
    axis: str | None  # "window" | "horizon"
    minutes: float | None
    template: str | None  # the name with its minutes replaced, e.g. "anyecg_lab_est_{m}min"
    tags: tuple[str, ...]
    training_digest: str
    leads: tuple[str, ...] = ()  # the spec's input leads (empty when the registered spec is not the run's)


_MINUTES = re.compile(r"(\d+(?:\.\d+)?)min")


def run_spec(run: RunResult) -> TaskSpec | None:
    """The spec of a run's task: the registered one (after registering the run's spec files) when its
    digest is the run's, else the run's own (stored in ``run.json`` or embedded in its submission) when
    that one's is; None when neither is."""
    from ecglab.tasks.registry import get_task

    register_specs(run.task_specs)
    try:
        spec = get_task(run.task)
    except KeyError:
        spec = None
    if spec is not None and spec.digest() == run.task_digest:
        return spec
    if run.task_spec is None:
        return None
    try:
        own = spec_from_dict(dict(run.task_spec))
    except ValueError:  # a spec of another ecglab version: the task name still says the window
        return None
    return own if own.name == run.task and own.digest() == run.task_digest else None


def task_info(run: RunResult) -> TaskInfo:
    """Window or horizon of a run's task: from its spec (``run_spec``), else read from the task name
    (``..._15min``; ``forecast`` in the name means a horizon)."""
    matches = list(_MINUTES.finditer(run.task))
    template = _MINUTES.sub("{m}min", run.task) if matches else None
    spec = run_spec(run)
    if spec is not None:
        forecast = spec.kind == "forecast"
        minutes = spec.horizon_min if forecast else spec.window_min
        return TaskInfo(
            run.task,
            spec.kind,
            "horizon" if forecast else "window",
            float(minutes) if minutes else None,
            template,
            tuple(spec.tags),
            run.training_digest,
            tuple(spec.input.leads),
        )
    forecast = "forecast" in run.task
    minutes = float(matches[-1].group(1)) if matches else None
    return TaskInfo(
        run.task,
        "forecast" if forecast else "estimation",
        "horizon" if forecast else "window",
        minutes,
        template,
        (),
        run.training_digest,
    )

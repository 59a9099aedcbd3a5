"""The task stage's errors: a task that cannot be built on a cohort, and a task spec that is not valid."""

from __future__ import annotations

from ecglab.errors import EcglabError


class TaskError(EcglabError):
    """A task cannot be built on a cohort (no usable anchors, leads the cohort lacks, a bad spec)."""


class TaskSpecError(TaskError, ValueError):
    """A task spec (a YAML file or a dict) is not valid: the message names the file, the task and the key.

    A ValueError too, as spec problems were before they became one-line CLI errors."""

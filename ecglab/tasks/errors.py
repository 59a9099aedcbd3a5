"""The task stage's error: a task that cannot be built on a cohort."""

from __future__ import annotations

from ecglab.errors import EcglabError


class TaskError(EcglabError):
    """A task cannot be built on a cohort (no usable anchors, leads the cohort lacks, a bad spec)."""

"""The base of ecglab's user-facing errors: the CLI prints any of them as one line, without a stack trace.

Every stage subclasses :class:`EcglabError` for its own bad input (``ecglab.cohort.errors.CohortError``,
``ecglab.tasks.errors.TaskError``, ...); each message names the file and what to do.
"""

from __future__ import annotations


class EcglabError(Exception):
    """Base class of ecglab's user-facing errors (the CLI prints these without a stack trace)."""

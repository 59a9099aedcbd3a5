"""Errors that ecglab raises for bad input: each message names the file and what to do."""

from __future__ import annotations


class EcglabError(Exception):
    """Base class of ecglab's user-facing errors (the CLI prints these without a stack trace)."""


class CohortError(EcglabError):
    """A cohort store is missing, incomplete, corrupt, or of an unknown format version."""


class TaskError(EcglabError):
    """A task cannot be built on a cohort (no usable anchors, leads the cohort lacks, a bad spec)."""

"""The cohort stage's error: a store that is missing, incomplete, corrupt, or of an unknown version."""

from __future__ import annotations

from ecglab.errors import EcglabError


class CohortError(EcglabError):
    """A cohort store is missing, incomplete, corrupt, or of an unknown format version."""

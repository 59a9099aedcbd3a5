"""The errors of the leaderboard stage: inputs a leaderboard cannot be built from, results that cannot share a
table, and runs left out (each refusal carries its reason)."""

from __future__ import annotations

from ecglab.errors import EcglabError


class LeaderboardError(EcglabError):
    """A leaderboard cannot be built from these inputs."""


class ComparabilityError(LeaderboardError):
    """Results of one task come from different cohorts or task versions: they cannot share a table."""


class RunRefused(LeaderboardError):
    """A run left out of the leaderboard, or of its resampling (the reason is reported)."""


class SearchTrial(RunRefused):
    """A validation-only run of a hyperparameter search: never a leaderboard row, and not worth a refusal."""

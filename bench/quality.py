"""Data-quality report: every row, record, segment or target that a stage drops, counted by reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLES = 5


@dataclass
class DropCount:
    """How many items one stage dropped for one reason, with a few examples to look them up."""

    stage: str
    reason: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


class QualityReport:
    """Counts what was dropped, per (stage, reason). Serialised into a store's ``cohort.json``."""

    def __init__(self) -> None:
        self._drops: dict[tuple[str, str], DropCount] = {}

    def drop(self, stage: str, reason: str, count: int = 1, examples: Iterable[Any] = ()) -> None:
        """Record that ``count`` items were dropped at ``stage`` for ``reason``."""
        if count < 0:
            raise ValueError(f"drop count must be >= 0, got {count}")
        if count == 0:
            return
        entry = self._drops.setdefault((stage, reason), DropCount(stage, reason))
        entry.count += count
        for example in examples:
            if len(entry.examples) >= MAX_EXAMPLES:
                break
            entry.examples.append(str(example))

    def merge(self, other: QualityReport) -> None:
        """Add every count of ``other`` to this report."""
        for entry in other._drops.values():
            self.drop(entry.stage, entry.reason, entry.count, entry.examples)

    @property
    def total(self) -> int:
        return sum(entry.count for entry in self._drops.values())

    def count(self, stage: str, reason: str) -> int:
        entry = self._drops.get((stage, reason))
        return entry.count if entry else 0

    def to_dict(self) -> dict[str, Any]:
        rows = sorted(self._drops.values(), key=lambda d: (d.stage, d.reason))
        return {
            "total_dropped": self.total,
            "dropped": [
                {"stage": d.stage, "reason": d.reason, "count": d.count, "examples": d.examples} for d in rows
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        report = cls()
        for row in data.get("dropped", []):
            report.drop(row["stage"], row["reason"], int(row["count"]), row.get("examples", []))
        return report

    def summary_lines(self) -> list[str]:
        """Human-readable lines, one per (stage, reason)."""
        if not self._drops:
            return ["nothing dropped"]
        return [
            f"{d.stage}: {d.count} dropped ({d.reason})"
            for d in sorted(self._drops.values(), key=lambda d: (d.stage, -d.count))
        ]

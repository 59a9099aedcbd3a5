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
        self._notes: dict[tuple[str, str], DropCount] = {}

    def note(self, stage: str, reason: str, count: int = 1, examples: Iterable[Any] = ()) -> None:
        """Record something worth knowing that dropped nothing (e.g. conflicting values kept side by side)."""
        self._add(self._notes, stage, reason, count, examples)

    def drop(self, stage: str, reason: str, count: int = 1, examples: Iterable[Any] = ()) -> None:
        """Record that ``count`` items were dropped at ``stage`` for ``reason``."""
        self._add(self._drops, stage, reason, count, examples)

    @staticmethod
    def _add(
        table: dict[tuple[str, str], DropCount], stage: str, reason: str, count: int, examples: Iterable[Any]
    ) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if count == 0:
            return
        entry = table.setdefault((stage, reason), DropCount(stage, reason))
        entry.count += count
        for example in examples:
            if len(entry.examples) >= MAX_EXAMPLES:
                break
            entry.examples.append(str(example))

    def merge(self, other: QualityReport) -> None:
        """Add every count of ``other`` to this report."""
        for entry in other._drops.values():
            self.drop(entry.stage, entry.reason, entry.count, entry.examples)
        for entry in other._notes.values():
            self.note(entry.stage, entry.reason, entry.count, entry.examples)

    @property
    def total(self) -> int:
        return sum(entry.count for entry in self._drops.values())

    def count(self, stage: str, reason: str) -> int:
        entry = self._drops.get((stage, reason))
        return entry.count if entry else 0

    def to_dict(self) -> dict[str, Any]:
        def rows(table: dict[tuple[str, str], DropCount]) -> list[dict[str, Any]]:
            ordered = sorted(table.values(), key=lambda d: (d.stage, d.reason))
            return [
                {"stage": d.stage, "reason": d.reason, "count": d.count, "examples": d.examples}
                for d in ordered
            ]

        return {"total_dropped": self.total, "dropped": rows(self._drops), "notes": rows(self._notes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        report = cls()
        for row in data.get("dropped", []):
            report.drop(row["stage"], row["reason"], int(row["count"]), row.get("examples", []))
        for row in data.get("notes", []):
            report.note(row["stage"], row["reason"], int(row["count"]), row.get("examples", []))
        return report

    def summary_lines(self) -> list[str]:
        """Human-readable lines, one per (stage, reason)."""
        lines = [
            f"{d.stage}: {d.count} dropped ({d.reason})"
            for d in sorted(self._drops.values(), key=lambda d: (d.stage, -d.count))
        ] or ["nothing dropped"]
        return lines + [
            f"{d.stage}: note: {d.count} {d.reason}"
            for d in sorted(self._notes.values(), key=lambda d: (d.stage, -d.count))
        ]

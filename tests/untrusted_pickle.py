"""A pickle payload for the checkpoint tests: unpickling :class:`Payload` runs :func:`side_effect`, which
records that it ran in :data:`EXECUTED`: what ``torch.load(weights_only=True)`` must never do."""

from __future__ import annotations

EXECUTED: list[str] = []


def side_effect() -> str:
    EXECUTED.append("ran")
    return "pwned"


class Payload:
    """Unpickling this runs ``side_effect``."""

    def __reduce__(self) -> tuple:
        return (side_effect, ())

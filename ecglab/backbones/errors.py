"""The errors of the backbone stage: a backbone that cannot be built as asked (an unknown preset or option)
and a checkpoint that cannot be loaded (not a checkpoint, truncated, unsafe, or not matching the model). Each
is an :class:`~ecglab.errors.EcglabError`, so the command line prints it as one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ecglab.errors import EcglabError


class BackboneError(EcglabError):
    """A backbone cannot be built as asked; the message names what is wrong and what is known."""


class UnknownPreset(BackboneError, KeyError):
    """No preset of that name; the message lists close matches and the backbone's presets."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownOption(BackboneError, TypeError):
    """An option the backbone's factory does not take; the message lists close matches and what it takes."""


class BadOption(BackboneError, ValueError):
    """An option value the backbone cannot be built with (e.g. a negative width); the message says why."""


class CheckpointError(BackboneError, RuntimeError):
    """A checkpoint file that cannot be loaded strictly, or that would need an unsafe unpickler."""


def did_you_mean(name: str, known: Iterable[str], what: str) -> str:
    """``; did you mean A, B?`` for close matches among ``known``, else ``; WHAT: every known name``."""
    known = sorted(set(known))
    lowered = {k.lower(): k for k in known}  # "Tiny" finds tiny
    close = [lowered[c] for c in difflib.get_close_matches(str(name).lower(), lowered, n=3)]
    return f"; did you mean {', '.join(close)}?" if close else f"; {what}: {', '.join(known) or 'none'}"


def check_option_names(backbone: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise :class:`UnknownOption` for options of ``given`` that are not ``known`` (the first one named,
    with close matches and every option the backbone takes)."""
    known = sorted(set(known))
    unknown = [name for name in given if name not in known]
    if unknown:
        more = f" (and {len(unknown) - 1} more: {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
        hint = did_you_mean(unknown[0], known, "options")
        close = hint.startswith("; did")
        listing = f" (options: {', '.join(known)})" if close else ""
        raise UnknownOption(f"backbone {backbone!r} takes no option {unknown[0]!r}{more}{hint}{listing}")

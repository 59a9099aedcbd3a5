"""One generic registry, serving backbones and tasks: built-ins plus lazy entry points, duplicate names
refused, unknown names answered with close matches, and never half loaded.

Loading happens on first use: the built-ins, then every entry point of the registry's group (each gives an
entry or a list of them). If any of that fails, the registry is left empty and not marked loaded, and the
error names the entry point; the next call tries again. So a registry is either fully loaded or raises.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from ecglab.errors import EcglabError

T = TypeVar("T")


class RegistryError(EcglabError):
    """An entry point failed to load, gave the wrong type, or named an entry twice."""


class DuplicateName(RegistryError, ValueError):
    """A second entry under a name already registered."""


class UnknownName(RegistryError, KeyError):
    """No entry of that name; the message lists close matches or what is known."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Entries of type ``kind`` by name. ``builtins`` returns the built-in entries; ``group`` is the
    entry-point group other packages register under; ``check`` validates an entry (raises ValueError)."""

    def __init__(
        self,
        what: str,
        kind: type[T],
        builtins: Callable[[], Iterable[T]],
        group: str | None = None,
        check: Callable[[T], None] | None = None,
    ) -> None:
        self.what = what
        self.kind = kind
        self.group = group
        self._builtins = builtins
        self._check = check
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        try:
            for entry in self._builtins():
                self._add(entry, "built-in")
            for point in entry_points(group=self.group) if self.group else ():
                origin = f"entry point {point.name} ({point.value}) of group {self.group}"
                try:
                    loaded = point.load()
                except Exception as err:
                    raise RegistryError(f"{origin} failed to load: {type(err).__name__}: {err}") from err
                for entry in loaded if isinstance(loaded, list | tuple) else [loaded]:
                    if not isinstance(entry, self.kind):
                        raise RegistryError(
                            f"{origin} gave {type(entry).__name__}, expected {self.kind.__name__} "
                            "or a list of them"
                        )
                    self._add(entry, origin)
        except BaseException:
            self._entries.clear()
            self._origins.clear()
            raise
        self._loaded = True

    def _add(self, entry: T, origin: str) -> None:
        name = entry.name  # type: ignore[attr-defined]
        if name in self._entries:
            raise DuplicateName(
                f"{self.what} {name!r} is already registered ({self._origins[name]}); {origin} gives another"
            )
        if self._check is not None:
            try:
                self._check(entry)
            except ValueError as err:
                raise RegistryError(f"{self.what} {name!r} ({origin}): {err}") from None
        self._entries[name] = entry
        self._origins[name] = origin

    def register(self, entry: T) -> T:
        """Add an entry after loading; a second one of the same name raises :class:`RegistryError`."""
        self._load()
        self._add(entry, "registered later")
        return entry

    def names(self, pattern: str | None = None) -> list[str]:
        self._load()
        names = sorted(self._entries)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            lowered = {n.lower(): n for n in self._entries}  # "ECGFounder" finds ecgfounder
            close = [lowered[c] for c in difflib.get_close_matches(str(name).lower(), lowered, n=3)]
            known = ", ".join(sorted(self._entries))
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {known}"
            raise UnknownName(f"unknown {self.what} {name!r}{hint}")
        return self._entries[name]

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

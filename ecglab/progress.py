"""Progress output that fits where it goes: a live bar (tqdm) only when standard error is a terminal;
written to a file or a pipe, nothing per step but one line per finished stage (``ingest: 659 records in
2.1 s``), so a log holds lines, never carriage returns. Disabled (``--quiet``), neither. Every stage's bars
and lines come from :func:`progress_bar`; other lines that must not break a live bar go through :func:`write`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: standard error, where bars go) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def plural(n: int, unit: str) -> str:
    """``n unit`` with the unit in the plural where n is not 1 (record -> records, batch -> batches)."""
    if n == 1:
        return f"{n} {unit}"
    return f"{n} {unit}{'es' if unit.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


class StageLine:
    """The stand-in of a bar off a terminal: counts what passes, prints nothing per step and, when the stage
    ends (its iteration is exhausted, or ``close``), one line to ``stream`` if it has a label
    (``desc``): ``desc: N units in S s``; nothing for a stage cut short (fewer than ``total``), whose error
    is then the one line a user reads."""

    def __init__(
        self,
        iterable: Iterable[Any] | None,
        total: int | None,
        desc: str,
        unit: str,
        initial: int,
        stream: TextIO,
    ) -> None:
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = initial
        self.stream = stream
        self.started = time.perf_counter()
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None, "a StageLine without an iterable is updated, not iterated"
        for item in self.iterable:
            yield item
            self.n += 1
        self.close()

    def __enter__(self) -> StageLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.n += n

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Nothing: a bar's live figures have no place in a log."""

    def close(self) -> None:
        """End the stage: its one line (once), when it has a label."""
        if self.closed:
            return
        self.closed = True
        if not self.desc:
            return
        if self.total is not None and self.n < self.total:
            return  # cut short: the error (or the interruption) that stopped it is the line to read
        seconds = time.perf_counter() - self.started
        print(f"{self.desc}: {plural(self.n, self.unit)} in {seconds:.1f} s", file=self.stream, flush=True)


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    enabled: bool = True,
    desc: str = "",
    total: int | None = None,
    unit: str = "it",
    initial: int = 0,
    line: bool = True,
    stream: TextIO | None = None,
    **bar_options: Any,
) -> Any:
    """A progress bar over ``iterable`` (or updated by hand): a tqdm bar (``bar_options`` passed on) when
    ``enabled`` and ``stream`` (default standard error) is a terminal; else a :class:`StageLine`, which
    prints the stage's one line at its end when ``enabled`` and ``line`` (``line=False`` where the caller
    prints its own line per stage, e.g. one per epoch)."""
    stream = sys.stderr if stream is None else stream
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if enabled and on_terminal(stream):
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, file=stream, **bar_options)
    return StageLine(iterable, total, desc if enabled and line else "", unit, initial, stream)


def write(text: str) -> None:
    """A line on standard output that does not break a live bar (``tqdm.write``), printed plainly off a
    terminal."""
    if on_terminal():
        tqdm.write(text)
    else:
        print(text, flush=True)

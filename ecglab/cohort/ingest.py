"""Parallel, resumable ingest: work is cut into numbered parts, each written by a worker process.

``run_parts`` skips the parts a previous run finished (see :mod:`ecglab.cohort.parts`), runs the others in a
process pool, and shows a progress bar with item counts and rate (on a terminal; else one line at the end, see
:mod:`ecglab.progress`). Memory stays bounded: a worker streams its
part's recordings straight to the part's shard files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ecglab.cohort.parts import PartWriter
from ecglab.cohort.writer import CohortWriter
from ecglab.progress import progress_bar

PartFunction = Callable[[PartWriter, Sequence[Any]], None]


@dataclass(frozen=True)
class IngestStats:
    parts: int
    parts_resumed: int
    items: int
    items_resumed: int


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _run_one(function: PartFunction, folder: Any, items: Sequence[Any], max_shard_bytes: int) -> int:
    part = PartWriter(folder, max_shard_bytes)
    try:
        function(part, items)
    except BaseException:
        part.abort()
        raise
    part.finish()
    return len(items)


def split_into_parts(items: Sequence[Any], per_part: int) -> list[Sequence[Any]]:
    """Consecutive slices of ``items`` of at most ``per_part`` each (deterministic, so resumable)."""
    if per_part < 1:
        raise ValueError("per_part must be >= 1")
    return [items[i : i + per_part] for i in range(0, len(items), per_part)]


def run_parts(
    writer: CohortWriter,
    parts: Sequence[Sequence[Any]],
    function: PartFunction,
    *,
    workers: int | None = None,
    progress: bool = True,
    unit: str = "record",
) -> IngestStats:
    """Write every unfinished part with ``function(part_writer, items)``; finished parts are kept as they are.

    ``function`` must be a module-level function (it is sent to worker processes). An error in one part stops
    the run after the parts already running finish; every finished part is kept for the next run.
    """
    workers = workers or default_workers()
    pending = [i for i in range(len(parts)) if not writer.part_done(i)]
    done_items = sum(len(parts[i]) for i in range(len(parts)) if i not in set(pending))
    stats = IngestStats(len(parts), len(parts) - len(pending), sum(len(p) for p in parts), done_items)
    if stats.parts_resumed:
        print(
            f"resuming: {stats.parts_resumed} of {stats.parts} parts ({done_items} {unit}s) already done",
            file=sys.stderr,
        )
    bar = progress_bar(
        enabled=progress, desc="ingest", total=stats.items, initial=done_items, unit=unit, smoothing=0.1
    )
    try:
        if workers == 1:
            for i in pending:
                bar.update(_run_one(function, writer.part_folder(i), parts[i], writer.max_shard_bytes))
            return stats
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(_run_one, function, writer.part_folder(i), parts[i], writer.max_shard_bytes)
                for i in pending
            }
            try:
                while futures:
                    finished, futures = wait(futures, return_when=FIRST_EXCEPTION)
                    for future in finished:
                        bar.update(future.result())  # re-raises a worker's error here
            except BaseException:
                for future in futures:
                    future.cancel()  # parts not started stay undone; running ones finish and are kept
                raise
        return stats
    finally:
        bar.close()

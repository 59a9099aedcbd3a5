"""One shard file of a cohort store being written: samples appended, hashed as they are written, and
flushed to disk.

While a shard grows, what it holds is flushed to disk in a background thread every ``FLUSH_BYTES``, so that
closing it (which waits until every byte is on disk, as a finished part needs) waits only for the rest. The
thread only waits on the disk; an error it meets is raised in the writing thread at the next flush or at
``close``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLUSH_BYTES = 1 << 22  # 4 MiB written since the last flush starts a background one


@dataclass
class Shard:
    """A shard file of samples x leads of one dtype; ``handle`` is its open binary file."""

    index: int
    file: str
    dtype: str
    leads: tuple[str, ...]
    n_samples: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    handle: Any = None
    unflushed: int = 0
    flusher: threading.Thread | None = None
    flush_error: list[OSError] = field(default_factory=list)

    @property
    def n_bytes(self) -> int:
        return self.n_samples * len(self.leads) * np.dtype(self.dtype).itemsize

    def append(self, data: np.ndarray) -> None:
        """Write samples x leads (contiguous, little-endian) at the end of the shard, without a copy."""
        view = memoryview(data).cast("B")
        self.handle.write(view)
        self.digest.update(view)
        self.n_samples += data.shape[0]
        self.unflushed += view.nbytes
        if self.unflushed >= FLUSH_BYTES and (self.flusher is None or not self.flusher.is_alive()):
            self.flush_in_background()

    def flush_in_background(self) -> None:
        """Start writing what the shard holds to disk in a thread (after the one in flight, if any)."""
        if self.handle is None:
            return
        self._wait_for_flush()
        self.handle.flush()  # to the OS; the thread then waits for the disk
        self.unflushed = 0
        self.flusher = threading.Thread(target=self._flush, args=(self.handle.fileno(),), daemon=True)
        self.flusher.start()

    def _flush(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:  # raised by _wait_for_flush in the writing thread
            self.flush_error.append(exc)

    def _wait_for_flush(self) -> None:
        if self.flusher is not None:
            self.flusher.join()
            self.flusher = None
        if self.flush_error:
            raise self.flush_error.pop()

    def close(self) -> None:
        if self.handle is not None:
            self._wait_for_flush()
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None

    def discard(self) -> None:
        """Close without flushing (the part is being thrown away)."""
        if self.flusher is not None:
            self.flusher.join()
            self.flusher = None
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "file": self.file,
            "dtype": self.dtype,
            "leads": list(self.leads),
            "n_samples": self.n_samples,
            "sha256": self.digest.hexdigest(),
        }

"""Claims: the file beside a run folder saying a worker runs that pairing, so that no other starts it.

Several workers (job-array shards, one process per GPU, machines sharing a runs folder) run one suite. Before
starting a pairing a worker creates ``RUNS_DIR/<run folder>.claim`` exclusively (``O_CREAT | O_EXCL``: of two
creators exactly one wins), holding its host, pid and start time as JSON. While it runs, a thread refreshes
the file's modification time (the heartbeat) every ``interval`` seconds; when done it removes the file.

A claim expires when its heartbeat is older than ``timeout`` seconds (its worker died or its machine was cut
off), or at once when its holder was a process of this host that no longer exists. Taking over an expired
claim is atomic: the taker first creates ``<claim>.takeover-<token>`` exclusively (one winner per expired
claim, named by its token), then renames the expired file away and checks it moved the file it judged expired
(a fresh claim moved by mistake is linked back), then creates its own claim exclusively. Heartbeats compare
file times with this machine's clock: keep the clocks of machines sharing a runs folder in sync (NTP), and
the timeout well above the interval (the default: 10 minutes, a heartbeat every minute).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLAIM_SUFFIX = ".claim"
DEFAULT_TIMEOUT = 600.0  # seconds without a heartbeat after which a claim is taken for dead


def claim_file(run_dir: str | Path) -> Path:
    """The claim file of a run folder: beside it, named after it."""
    run_dir = Path(run_dir)
    return run_dir.with_name(run_dir.name + CLAIM_SUFFIX)


def pid_namespace() -> str:
    """This process's pid namespace (containers on one host have their own), or '' where unknown."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds a claim (the claim file's content)."""

    host: str
    pid: int
    started: float  # seconds since the epoch
    token: str  # unique per claim: names its takeover marker
    pidns: str = ""

    @classmethod
    def me(cls) -> Holder:
        return cls(socket.gethostname(), os.getpid(), time.time(), uuid.uuid4().hex, pid_namespace())

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)) if self.started else "?"
        return f"{self.host} pid {self.pid}, since {since}"

    def dead_here(self) -> bool:
        """True when the holder was a process of this host (and pid namespace) that no longer exists."""
        if self.host != socket.gethostname() or self.pidns != pid_namespace() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # another user's process, or no signals here: alive as far as we know
            return False
        return False


def read_holder(path: str | Path) -> Holder | None:
    """The holder of a claim file; None when there is none. A file being written (or garbled) reads as an
    unknown holder whose token is its inode, so that it still expires by its heartbeat."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        inode = path.stat().st_ino
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return Holder(str(data["host"]), int(data["pid"]), float(data["started"]), str(data["token"]),
                      str(data.get("pidns", "")))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return Holder("?", 0, 0.0, f"inode{inode}")


def heartbeat_age(path: str | Path) -> float | None:
    """Seconds since the claim's last heartbeat; None when there is no claim."""
    try:
        return max(0.0, time.time() - Path(path).stat().st_mtime)
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Held:
    """A claim another worker holds (the answer of :func:`acquire` when it cannot claim)."""

    holder: Holder | None
    age: float

    def describe(self) -> str:
        who = self.holder.describe() if self.holder else "a worker that just finished"
        return f"held by {who}, heartbeat {self.age:.0f} s ago"


@dataclass
class Claim:
    """A claim this process holds; :meth:`start` its heartbeat, :meth:`release` it when done (or use it as
    a context manager)."""

    path: Path
    holder: Holder
    interval: float
    marker: Path | None = None  # the takeover marker to remove on release
    lost: bool = False  # another worker took it over (our heartbeat stopped for longer than the timeout)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def beat(self) -> bool:
        """Refresh the heartbeat; False (and ``lost``) when the file is no longer ours."""
        current = read_holder(self.path)
        if current is None or current.token != self.holder.token:
            self.lost = True
            return False
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path)
        return True

    def start(self) -> Claim:
        def loop() -> None:
            while not self._stop.wait(self.interval) and self.beat():
                pass

        self._thread = threading.Thread(target=loop, name=f"heartbeat {self.path.name}", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop the heartbeat and remove the claim (only if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        current = read_holder(self.path)
        if current is not None and current.token == self.holder.token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self.marker is not None:
            with contextlib.suppress(FileNotFoundError):
                self.marker.unlink()

    def __enter__(self) -> Claim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.release()


def expired(path: str | Path, holder: Holder | None, timeout: float) -> bool:
    age = heartbeat_age(path)
    return age is not None and (age > timeout or (holder is not None and holder.dead_here()))


def acquire(
    path: str | Path, timeout: float = DEFAULT_TIMEOUT, interval: float | None = None
) -> Claim | Held:
    """Claim ``path`` for this process (taking over an expired claim), or say who holds it. The returned
    claim's heartbeat is not started yet (:meth:`Claim.start`, or ``with``)."""
    path = Path(path)
    interval = min(timeout / 4, 60.0) if interval is None else interval
    me = Holder.me()
    marker = None
    for _ in range(3):  # a claim released or taken over meanwhile: look again
        if _create(path, me):
            return Claim(path, me, interval, marker)
        seen = read_holder(path)
        if seen is None:
            continue
        if not expired(path, seen, timeout):
            return Held(seen, heartbeat_age(path) or 0.0)
        marker = _take_over(path, seen, me)
        if marker is None:
            break
        if _create(path, me):
            return Claim(path, me, interval, marker)
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()  # a fresh claim got in between: it holds the pairing
        marker = None
    seen = read_holder(path)
    return Held(seen, heartbeat_age(path) or 0.0)


def _create(path: Path, me: Holder) -> bool:
    """Create the claim file exclusively with our content; False when it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(asdict(me), file)
        file.flush()
        os.fsync(file.fileno())
    return True


def _take_over(path: Path, seen: Holder, me: Holder) -> Path | None:
    """Move the expired claim ``seen`` out of the way; the takeover marker when we won, else None."""
    marker = path.with_name(f"{path.name}.takeover-{seen.token}")
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return None  # another taker won this claim
    trash = path.with_name(f"{path.name}.expired-{me.token}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return marker  # its holder removed it meanwhile: the pairing is free
    moved = read_holder(trash)
    if moved is not None and moved.token != seen.token:  # a fresh claim, not the expired one: put it back
        with contextlib.suppress(FileExistsError):
            os.link(trash, path)
        trash.unlink()
        marker.unlink()
        return None
    trash.unlink()
    return marker

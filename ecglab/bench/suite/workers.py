"""Workers sharing a suite: ``--shard I/N`` (a job array's share of the pairings) and ``--gpus 0,1,...``
(one worker process per device of this machine).

Shards count from 1, as ``#SBATCH --array=1-N`` does: worker I of N takes the pairings whose position k in
the suite's order (after ``--only``, counted from 0) has ``k mod N == I - 1``. ``--gpus`` starts one
``python -m ecglab.bench.cli run ...`` per device label with ``CUDA_VISIBLE_DEVICES`` set to it, relays their
output line by line behind ``[gpu LABEL]`` and waits for all. Whatever else the workers share, the claims
(:mod:`ecglab.bench.suite.claims`) keep any two of them from running one pairing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TypeVar

from ecglab.bench.suite.schema import SuiteError

T = TypeVar("T")
LABEL = re.compile(r"[\w.:-]+")


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (worker I of N, 1 <= I <= N) as ``(I, N)``; a one-line error otherwise."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = 0, 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise SuiteError(
            f"--shard {text}: expected I/N, worker I of N workers with 1 <= I <= N (counted from 1, as "
            "SLURM's --array=1-N), e.g. --shard 3/8"
        )
    return i, n


def shard_of(items: Sequence[T], shard: tuple[int, int] | None) -> list[T]:
    """The share of worker I of N: the items at positions k with ``k mod N == I - 1``."""
    if shard is None:
        return list(items)
    index, count = shard
    return [item for k, item in enumerate(items) if k % count == index - 1]


def parse_devices(text: str) -> list[str]:
    """Comma-separated device labels (``0,1,2,3``, GPU UUIDs) as a list; a one-line error otherwise."""
    labels = [label.strip() for label in text.split(",")]
    bad = [label for label in labels if not LABEL.fullmatch(label)]
    if bad or not labels:
        raise SuiteError(f"--gpus {text}: expected comma-separated device labels, e.g. --gpus 0,1,2,3")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise SuiteError(f"--gpus {text}: device listed twice: {', '.join(twice)}")
    return labels


@dataclass(frozen=True)
class WorkerResult:
    device: str
    returncode: int


def run_workers(
    argv: Sequence[str], devices: Sequence[str], *, out: Callable[[str], None] = print
) -> list[WorkerResult]:
    """Run ``python -m ecglab.bench.cli ARGV`` once per device (``CUDA_VISIBLE_DEVICES=device``), relaying
    their output; returns their exit statuses. Ctrl-C is passed on to the workers, which stop and release
    their claims, and re-raised once they have."""
    lock = threading.Lock()

    def relay(stream: IO[str], prefix: str) -> None:
        for line in stream:
            with lock:
                out(prefix + line.rstrip("\n"))

    procs, relays = [], []
    for device in devices:
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": device}
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecglab.bench.cli", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        thread = threading.Thread(target=relay, args=(proc.stdout, f"[gpu {device}] "), daemon=True)
        thread.start()
        procs.append(proc)
        relays.append(thread)
    try:
        codes = [proc.wait() for proc in procs]
    except KeyboardInterrupt:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait()
        raise
    finally:
        for thread in relays:
            thread.join(timeout=5)
    return [WorkerResult(device, code) for device, code in zip(devices, codes, strict=True)]

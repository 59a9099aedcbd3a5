"""How fast WFDB records are read: wfdb.rdrecord against ecglab.cohort.readers.wfdb_io, same records, same
run.

Run: .venv/bin/python benchmarks/wfdb_read_speed.py [--records 500] [--repeats 3]
Writes MIMIC-IV-ECG-like records (12 leads x 5000 samples, format 16, gain 200) to a temporary folder, reads
each once to warm the page cache, then times every reader over all records on one core (best of --repeats
passes, the readers taking turns).
Peak memory: traced Python/NumPy allocations of one pass of each reader (tracemalloc, untimed), and the
process's maximum resident size. Prints figures only; the goal (>= 30x wfdb per core) is judged by reading.
"""

from __future__ import annotations

import argparse
import datetime
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import wfdb

from ecglab.cohort.readers.wfdb_io import read_digital, read_header, read_physical

LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
BUFFER = np.empty((5000, 12), dtype=np.int16)  # one reused buffer, as an ingest reads into its batch


def write_records(directory: Path, n: int) -> list[str]:
    """Headers as wfdb.wrsamp writes them (checksums included), signals as little-endian int16."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        name = f"{40000000 + i}"
        d = rng.integers(-2000, 2000, size=(5000, 12)).astype("<i2")
        checksums = d.sum(axis=0, dtype=np.int64) % 65536
        lines = [f"{name} 12 500 5000 08:44:24 27/06/2180"] + [
            f"{name}.dat 16 200.0(0)/mV 16 0 {d[0, ch]} {checksums[ch]} 0 {lead}"
            for ch, lead in enumerate(LEADS)
        ]
        (directory / f"{name}.hea").write_text("\n".join(lines) + "\n")
        d.tofile(directory / f"{name}.dat")
        paths.append(str(directory / name))
    return paths


def wrsamp_header(directory: Path, path: str) -> str:
    """The header wfdb.wrsamp writes for the same samples, to show the fixture is what wfdb writes."""
    record = wfdb.rdrecord(path, physical=False)
    wfdb.wrsamp(
        "check",
        fs=500,
        units=["mV"] * 12,
        sig_name=LEADS,
        d_signal=record.d_signal,
        fmt=["16"] * 12,
        adc_gain=[200.0] * 12,
        baseline=[0] * 12,
        base_time=datetime.time(8, 44, 24),
        base_date=datetime.date(2180, 6, 27),
        write_dir=str(directory),
    )
    return (directory / "check.hea").read_text().replace("check", Path(path).name)


READERS: dict[str, Callable[[str], np.ndarray]] = {
    "wfdb.rdrecord (physical)": lambda p: wfdb.rdrecord(p).p_signal,
    "wfdb.rdrecord (digital)": lambda p: wfdb.rdrecord(p, physical=False).d_signal,
    "read_header": lambda p: read_header(p).signals,
    "read_header + read_digital": lambda p: read_digital(read_header(p)),
    "read_header + read_digital(out=)": lambda p: read_digital(read_header(p), out=BUFFER),
    "read_header + read_physical": lambda p: read_physical(read_header(p)),
}


def records_per_second(paths: list[str], repeats: int) -> dict[str, float]:
    """Best of ``repeats`` passes per reader; the readers take turns, so background load hits all alike."""
    best = dict.fromkeys(READERS, float("inf"))
    for _ in range(repeats):
        for name, read in READERS.items():
            start = time.perf_counter()
            for path in paths:
                read(path)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(paths) / seconds for name, seconds in best.items()}


def traced_peak_bytes(read: Callable[[str], object], paths: list[str]) -> int:
    tracemalloc.start()
    for path in paths:
        read(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = write_records(Path(tmp), args.records)
        print(f"wrote {len(paths)} records (12 x 5000, format 16) in {time.perf_counter() - start:.1f} s")
        with tempfile.TemporaryDirectory() as other:
            same_header = wrsamp_header(Path(other), paths[0]) == Path(paths[0] + ".hea").read_text()
        print(f"header identical to what wfdb.wrsamp writes for the same samples: {same_header}")
        for path in paths:  # warm the page cache for every reader alike
            Path(path + ".hea").read_bytes(), Path(path + ".dat").read_bytes()
        same = all(
            np.array_equal(
                read_physical(read_header(p)).view(np.uint64), wfdb.rdrecord(p).p_signal.view(np.uint64)
            )
            for p in paths[:20]
        )
        print(f"physical samples bit-identical to wfdb on the first {min(20, len(paths))} records: {same}")
        rates = records_per_second(paths, args.repeats)
        print(f"\n{'reader':<30} {'records/s':>10} {'us/record':>10} {'traced peak MiB':>16}")
        for name, read in READERS.items():
            peak = traced_peak_bytes(read, paths) / 2**20
            print(f"{name:<30} {rates[name]:>10.0f} {1e6 / rates[name]:>10.1f} {peak:>16.1f}")
        for kind in ("digital", "physical"):
            ratio = rates[f"read_header + read_{kind}"] / rates[f"wfdb.rdrecord ({kind})"]
            print(f"speed-up, {kind}: {ratio:.1f}x")
        maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"process max resident size: {maxrss_mib:.0f} MiB")


if __name__ == "__main__":
    main()

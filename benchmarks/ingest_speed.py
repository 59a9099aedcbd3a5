"""How fast MIMIC-IV-ECG records are ingested into a cohort store, against plain wfdb.rdrecord on the same
records in the same run, and the peak memory of each.

Run: .venv/bin/python benchmarks/ingest_speed.py [--records 2000] [--repeats 3] [--wfdb-records 500]
    [--mimic-iv ../shared/data/mimic-iv-demo]
Writes MIMIC-IV-ECG-like records (12 leads x 5000 samples, format 16, gain 200) in the MIMIC-IV-ECG layout for
the demo's patients, then times (1) a loop of wfdb.rdrecord over the first --wfdb-records records (what a
one-off script does), (2) the whole ingest `build_mimic_cohort` with one worker and (3) with every core, each
of the first half of the records and of all of them. Every timing is the best of --repeats turns, taken in
turn (wfdb, then each ingest), so background load on a shared machine hits all alike.

Two ingest figures: "overall" is all records over the whole run, which includes the fixed costs (reading the
record list and the lab, patient, visit and vitals tables, and committing them), so it depends on how many
records there are; "each further record" is the difference of the two runs (all records less the first half,
same patients and tables), which removes the fixed costs: the per-record throughput of a large ingest. The
goal (>= 30x wfdb per core) is for the second, per worker. On a shared machine other programs' load slows
wall time unevenly, so the CPU time (user + system, of every process of the run) per further record is
printed too, against wfdb's CPU time per record. Also checks that every store holds the same content
(cohort.json content hash) whatever the worker count. Prints figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from ecglab.cohort.readers.mimic import build_mimic_cohort
from ecglab.cohort.store import open_cohort

LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
DEFAULT_MIMIC_IV = Path(__file__).resolve().parents[2] / "shared" / "data" / "mimic-iv-demo"


def write_tree(root: Path, subjects: list[str], n: int) -> list[str]:
    rng = np.random.default_rng(0)
    rows, paths = [], []
    start = pd.Timestamp("2180-01-01 08:00:00")
    for i in range(n):
        subject, study = subjects[i % len(subjects)], str(40_000_000 + i)
        rel = Path("files") / f"p{subject}" / f"s{study}" / study
        when = start + pd.Timedelta(hours=i)
        folder = root / rel.parent
        folder.mkdir(parents=True, exist_ok=True)
        digital = rng.integers(-2000, 2000, size=(5000, 12)).astype("<i2")
        checksums = digital.sum(axis=0, dtype=np.int64) % 65536
        lines = [f"{study} 12 500 5000 {when:%H:%M:%S} {when:%d/%m/%Y}"] + [
            f"{study}.dat 16 200.0(0)/mV 16 0 {digital[0, ch]} {checksums[ch]} 0 {lead}"
            for ch, lead in enumerate(LEADS)
        ]
        (folder / f"{study}.hea").write_text("\n".join(lines) + "\n")
        digital.tofile(folder / f"{study}.dat")
        rows.append((subject, study, study, f"{when:%Y-%m-%d %H:%M:%S}", str(rel)))
        paths.append(str(root / rel))
    pd.DataFrame(rows, columns=["subject_id", "study_id", "file_name", "ecg_time", "path"]).to_csv(
        root / "record_list.csv", index=False
    )
    return paths


def peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (an ingest's workers are joined at its end)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_ingest(mimic_iv: Path, source: Path, out: Path, workers: int) -> tuple[float, float, int, str]:
    """Wall and CPU seconds to build a store from ``source``, the recordings stored and its content hash."""
    shutil.rmtree(out, ignore_errors=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    store = build_mimic_cohort(mimic_iv, source, out, workers=workers, progress=False)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    content = json.loads((store / "cohort.json").read_text())["content_hash"]
    return seconds, cpu, len(open_cohort(store).recordings), content


def report(workers: int, half: tuple[float, float, int], full: tuple[float, float, int], wfdb: float) -> None:
    """Print one worker count's figures; ``half``/``full``: best wall s, best CPU s, records stored;
    ``wfdb``: wfdb's seconds per record (wall; CPU is printed separately)."""
    (t_half, _, n_half), (t_all, _, n_all) = half, full
    overall, marginal = n_all / t_all, (n_all - n_half) / (t_all - t_half)
    fixed = t_all - n_all / marginal
    print(
        f"ingest, {workers} worker(s), {n_all} records stored in {t_all:.2f} s: {overall:6.0f} records/s "
        f"overall ({overall * wfdb:4.1f}x wfdb, fixed costs included: about {fixed:.1f} s); "
        f"each further record {marginal:6.0f} records/s = {marginal / workers * wfdb:4.1f}x wfdb per core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="turns; each figure is the best")
    parser.add_argument("--wfdb-records", type=int, default=500, help="records in the wfdb.rdrecord loop")
    parser.add_argument(
        "--mimic-iv", type=Path, default=DEFAULT_MIMIC_IV, help="a MIMIC-IV folder with hosp/"
    )
    args = parser.parse_args()
    if not (args.mimic_iv / "hosp").is_dir():
        raise SystemExit(f"{args.mimic_iv}/hosp not found: pass --mimic-iv (the open demo works)")
    subjects = pd.read_csv(args.mimic_iv / "hosp" / "patients.csv.gz", dtype=str)["subject_id"].tolist()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ecg"
        paths = write_tree(root, subjects, args.records)
        for path in paths:  # warm the page cache for both readers alike
            Path(path + ".dat").read_bytes()
        half = Path(tmp) / "ecg-half"  # the first half of the records, same patients and lab tables
        half.mkdir()
        (half / "files").symlink_to(root / "files")
        listed = pd.read_csv(root / "record_list.csv", dtype=str)
        listed.head(len(listed) // 2).to_csv(half / "record_list.csv", index=False)
        cores = os.cpu_count() or 1
        runs = [(workers, source) for workers in sorted({1, cores}) for source in (half, root)]
        wfdb_paths = paths[: args.wfdb_records]
        wfdb_wall = wfdb_cpu = float("inf")
        wall: dict[tuple[int, Path], float] = {}
        cpu: dict[tuple[int, Path], float] = {}
        stored: dict[tuple[int, Path], tuple[int, str]] = {}
        for _ in range(args.repeats):
            start, used = time.perf_counter(), cpu_seconds()
            for path in wfdb_paths:
                wfdb.rdrecord(path)
            wfdb_wall = min(wfdb_wall, time.perf_counter() - start)
            wfdb_cpu = min(wfdb_cpu, cpu_seconds() - used)
            for run in runs:
                seconds, used, n, content = time_ingest(args.mimic_iv, run[1], Path(tmp) / "store", run[0])
                wall[run], cpu[run] = min(wall.get(run, seconds), seconds), min(cpu.get(run, used), used)
                stored[run] = (n, content)
        n_wfdb = len(wfdb_paths)
        print(
            f"wfdb.rdrecord loop: {n_wfdb / wfdb_wall:8.0f} records/s (1 core; best of {args.repeats} turns "
            f"over {n_wfdb} records); CPU {1e3 * wfdb_cpu / n_wfdb:.1f} ms/record"
        )
        for workers in sorted({1, cores}):
            half_run, full_run = (workers, half), (workers, root)
            report(
                workers,
                (wall[half_run], cpu[half_run], stored[half_run][0]),
                (wall[full_run], cpu[full_run], stored[full_run][0]),
                wfdb_wall / n_wfdb,
            )
            extra_cpu = (cpu[full_run] - cpu[half_run]) / (stored[full_run][0] - stored[half_run][0])
            print(
                f"    CPU time (all processes) of each further record: {1e6 * extra_cpu:.0f} us = "
                f"{wfdb_cpu / n_wfdb / extra_cpu:4.1f}x wfdb's CPU time per record"
            )
        same = len({stored[workers, root][1] for workers in sorted({1, cores})}) == 1
        print(f"content hash of the full store the same for every worker count: {same}")
        print(
            f"peak resident memory: this process {peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
            f"largest worker {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
        )


if __name__ == "__main__":
    main()

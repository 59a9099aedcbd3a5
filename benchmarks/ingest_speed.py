"""How fast MIMIC-IV-ECG records are ingested into a cohort store, against plain wfdb.rdrecord on the same
records in the same run, and the peak memory of each.

Run: .venv/bin/python benchmarks/ingest_speed.py [--records 2000] [--mimic-iv ../shared/data/mimic-iv-demo]
Writes MIMIC-IV-ECG-like records (12 leads x 5000 samples, format 16, gain 200) in the MIMIC-IV-ECG layout for
the demo's patients, then times (1) a loop of wfdb.rdrecord over every record (what a one-off script does),
(2) the whole ingest `build_mimic_cohort` with one worker and (3) with every core. The ingest figure includes
checking, writing the store, reading the lab tables and committing. Prints figures only; the goal (>= 30x
wfdb per core) is judged by reading them.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
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

        start = time.perf_counter()
        for path in paths:
            wfdb.rdrecord(path)
        wfdb_rate = len(paths) / (time.perf_counter() - start)
        print(f"wfdb.rdrecord loop: {wfdb_rate:8.0f} records/s (1 core)")

        half = Path(tmp) / "ecg-half"  # the first half of the records, same patients and lab tables
        half.mkdir()
        (half / "files").symlink_to(root / "files")
        listed = pd.read_csv(root / "record_list.csv", dtype=str)
        listed.head(len(listed) // 2).to_csv(half / "record_list.csv", index=False)
        cores = os.cpu_count() or 1
        for workers in sorted({1, cores}):
            timings = []
            for source in (half, root):  # the difference of the two runs removes the fixed costs
                start = time.perf_counter()
                store = build_mimic_cohort(
                    args.mimic_iv,
                    source,
                    Path(tmp) / f"store-{workers}-{source.name}",
                    workers=workers,
                    progress=False,
                )
                timings.append((time.perf_counter() - start, len(open_cohort(store).recordings)))
            (t_half, n_half), (t_all, n_all) = timings
            overall, marginal = n_all / t_all, (n_all - n_half) / (t_all - t_half)
            per_core = marginal / workers / wfdb_rate
            print(
                f"ingest, {workers} worker(s): {overall:6.0f} records/s overall ({overall / wfdb_rate:4.1f}x "
                f"wfdb); each further record {marginal:6.0f} records/s = {per_core:4.1f}x "
                f"wfdb per core ({n_all} records stored)"
            )
        print(
            f"peak resident memory: this process {peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
            f"largest worker {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
        )


if __name__ == "__main__":
    main()

"""How fast the synthetic cohort is generated: segments per second with 1 worker and with all cores.

Run: .venv/bin/python benchmarks/synth_speed.py [--patients 100]
Prints figures only; the goal (10k segments in under a minute on 2 cores) is judged by reading them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from ecglab.cohort.store import open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    args = parser.parse_args()
    config = SynthConfig(n_patients=args.patients)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        for workers in sorted({1, min(cores, 4)}):
            start = time.perf_counter()
            path = build_synthetic_cohort(Path(tmp) / f"w{workers}", config, workers=workers, progress=False)
            elapsed = time.perf_counter() - start
            n = open_cohort(path).meta["row_counts"]["segments"]
            print(
                f"workers={workers}: {n} segments in {elapsed:.1f} s = {n / elapsed:.0f} segments/s "
                f"({10_000 / (n / elapsed):.1f} s per 10k segments)"
            )


if __name__ == "__main__":
    main()

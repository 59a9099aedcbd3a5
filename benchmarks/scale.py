"""The seeds' experiments at their own size (issue 11): task builds, the training loader, one evaluation pass
and its statistics, and a leaderboard over many run folders, each timed with its peak memory beside its goal.

Run (after writing the scale stores: `ecglab cohort synth --scale mcmed --out STORES/mcmed`, same for mimic):

    .venv/bin/python benchmarks/scale.py all --stores STORES [--work DIR]
    .venv/bin/python benchmarks/scale.py build --store STORES/mcmed --task anyecg_lab_est_60min
    .venv/bin/python benchmarks/scale.py loader --store STORES/mcmed --task anyecg_lab_est_60min
    .venv/bin/python benchmarks/scale.py evaluate --store STORES/mcmed --task anyecg_lab_est_60min
    .venv/bin/python benchmarks/scale.py leaderboard --runs 1000 --work DIR

Every measurement runs in a child process of its own, so its peak resident memory (``ru_maxrss``) is its own.
Task builds are cached under ``--work`` (the loader and evaluation reuse them); a build is timed only when
it is not cached. "Cold" reads drop the store's shard files from the page cache first
(``posix_fadvise(DONTNEED)``), for the loader and for its NumPy reference alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scale_measures import MEASURES
from scale_runs import ANYECG_TASKS, CARDIOLAB_TASKS

GOALS = {
    "build": "< 5 min and < 8 GiB (floor < 15 min, < 16 GiB)",
    "loader": ">= 50% of the NumPy copy's bytes/s (warm)",
    "evaluate": "(no goal: the data path of one test pass)",
    "statistics": "(no goal: bootstrap + DeLong at the test size)",
    "leaderboard": "< 30 s for 1,000 run folders",
}


def peak_gib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_child(argv: list[str]) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its last stdout line is its JSON figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "_child", *argv]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"measure": argv[0], "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["child_wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def child(argv: list[str]) -> None:
    """Runs one measure and prints its figures (with this process's peak memory) as one JSON line."""
    measure, *rest = argv
    parser = argparse.ArgumentParser(prog=f"scale.py {measure}")
    MEASURES[measure].add_arguments(parser)
    figures = MEASURES[measure].run(parser.parse_args(rest))
    figures.update(measure=measure, peak_gib=round(peak_gib(), 2))
    print(json.dumps(figures))


def show(figures: dict[str, Any]) -> None:
    measure = figures.get("measure", "?")
    print(f"\n== {measure}  goal: {GOALS.get(measure, '')}")
    for key, value in figures.items():
        if key != "measure":
            print(f"   {key}: {value}")
    sys.stdout.flush()


def store_args(store: Path, task: str, work: Path) -> list[str]:
    return ["--store", str(store), "--task", task, "--work", str(work)]


def run_all(args: argparse.Namespace) -> None:
    stores, work = Path(args.stores), Path(args.work)
    print(f"machine: {os.cpu_count()} cores; numpy {np.__version__}; date {time.strftime('%Y-%m-%d %H:%M')}")
    plans = [(stores / "mcmed", ANYECG_TASKS), (stores / "mimic", CARDIOLAB_TASKS)]
    for store, tasks in plans:
        if not (store / "cohort.json").is_file():
            print(f"\n(skipped {store}: no store there; write it with ecglab cohort synth --scale)")
            continue
        for task in tasks:
            show(run_child(["build", *store_args(store, task, work)]))
        for temperature in ("warm", "cold"):
            loader = ["loader", *store_args(store, tasks[0], work), "--cache", temperature]
            show(run_child(loader))
        show(run_child(["evaluate", *store_args(store, tasks[0], work)]))
        show(run_child(["statistics", *store_args(store, tasks[0], work)]))
    show(run_child(["leaderboard", "--runs", str(args.runs), "--work", str(work)]))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    everything = verbs.add_parser("all", help="every measure on the stores in --stores")
    everything.add_argument("--stores", required=True, help="folder holding mcmed/ and mimic/ scale stores")
    everything.add_argument("--work", default=tempfile.gettempdir() + "/ecglab-scale")
    everything.add_argument("--runs", type=int, default=1000)
    for name, measure in MEASURES.items():
        measure.add_arguments(verbs.add_parser(name, help=measure.help))
    args, _ = parser.parse_known_args()
    if args.verb == "all":
        run_all(args)
    else:
        show(run_child(sys.argv[1:]))


if __name__ == "__main__":
    main()

"""``ecglab demo``: the benchmark end to end on the built-in synthetic cohort."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cohort_store import open_cohort
from bench.commands.cohort import print_summary
from bench.errors import CohortError

DEMO_PATIENTS = 150
DEMO_BOUT_MINUTES = (2.0, 6.0)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the demo benchmark on the synthetic cohort")
    parser.add_argument(
        "--workdir", type=Path, default=Path("demo"), help="where the demo writes (default ./demo)"
    )
    parser.add_argument("--patients", type=int, default=DEMO_PATIENTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from bench.synth import SynthConfig, build_synthetic_cohort

    config = SynthConfig(n_patients=args.patients, seed=args.seed, bout_minutes=DEMO_BOUT_MINUTES)
    store = args.workdir / "cohort"
    if (store / "cohort.json").exists():
        cohort = open_cohort(store)
        if cohort.meta["parameters"] != config.parameters():
            raise CohortError(
                f"{store} holds a cohort built with other parameters; remove it or pick --workdir"
            )
        print(f"[1/1] synthetic cohort: reusing {store} (built earlier with the same parameters)")
    else:
        print(f"[1/1] synthetic cohort: building {store}")
        cohort = open_cohort(build_synthetic_cohort(store, config))
    print_summary(cohort.summary())
    print("Training, evaluation and the leaderboard join this demo as the engine and benchmark land.")
    return 0

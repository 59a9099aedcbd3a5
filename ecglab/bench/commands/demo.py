"""``ecglab demo``: the benchmark end to end on the built-in synthetic cohort.

1. build the synthetic cohort (reused when it exists with the same parameters);
2. run the demo suite (``ecglab/bench/suites/demo.yaml``): the tiny presets of ecgfounder, s4 and
   transformer and the two baselines, on an estimation and a forecasting task; finished pairings are
   skipped on a rerun;
3. compile the leaderboard (CSV, Markdown, HTML) from the result files (``ecglab.leaderboards.board``),
   and print its Markdown.
MLflow runs go to ``WORKDIR/mlflow.db`` (``mlflow ui --backend-store-uri sqlite:///WORKDIR/mlflow.db``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ecglab.bench.commands.cohort import print_summary
from ecglab.cohort.errors import CohortError
from ecglab.cohort.store import open_cohort
from ecglab.errors import EcglabError

if TYPE_CHECKING:
    import pandas as pd

DEMO_PATIENTS = 500  # many patients with few ECGs each: intervals by patient rest on 125 test patients
DEMO_BOUT_MINUTES = (0.5, 1.0)
DEMO_SUITE = Path(__file__).resolve().parents[1] / "suites" / "demo.yaml"
# the demo suite with an external cohort (same pairings, so `--external` after a demo only scores them)
EXTERNAL_DEMO_SUITE = DEMO_SUITE.with_name("external_demo.yaml")
# the external cohort of `--external`: other patients, MIMIC-IV lab codes, an older and sicker population,
# recorded at 250 Hz (the runs' inputs are resampled to the task's 100 Hz)
EXTERNAL_SHAPE = {"fs": 250.0, "lab_coding": "mimic-iv", "shift": "older-sicker"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="run the demo benchmark on the synthetic cohort")
    parser.add_argument(
        "--workdir", type=Path, default=Path("demo"), help="where the demo writes (default ./demo)"
    )
    parser.add_argument(
        "--patients", type=int, default=DEMO_PATIENTS, help=f"synthetic patients (default {DEMO_PATIENTS})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic cohort (default 0)")
    parser.add_argument("--epochs", type=int, help="override the suite's epochs (e.g. 1 for a smoke run)")
    parser.add_argument("--only", action="append", default=[], help="run only matching pairings (glob)")
    parser.add_argument(
        "--external",
        action="store_true",
        help="also build a second, shifted synthetic cohort (MIMIC-IV lab codes, 250 Hz) and score every "
        "run on it (external validation)",
    )
    parser.add_argument("--no-track", action="store_true", help="no MLflow store")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run_demo)


def _cohort(args: argparse.Namespace, external: bool = False) -> Path:
    """The demo's synthetic cohort (``WORKDIR/cohort``), or with ``external`` its external cohort
    (``WORKDIR/external``: half as many other patients, :data:`EXTERNAL_SHAPE`); reused when it exists."""
    from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

    if external:
        patients, seed, shape, store = max(args.patients // 2, 100), args.seed + 1, EXTERNAL_SHAPE, "external"
    else:
        patients, seed, shape, store = args.patients, args.seed, {}, "cohort"
    config = SynthConfig(n_patients=patients, seed=seed, bout_minutes=DEMO_BOUT_MINUTES, **shape)
    step = "[1/3] external cohort" if external else "[1/3] synthetic cohort"
    store = args.workdir / store
    if (store / "cohort.json").exists():
        cohort = open_cohort(store)
        stored = {k: v for k, v in cohort.meta["parameters"].items() if k != "patients_per_part"}
        if stored != config.parameters():  # (the part size follows from the patient count)
            raise CohortError(
                f"{store} holds a cohort built with other parameters; remove it or pick --workdir"
            )
        print(f"{step}: reusing {store}")
    else:
        print(f"{step}: building {store}")
        cohort = open_cohort(build_synthetic_cohort(store, config))
    print_summary(cohort.summary())
    return store


def null_lab_check(targets: pd.DataFrame, null_labs: list[str], alpha: float = 0.05) -> str:
    """One line on the synthetic cohort's null labs (no signal by construction): how many of their clustered
    intervals exclude 0.5, beside the share a (1 - alpha) interval excludes by chance."""
    from ecglab.tasks.catalogue import anyecg_lab_panel

    null_targets = {t.target for t in anyecg_lab_panel() if t.mcmed_component in set(null_labs)}
    rows = targets[(targets["source"] == "ecglab") & targets["target"].isin(null_targets)]
    rows = rows[rows["clustered_low"].notna() & rows["clustered_high"].notna()]
    if rows.empty:
        return "null labs: no clustered interval to check"
    excluding = rows[(rows["clustered_low"] > 0.5) | (rows["clustered_high"] < 0.5)]
    listed = "; ".join(f"{r.entry} {r.task} {r.target} {r.auroc:.3f}" for r in excluding.itertuples())
    return (
        f"null labs (no signal by construction): {len(excluding)} of {len(rows)} clustered intervals exclude "
        f"0.5 ({len(excluding) / len(rows):.0%}; a {1 - alpha:.0%} interval does so by chance "
        f"{alpha:.0%} of the time){': ' + listed if listed else ''}"
    )


def run_demo(args: argparse.Namespace) -> int:
    from ecglab.bench.suite import load_suite, run_suite
    from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
    from ecglab.leaderboards.render_markdown import render_markdown

    store = _cohort(args)
    suite = load_suite(EXTERNAL_DEMO_SUITE if args.external else DEMO_SUITE)
    run = dict(suite.run)
    if args.epochs is not None:
        run["epochs"] = args.epochs
    externals = ()
    if args.external:
        (external,) = suite.external
        externals = (dataclasses.replace(external, cohort=str(_cohort(args, external=True).resolve())),)
    suite = dataclasses.replace(
        suite,
        cohort=str(store.resolve()),
        runs_dir=str((args.workdir / "runs").resolve()),
        run=run,
        external=externals,
    )
    print(f"[2/3] demo suite: {len(suite.backbones)} backbones x {len(suite.tasks)} tasks")
    uri = f"sqlite:///{(args.workdir / 'mlflow.db').resolve()}"
    report = run_suite(
        suite, tracking_uri=uri, track=not args.no_track, only=args.only, progress=not args.quiet
    )
    if not report.ok:
        raise EcglabError(f"{len(report.failed)} demo pairing(s) failed; see the report above")
    print("[3/3] leaderboard")
    board = build_leaderboard([args.workdir / "runs"], published=True, title="ecglab demo (synthetic cohort)")
    paths = write_leaderboard(board, args.workdir / "leaderboard")
    print(render_markdown(board))
    print(null_lab_check(board.targets, open_cohort(store).summary().get("null_labs", [])))
    print(f"\nleaderboard: {', '.join(str(p) for p in paths.values())}")
    if not args.no_track:
        print(f"MLflow: mlflow ui --backend-store-uri {uri}")
    return 0

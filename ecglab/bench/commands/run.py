"""``ecglab run SUITE.yaml``, ``ecglab tune`` and ``ecglab tune-best``: the benchmark grid and the search."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from ecglab.bench.commands.train import ROW_LEVEL_HELP, TRACKING_URI_HELP, print_run, read_run_options
from ecglab.bench.suite.claims import DEFAULT_TIMEOUT
from ecglab.bench.suite.schema import shipped_suites
from ecglab.errors import EcglabError

STORAGE_HELP = (
    "where the study lives: sqlite:///PATH, postgresql://USER@HOST/DB (pip install 'ecglab[postgres]'), or "
    "journal:PATH / a PATH ending .log (a journal file workers share without a server); default: env "
    "ECGLAB_OPTUNA_STORAGE, else sqlite:///RUNS_DIR/optuna.db. Keep a URL with a password in "
    "ECGLAB_OPTUNA_STORAGE, not on the command line (it is never printed)"
)
# flags of `ecglab tune` that fix a RunConfig field for every trial (the rest: --config YAML)
_RUN_FLAGS = ("preset", "epochs", "batch_size", "patience", "checkpoint", "workers", "precision", "fine_tune")


def add_parser(sub: argparse._SubParsersAction) -> None:
    _add_run(sub)
    _add_tune(sub)
    _add_tune_best(sub)


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="run every (backbone, task, seed) pairing of a suite file",
        description="Train and evaluate every pairing of SUITE.yaml in order. Finished pairings are skipped "
        "(--force reruns them), failed ones rerun, interrupted ones resume; a failing pairing is reported "
        "at the end and the others still run (exit status 1 if any failed). Any number of workers may "
        "share a runs folder (--shard, --gpus, several machines): each claims a pairing before starting it, "
        "so none starts one another worker finished or is running.",
    )
    run.add_argument(
        "suite",
        type=Path,
        help="a suite file (format: see ecglab/bench/suite/schema.py) or the name of a shipped suite "
        f"({', '.join(shipped_suites())})",
    )
    run.add_argument("--force", action="store_true", help="rerun finished pairings too")
    run.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only pairings BACKBONE/TASK/seedN matching this glob (or a backbone or task glob); "
        "repeatable",
    )
    run.add_argument("--runs-dir", type=Path, help="where run folders go (default: the suite's runs_dir)")
    run.add_argument(
        "--cohort", type=Path, help="the cohort store every pairing reads (default: the suite's cohort)"
    )
    _tracking(run)
    run.add_argument("--quiet", action="store_true", help="no progress bars (the per-pairing lines stay)")
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run only worker I's share of N workers (I counted from 1, as SLURM's --array=1-N): the "
        "pairings at positions k (from 0) with k mod N = I-1",
    )
    run.add_argument(
        "--gpus",
        metavar="LIST",
        help="start one worker process per device label, e.g. 0,1,2,3 (CUDA_VISIBLE_DEVICES set for each), "
        "sharing the pairings through claims",
    )
    run.add_argument(
        "--claim-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"a claim whose worker sent no heartbeat for this long is taken for dead and taken over "
        f"(default {DEFAULT_TIMEOUT:.0f})",
    )
    run.set_defaults(run=run_suite)


def _add_tune(sub: argparse._SubParsersAction) -> None:
    tune = sub.add_parser(
        "tune",
        help="search hyperparameters of a backbone on a task (Optuna, validation split only)",
        description="Run --trials trials of an Optuna study on the validation split (the test split is "
        "never scored). Several workers (processes or machines) share a study through --storage and "
        "--study; a joining worker needs only --study, --storage, --cohort and --trials and takes the "
        "study's settings. Create the study with one worker first (e.g. --trials 0), then start the others.",
    )
    tune.add_argument("--backbone", help="backbone (needed to create a study)")
    tune.add_argument("--task", help="task (needed to create a study)")
    tune.add_argument("--cohort", required=True, type=Path, help="cohort store (this machine's path)")
    tune.add_argument("--trials", required=True, type=int, help="trials this worker runs (0: only report)")
    tune.add_argument(
        "--total-trials", type=int, help="stop once the study holds this many complete or pruned trials"
    )
    tune.add_argument("--storage", help=STORAGE_HELP)
    tune.add_argument(
        "--study", help="study name: created if missing, else joined (default BACKBONE-PRESET-TASK)"
    )
    tune.add_argument("--sampler", choices=["tpe", "random"], help="set when the study is created (tpe)")
    tune.add_argument("--pruner", choices=["median", "none"], help="set when the study is created (median)")
    tune.add_argument("--seed", type=int, help="sampler seed, set when the study is created (0)")
    tune.add_argument(
        "--space",
        metavar="MODULE:CALLABLE",
        help="search space instead of the backbone's (searched as it is, whatever the preset)",
    )
    _tune_run_options(tune)
    tune.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where trial run folders go (runs/)"
    )
    tune.add_argument("--keep-checkpoints", action="store_true", help="keep best.pt/last.pt of trials")
    tune.add_argument("--progress", action="store_true", help="also progress bars per epoch of each trial")
    tune.add_argument("--quiet", action="store_true", help="no line per trial, no progress bars")
    _tracking(tune)
    tune.set_defaults(run=run_tune)


def _tune_run_options(tune: argparse.ArgumentParser) -> None:
    """The flags of `ecglab tune` that fix RunConfig fields for every trial."""
    tune.add_argument(
        "--preset",
        help="backbone preset (default tiny): its options (model size) stay fixed, the backbone's other "
        "options are searched (full: the backbone's whole declared space)",
    )
    tune.add_argument("--epochs", type=int, help="epochs per trial (the pruner may stop a trial earlier)")
    tune.add_argument("--batch-size", type=int, help="training batch size of every trial")
    tune.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    tune.add_argument(
        "--fine-tune",
        choices=["full", "linear_probe", "probe_then_full", "frozen_stages"],
        help="what pretrained weights train (with --checkpoint)",
    )
    tune.add_argument(
        "--precision", choices=["auto", "fp32", "bf16"], help="auto: bf16 on CUDA, fp32 on the CPU"
    )
    tune.add_argument("--checkpoint", help="pretrained weights file (this machine's path)")
    tune.add_argument("--workers", type=int, help="data-loader processes")
    tune.add_argument("--fusion", action="store_true", help="late fusion with the task's tabular inputs")
    tune.add_argument(
        "--allow-lead-mismatch",
        action="store_true",
        help="feed the task's leads to weights trained on other leads (reported)",
    )
    tune.add_argument("--config", type=Path, help="YAML of run options fixed for every trial")
    tune.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="fixed backbone option, repeatable"
    )
    tune.add_argument(
        "--task-spec", type=Path, action="append", default=[], help="YAML of extra tasks, repeatable"
    )


def _add_tune_best(sub: argparse._SubParsersAction) -> None:
    best = sub.add_parser(
        "tune-best",
        help="run a study's best trial on the test split (label 'tuned')",
        description="Train the configuration of the study's best complete trial and evaluate it on the test "
        "split, as a regular run labelled 'tuned' (the leaderboard shows it as such).",
    )
    best.add_argument("--study", required=True, help="the study's name")
    best.add_argument("--storage", help=STORAGE_HELP)
    best.add_argument(
        "--cohort", type=Path, help="cohort store (default: the path the study was created with)"
    )
    best.add_argument("--seeds", type=int, nargs="+", help="training seeds (default: the study's)")
    best.add_argument("--checkpoint", help="pretrained weights file (default: the study's path)")
    best.add_argument(
        "--task-spec", type=Path, action="append", default=[], help="YAML of extra tasks, repeatable"
    )
    best.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where the run folders go (default runs/)"
    )
    best.add_argument("--force", action="store_true", help="rerun if finished")
    best.add_argument("--quiet", action="store_true", help="no progress bars")
    _tracking(best)
    best.set_defaults(run=run_tune_best)


def _tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", help=TRACKING_URI_HELP)
    parser.add_argument(
        "--experiment", help="MLflow experiment (default: the suite's or study's, else ecglab)"
    )
    parser.add_argument("--no-track", action="store_true", help="write result files only, no MLflow")
    parser.add_argument("--log-row-level", action="store_true", help=ROW_LEVEL_HELP)


# ------------------------------------------------------------------------------------------------ run
def run_suite(args: argparse.Namespace) -> int:
    from ecglab.bench.suite import load_suite, parse_shard
    from ecglab.bench.suite import run_suite as run

    shard = parse_shard(args.shard) if args.shard is not None else None
    if not args.claim_timeout > 0:
        raise EcglabError(f"--claim-timeout {args.claim_timeout}: expected a number of seconds > 0")
    suite = load_suite(args.suite)
    if args.experiment:
        suite = dataclasses.replace(suite, experiment=args.experiment)
    if args.cohort is not None:
        suite = dataclasses.replace(suite, cohort=str(args.cohort.resolve()))
    if args.gpus is not None:
        return run_on_devices(args, suite)
    report = run(
        suite,
        runs_dir=args.runs_dir,
        tracking_uri=args.tracking_uri,
        track=not args.no_track,
        force=args.force,
        only=args.only,
        progress=not args.quiet,
        shard=shard,
        claim_timeout=args.claim_timeout,
        log_row_level=args.log_row_level,
    )
    print(report.table())
    return 0 if report.ok else 1


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The ``ecglab run`` arguments of one worker of ``--gpus``: this command's, less --gpus, quiet."""
    argv = ["run", str(args.suite), "--quiet", "--claim-timeout", repr(args.claim_timeout)]
    for pattern in args.only:
        argv += ["--only", pattern]
    for flag, value in (("--runs-dir", args.runs_dir), ("--shard", args.shard), ("--cohort", args.cohort)):
        if value is not None:
            argv += [flag, str(value)]
    for flag, value in (("--tracking-uri", args.tracking_uri), ("--experiment", args.experiment)):
        if value is not None:
            argv += [flag, value]
    argv += ["--log-row-level"] if args.log_row_level else []
    return argv + (["--no-track"] if args.no_track else [])


def run_on_devices(args: argparse.Namespace, suite: Any) -> int:
    """``ecglab run --gpus``: one worker per device, sharing the pairings through claims."""
    from ecglab.bench.suite import check_paths, parse_devices, run_workers

    devices = parse_devices(args.gpus)
    if args.force:
        raise EcglabError(
            "--force with --gpus would have each worker rerun pairings the others just finished: rerun "
            "with --force on one worker"
        )
    check_paths(suite)  # one error here rather than one per worker
    if not args.no_track:  # created once, before the workers race to create it
        from ecglab.bench.tracking import ensure_experiment, resolve_tracking_uri

        ensure_experiment(resolve_tracking_uri(args.tracking_uri), suite.experiment)
    results = run_workers(worker_argv(args), devices)
    failed = [r for r in results if r.returncode != 0]
    states = ", ".join(
        f"gpu {r.device}: {'ok' if r.returncode == 0 else f'exit {r.returncode}'}" for r in results
    )
    print(f"{suite.name}: {len(results)} workers: {states}")
    if failed:
        print("FAILED workers: " + ", ".join(f"gpu {r.device}" for r in failed) + " (their output is above)")
    return 1 if failed else 0


# ----------------------------------------------------------------------------------------------- tune
def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run options given explicitly (a joining worker compares these with the study's)."""
    values: dict[str, Any] = read_run_options(args.config) if args.config else {}
    values.update({name: getattr(args, name) for name in _RUN_FLAGS if getattr(args, name) is not None})
    if args.option:
        options = dict(values.get("backbone_options", {}))
        for item in args.option:
            key, sep, value = item.partition("=")
            if not sep:
                raise EcglabError(f"--option {item!r}: expected KEY=VALUE")
            options[key] = yaml.safe_load(value)
        values["backbone_options"] = options
    if args.fusion:
        values["fusion"] = True
    if args.allow_lead_mismatch:
        values["allow_lead_mismatch"] = True
    return values


def run_tune(args: argparse.Namespace) -> int:
    from ecglab.bench.tune import tune
    from ecglab.bench.tune.storage import STORAGE_ENV, has_password, resolve_storage, storage_argument

    if args.trials < 0:
        raise EcglabError("--trials must be >= 0")
    if args.storage and has_password(args.storage):
        print(
            f"ecglab: warning: --storage holds a password, which other users of this machine can see in "
            f"its process list: set {STORAGE_ENV} to the URL instead (ecglab never prints it)",
            file=sys.stderr,
        )
    result = tune(
        cohort=args.cohort,
        n_trials=args.trials,
        backbone=args.backbone,
        task=args.task,
        run_options=run_options(args),
        storage=args.storage,
        study_name=args.study,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        space=args.space,
        task_specs=[str(p) for p in args.task_spec],
        runs_dir=args.runs_dir,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        track=not args.no_track,
        total_trials=args.total_trials,
        keep_checkpoints=args.keep_checkpoints,
        progress=args.progress and not args.quiet,
        out=_silent if args.quiet else print,
        log_row_level=args.log_row_level,
    )
    print(
        f"study {result.study_name} ({result.storage}): this worker's trials: {by_state(result.states)}; "
        f"the study holds {result.n_trials_study}: {by_state(result.study_states)}"
    )
    if result.best_trial is not None:
        params = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.best_params.items()
        )
        print(f"best: trial {result.best_trial}, val macro AUROC {result.best_value:.4f} ({params})")
        storage = storage_argument(resolve_storage(args.storage, args.runs_dir), args.storage)
        study, runs_dir = shlex.quote(result.study_name), shlex.quote(str(args.runs_dir))
        print(f"test it: ecglab tune-best --study {study}{storage} --runs-dir {runs_dir}")
    if result.parent_run_id:
        print(f"MLflow: trials are child runs of {result.parent_run_id}")
    ran = sum(result.states.values())
    return 1 if ran and result.states.get("FAIL", 0) == ran else 0


def by_state(states: dict[str, int]) -> str:
    """``2 complete, 1 fail`` (``none`` when empty)."""
    return ", ".join(f"{n} {state.lower()}" for state, n in sorted(states.items())) or "none"


def _silent(line: str) -> None:
    pass


def run_tune_best(args: argparse.Namespace) -> int:
    from ecglab.bench.tune import run_best

    runs = run_best(
        args.study,
        args.storage,
        cohort=args.cohort,
        seeds=args.seeds,
        checkpoint=args.checkpoint,
        task_specs=[str(p) for p in args.task_spec],
        runs_dir=args.runs_dir,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        track=not args.no_track,
        force=args.force,
        progress=not args.quiet,
        log_row_level=args.log_row_level,
    )
    for run_dir in runs:
        print_run(run_dir)
    return 0

"""``ecglab train``, ``ecglab evaluate`` and ``ecglab track``: one (backbone, task) pairing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ecglab.bench.config import CHOICES, ConfigError, RunConfig, build_run_config, coerce_field
from ecglab.errors import EcglabError

_FLAGS = (
    "preset",
    "seed",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "schedule",
    "grad_clip",
    "patience",
    "fine_tune",
    "probe_epochs",
    "frozen_stages",
    "loss",
    "precision",
    "checkpoint",
    "n_boot",
    "workers",
    "threshold",
    "calibration",
    "objective",
    "value_transform",
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train and evaluate a backbone on a task (also under torchrun)")
    train.add_argument("--backbone", required=True, help="registered backbone (`ecglab backbones list`)")
    train.add_argument(
        "--task", required=True, help="registered task (`ecglab tasks list`) or one of --task-spec"
    )
    train.add_argument("--cohort", required=True, type=Path, help="cohort store folder")
    train.add_argument("--config", type=Path, help="YAML of run options (flags override it)")
    train.add_argument("--preset", help="backbone preset, e.g. tiny or full (default tiny)")
    train.add_argument("--seed", type=int, help="training seed (default 0)")
    train.add_argument("--epochs", type=int, help="most epochs (default 20)")
    train.add_argument("--batch-size", type=int, help="anchors per step and process (default 64)")
    train.add_argument("--lr", type=float, help="peak learning rate of AdamW (default 1e-3)")
    train.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 1e-2)")
    train.add_argument("--schedule", choices=["cosine", "plateau", "constant"], help="learning-rate schedule")
    train.add_argument("--grad-clip", type=float, help="gradient-norm clip, 0 for none (default 1.0)")
    train.add_argument("--patience", type=int, help="epochs without a better validation AUROC (default 5)")
    train.add_argument(
        "--fine-tune",
        choices=["full", "linear_probe", "probe_then_full", "frozen_stages"],
        help="what trains (default full)",
    )
    train.add_argument("--probe-epochs", type=int, help="head-only epochs of probe_then_full (default 2)")
    train.add_argument("--frozen-stages", type=int, help="stages kept frozen under frozen_stages (default 0)")
    train.add_argument("--loss", choices=["masked_bce", "focal"], help="training loss (default masked_bce)")
    train.add_argument(
        "--precision", choices=["auto", "fp32", "bf16"], help="auto: bf16 on CUDA, fp32 on the CPU"
    )
    train.add_argument("--checkpoint", help="pretrained weights file (e.g. 12_lead_ECGFounder.pth)")
    train.add_argument(
        "--threshold", choices=["youden", "sensitivity"], help="how the validation threshold is chosen"
    )
    train.add_argument(
        "--calibration",
        choices=["none", "temperature", "isotonic"],
        help="recalibration fitted on validation, its test Brier/ECE beside the raw ones (default none)",
    )
    train.add_argument("--objective", choices=CHOICES["objective"], help="train on labels or lab values")
    train.add_argument("--value-transform", choices=CHOICES["value_transform"], help="regression (auto)")
    train.add_argument("--n-boot", type=int, help="bootstrap resamples of the intervals (default 1000)")
    train.add_argument("--workers", type=int, help="data-loader processes (default 0: in this process)")
    train.add_argument("--fusion", action="store_true", help="late fusion with the task's tabular inputs")
    train.add_argument(
        "--allow-lead-mismatch",
        action="store_true",
        help="feed the task's leads to weights trained on other leads (reported)",
    )
    train.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backbone option (YAML value), repeatable",
    )
    train.add_argument("--task-spec", type=Path, action="append", default=[], help="YAML of extra tasks")
    _run_options(train)
    train.add_argument("--resume", action="store_true", help="continue an interrupted run")
    train.add_argument("--force", action="store_true", help="rerun even if finished")
    train.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    train.set_defaults(run=run_train)

    _evaluate_parser(sub)

    track = sub.add_parser("track", help="log a finished run folder to MLflow (e.g. after MLflow was down)")
    track.add_argument("run_dir", type=Path, help="the run folder")
    track.add_argument("--tracking-uri", help=TRACKING_URI_HELP)
    track.add_argument("--experiment", default="ecglab", help="MLflow experiment (default ecglab)")
    track.add_argument("--log-row-level", action="store_true", help=ROW_LEVEL_HELP)
    track.set_defaults(run=run_track)


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    """`ecglab evaluate RUN`: re-evaluate a run, or score it on another cohort (``--external``)."""
    evaluate = sub.add_parser("evaluate", help="re-evaluate a finished run from its best checkpoint")
    evaluate.add_argument("run_dir", type=Path, help="the run folder")
    evaluate.add_argument(
        "--cohort", type=Path, help="where the run's cohort store is now (default: where it was trained)"
    )
    evaluate.add_argument(
        "--external",
        type=Path,
        help="score the run on the test patients of this other cohort store instead (external validation)",
    )
    evaluate.add_argument(
        "--scope",
        choices=("all", "test"),
        default="all",
        help="with --external: all of its patients (default) or those its own split puts in test",
    )
    evaluate.add_argument(
        "--lab-map", type=Path, help="with --external: lab equivalences beyond the built-in catalogue"
    )
    evaluate.add_argument("--force", action="store_true", help="with --external: evaluate again if done")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=run_evaluate)


TRACKING_URI_HELP = "MLflow tracking URI (default: env MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)"
ROW_LEVEL_HELP = (
    "also send row-level data (patient, visit and anchor ids, per-anchor predictions) to MLflow; only where "
    "your data use agreement allows that server to hold it (default: aggregates and checkpoints only)"
)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs/)"
    )
    parser.add_argument("--tracking-uri", help=TRACKING_URI_HELP)
    parser.add_argument("--experiment", default="ecglab", help="MLflow experiment (default ecglab)")
    parser.add_argument("--no-track", action="store_true", help="write result files only, no MLflow")
    parser.add_argument("--log-row-level", action="store_true", help=ROW_LEVEL_HELP)


def read_run_options(path: Path) -> dict[str, Any]:
    """The RunConfig fields of a ``--config`` YAML file, each checked and coerced as RunConfig takes it."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(loaded, dict):
        raise EcglabError(f"{path}: expected a mapping of run options")
    try:
        return {name: coerce_field(name, value) for name, value in loaded.items()}
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def build_config(args: argparse.Namespace) -> RunConfig:
    """The run configuration of ``ecglab train``: the ``--config`` file, then the flags over it."""
    values: dict[str, Any] = read_run_options(args.config) if args.config else {}
    values.update({name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None})
    options = dict(values.get("backbone_options", {}))
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise EcglabError(f"--option {item!r}: expected KEY=VALUE")
        options[key] = yaml.safe_load(value)
    values.update(
        backbone=args.backbone,
        task=args.task,
        cohort=str(args.cohort),
        backbone_options=options,
        task_specs=tuple(str(p) for p in args.task_spec) or tuple(values.get("task_specs", ())),
    )
    if args.fusion:
        values["fusion"] = True
    if args.allow_lead_mismatch:
        values["allow_lead_mismatch"] = True
    return build_run_config(values, source=str(args.config) if args.config else "ecglab train")


def run_train(args: argparse.Namespace) -> int:
    from ecglab.bench.engine import run_pairing

    config = build_config(args)
    run_dir = run_pairing(
        config,
        args.runs_dir,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
        resume=args.resume,
        force=args.force,
        progress=not args.quiet,
        track=not args.no_track,
        log_row_level=args.log_row_level,
    )
    print_run(run_dir)
    return 0


def print_run(run_dir: Path) -> None:
    import pandas as pd

    from ecglab.bench.run_folder import read_record

    config = read_record(run_dir).config
    results = pd.read_parquet(run_dir / "results.parquet")
    test = results[results["split"] == "test"].sort_values("auroc", ascending=False)
    macro = test["auroc"].mean()
    print(
        f"{config.backbone} x {config.task}: test macro AUROC {macro:.3f} over "
        f"{len(test)} targets ({run_dir})"
    )
    for row in test.head(10).itertuples():
        print(
            f"  {row.target:34s} {row.auroc:.3f} [{row.auroc_low:.3f}-{row.auroc_high:.3f}]  n={row.n} "
            f"pos={row.n_pos}"
        )


def run_evaluate(args: argparse.Namespace) -> int:
    from ecglab.bench.engine import RunError, evaluate_run

    if args.external is not None:
        return run_evaluate_external(args)
    if args.lab_map is not None or args.scope != "all" or args.force:
        raise RunError("--scope, --lab-map and --force apply to --external only")
    print_run(evaluate_run(args.run_dir, cohort=args.cohort, progress=not args.quiet))
    return 0


def run_evaluate_external(args: argparse.Namespace) -> int:
    """`ecglab evaluate RUN --external STORE`: one line with the macro AUROCs and the results folder."""
    from ecglab.bench.engine.external import evaluate_external
    from ecglab.bench.suite.external_runs import external_summary

    folder = evaluate_external(
        args.run_dir,
        args.external,
        scope=args.scope,
        lab_map=args.lab_map,
        own_cohort=args.cohort,
        force=args.force,
        progress=not args.quiet,
    )
    print(f"{args.run_dir}: external {args.external} ({args.scope}): {external_summary(folder)}")
    print(f"results: {folder}")
    return 0


def run_track(args: argparse.Namespace) -> int:
    from ecglab.bench.tracking import log_run, resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri)
    mlflow_id = log_run(args.run_dir, uri, args.experiment, row_level=args.log_row_level)
    print(f"{args.run_dir}: logged to MLflow run {mlflow_id}")
    return 0

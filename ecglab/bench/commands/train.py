"""``ecglab train``, ``ecglab evaluate`` and ``ecglab track``: one (backbone, task) pairing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ecglab.bench.config import ConfigError, RunConfig, build_run_config, coerce_field
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
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train and evaluate a backbone on a task (also under torchrun)")
    train.add_argument("--backbone", required=True)
    train.add_argument("--task", required=True)
    train.add_argument("--cohort", required=True, type=Path)
    train.add_argument("--config", type=Path, help="YAML of run options (flags override it)")
    train.add_argument("--preset")
    train.add_argument("--seed", type=int)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--schedule", choices=["cosine", "plateau", "constant"])
    train.add_argument("--grad-clip", type=float)
    train.add_argument("--patience", type=int)
    train.add_argument("--fine-tune", choices=["full", "linear_probe", "probe_then_full", "frozen_stages"])
    train.add_argument("--probe-epochs", type=int)
    train.add_argument("--frozen-stages", type=int)
    train.add_argument("--loss", choices=["masked_bce", "focal"])
    train.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    train.add_argument("--checkpoint", help="pretrained weights file (e.g. 12_lead_ECGFounder.pth)")
    train.add_argument("--threshold", choices=["youden", "sensitivity"])
    train.add_argument("--n-boot", type=int)
    train.add_argument("--workers", type=int, help="data-loader processes")
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
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(run=run_train)

    evaluate = sub.add_parser("evaluate", help="re-evaluate a finished run from its best checkpoint")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.set_defaults(run=run_evaluate)

    track = sub.add_parser("track", help="log a finished run folder to MLflow (e.g. after MLflow was down)")
    track.add_argument("run_dir", type=Path)
    track.add_argument("--tracking-uri")
    track.add_argument("--experiment", default="ecglab")
    track.set_defaults(run=run_track)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs/)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: env MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    parser.add_argument("--experiment", default="ecglab")
    parser.add_argument("--no-track", action="store_true", help="write result files only, no MLflow")


def read_run_options(path: Path) -> dict[str, Any]:
    """The RunConfig fields of a ``--config`` YAML file, each checked and coerced as RunConfig takes it."""
    loaded = yaml.safe_load(path.read_text()) or {}
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
    from ecglab.bench.engine import evaluate_run

    print_run(evaluate_run(args.run_dir))
    return 0


def run_track(args: argparse.Namespace) -> int:
    from ecglab.bench.tracking import log_run, resolve_tracking_uri

    mlflow_id = log_run(args.run_dir, resolve_tracking_uri(args.tracking_uri), args.experiment)
    print(f"{args.run_dir}: logged to MLflow run {mlflow_id}")
    return 0

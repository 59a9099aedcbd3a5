"""``ecglab predict``: score WFDB records with a finished run's best checkpoint and its task's input plan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser(
        "predict",
        help="score WFDB records (.hea/.dat, any rate) with a run's best checkpoint",
        description=(
            "Score WFDB records with a finished run: the task's leads by name (case-insensitive), resampled "
            "to the task's rate, cut into consecutive windows of the task's length whose probabilities are "
            "pooled by their mean; each target's flag is set at the run's validation threshold."
        ),
    )
    predict.add_argument("run_dir", type=Path, metavar="RUN", help="a run folder (run.json, best.pt)")
    predict.add_argument(
        "records", nargs="+", metavar="RECORD", help="WFDB records: the .hea file or its path without it"
    )
    predict.add_argument("--json", action="store_true", help="print one JSON object per record")
    predict.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from ecglab.bench.engine.predict_records import load_predictor, score_record

    predictor = load_predictor(args.run_dir)
    for path in args.records:
        scores = score_record(predictor, path)
        if args.json:
            print(json.dumps(scores.to_dict()), flush=True)
            continue
        print(f"{scores.record} ({scores.fs:g} Hz, {scores.windows} window(s) pooled):")
        width = max(len("target"), *(len(t) for t in scores.targets))
        print(f"  {'target':<{width}}  probability  threshold  flag")
        for target, p, h, flag in zip(
            scores.targets, scores.probabilities, scores.thresholds, scores.flags, strict=True
        ):
            print(f"  {target:<{width}}  {p:>11.3f}  {h:>9.3f}  {'yes' if flag else 'no'}")
    return 0

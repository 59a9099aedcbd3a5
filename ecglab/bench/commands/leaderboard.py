"""``ecglab leaderboard`` (tables, Markdown and an HTML page from result files) and ``ecglab submission``
(export aggregate results for sharing; check a submitted file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecglab.bench.commands.runs import add_selectors, selected_inputs


def add_parser(sub: argparse._SubParsersAction) -> None:
    board = sub.add_parser(
        "leaderboard",
        help="build leaderboard tables (CSV, Markdown, HTML) from run folders and submission files",
        description=(
            "Build a leaderboard only from result files: run folders, folders of run folders, and checked "
            "submission files (.csv/.parquet). Writes summary.csv, targets.csv, comparisons.csv, curves.csv, "
            "refused.csv, leaderboard.md and index.html into --out. With selectors, only the run folders "
            "under RESULTS they choose are read (submission files are kept whole)."
        ),
        epilog="e.g. ecglab leaderboard runs --task 'demo_*' --backbone s4 --out leaderboards/demo_s4",
    )
    board.add_argument("results", nargs="*", type=Path, metavar="RESULTS", help="run folders or submissions")
    board.add_argument("--out", required=True, type=Path, help="output folder, e.g. leaderboards/NAME")
    board.add_argument("--name", help="title of the leaderboard (default: the output folder's name)")
    board.add_argument(
        "--published",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the published reference rows (AnyECG-Lab Table 2, CardioLab Tables 1-2) of the tasks "
        "present, labelled as published and not re-run (default: on)",
    )
    board.add_argument(
        "--cohort-hash",
        metavar="PREFIX",
        help="keep only results on this cohort (hash prefix) where a task mixes cohorts; others are refused",
    )
    board.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    add_selectors(board)
    board.set_defaults(run=run_leaderboard)

    submission = sub.add_parser("submission", help="export or check a submission file (aggregates only)")
    verbs = submission.add_subparsers(dest="verb", required=True, metavar="VERB")
    export = verbs.add_parser(
        "export",
        help="write the aggregate results of finished runs to a CSV or Parquet file for a pull request",
        description="Write the aggregate results of the finished runs under RUN (the ones the selectors "
        "choose, when given) to a submission file.",
        epilog="e.g. ecglab submission export runs --backbone mynet --status finished --out sub.csv",
    )
    export.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders or folders of them")
    export.add_argument("--out", required=True, type=Path, help="submission file (.csv or .parquet)")
    add_selectors(export)
    export.set_defaults(run=run_export)
    check = verbs.add_parser(
        "check", help="validate submission files (schema, no identifiers, task specs, cohort hashes)"
    )
    check.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="submission files (.csv or .parquet)"
    )
    check.add_argument(
        "--task-spec",
        type=Path,
        action="append",
        default=[],
        help="YAML of extra tasks (needed only for version-1 files: newer ones embed their task's spec)",
    )
    check.set_defaults(run=run_check)


def run_leaderboard(args: argparse.Namespace) -> int:
    import pandas as pd

    from ecglab.leaderboards.board import build_leaderboard, write_leaderboard
    from ecglab.leaderboards.formatting import fmt_auroc

    title = args.name or args.out.name or "ecglab leaderboard"
    inputs = selected_inputs(args.results, args)
    board = build_leaderboard(
        inputs, published=args.published, cohort_hash=args.cohort_hash, alpha=args.alpha, title=title
    )
    paths = write_leaderboard(board, args.out)
    summary = board.summary
    for task in board.task_names():
        rows = summary[summary["task"] == task]
        print(f"{task}:")
        for _, r in rows.iterrows():
            tag = " (published, not re-run)" if r["source"] == "published" else ""
            rank = "    " if pd.isna(r["rank"]) else f"{int(r['rank']):>2}. "
            macro = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
            print(f"  {rank}{r['entry']}: macro AUROC {macro}{tag}")
    for _, r in board.refused.iterrows():
        print(f"refused {r['origin']}: {r['reason']}", file=sys.stderr)
    for note in board.notes:
        if not note.startswith("refused "):
            print(f"note: {note}")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ecglab.leaderboards.submission_export import export_submission

    frame, skipped = export_submission(selected_inputs(args.runs, args), args.out)
    for reason in skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(
        f"wrote {args.out}: {frame['run_id'].nunique()} runs, {len(frame)} rows of aggregates "
        "(no identifiers, no predictions)"
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    from ecglab.leaderboards.submission import check_submission
    from ecglab.tasks.registry import register_spec_file

    for file in args.task_spec:
        register_spec_file(file)
    failed = 0
    for path in args.files:
        report = check_submission(path)
        if report.ok:
            print(report.summary())
        else:
            failed += 1
            print(report.message(), file=sys.stderr)
    return 2 if failed else 0

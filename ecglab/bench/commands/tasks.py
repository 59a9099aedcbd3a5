"""``ecglab tasks``: list the registered tasks and explain one on a cohort."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecglab.bench.commands.tasks_export import add_export_parser


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tasks", help="list tasks, and show what a task makes of a cohort")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="the registered tasks")
    listing.add_argument("pattern", nargs="?", help="shell-style filter, e.g. 'cardiolab_*'")
    listing.add_argument(
        "--spec", type=Path, action="append", default=[], help="also load tasks from a YAML file (repeatable)"
    )
    listing.set_defaults(run=run_list)
    show = verbs.add_parser(
        "show", help="anchors, positives and prevalence per split and target; dropped ones"
    )
    show.add_argument("name", help="task name (see `ecglab tasks list`)")
    show.add_argument("--cohort", required=True, type=Path, help="cohort store")
    show.add_argument(
        "--spec", type=Path, action="append", default=[], help="also load tasks from a YAML file (repeatable)"
    )
    show.add_argument("--cache", type=Path, help="folder of built tasks (reused when present)")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(run=run_show)
    add_export_parser(verbs)


def _register(files: list[Path]) -> None:
    from ecglab.tasks.registry import register_spec_file

    for file in files:
        register_spec_file(file)


def run_list(args: argparse.Namespace) -> int:
    from ecglab.tasks.registry import get_task, list_tasks

    _register(args.spec)
    for name in list_tasks(args.pattern):
        spec = get_task(name)
        detail = spec.window_min if spec.window_min else spec.horizon_min
        print(
            f"{name:32s} v{spec.version}  {spec.kind:19s} {detail:g} min  panel={spec.panel.kind}  "
            f"leads={','.join(spec.input.leads)}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ecglab.tasks.build import build_task
    from ecglab.tasks.registry import get_task
    from ecglab.tasks.target_report import drop_rule

    _register(args.spec)
    data = build_task(get_task(args.name), args.cohort, cache_dir=args.cache)
    summary = data.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"task {summary['task']} v{summary['version']} on {summary['cohort']} ({summary['cohort_hash'][:12]})"
    )
    print(f"  {summary['description']}")
    print(
        "  anchors  "
        + "  ".join(f"{s}: {n} ({summary['patients'][s]} patients)" for s, n in summary["anchors"].items())
    )
    kept = [t for t in summary["targets"] if t["kept"]]
    print(f"  {len(kept)} targets kept of {len(summary['targets'])}")
    print(f"  {'target':36s} {'threshold':>10s}  " + "  ".join(f"{s:>16s}" for s in ("train", "val", "test")))
    for t in kept:
        cells = []
        for split in ("train", "val", "test"):
            pos, neg = t[f"positives_{split}"], t[f"negatives_{split}"]
            cells.append(f"{pos:>6d}/{pos + neg:<6d}{pos / max(pos + neg, 1):>4.0%}")
        print(f"  {t['target']:36s} {t['threshold']:>10g}  " + "  ".join(f"{c:>16s}" for c in cells))
    dropped = [t for t in summary["targets"] if not t["kept"]]
    reasons: dict[str, int] = {}
    for t in dropped:
        rule = drop_rule(t["drop_reason"])  # e.g. "fewer than 10 positive patients in test"
        reasons[rule] = reasons.get(rule, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  dropped target x{count}: {reason}")
    for line in summary["dropped"]:
        print(f"  {line}")
    return 0

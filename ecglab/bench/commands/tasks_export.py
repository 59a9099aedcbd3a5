"""``ecglab tasks export-labels``: a built task's labels in another ecosystem's schema (MEDS)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_export_parser(verbs: argparse._SubParsersAction) -> None:
    """`ecglab tasks export-labels` and its flags (the export: ecglab.tasks.meds_labels)."""
    export = verbs.add_parser(
        "export-labels", help="write a task's labels in the MEDS label schema (one folder per target)"
    )
    export.add_argument("name", help="task name (see `ecglab tasks list`)")
    export.add_argument("--cohort", required=True, type=Path, help="cohort store")
    export.add_argument("--format", required=True, choices=["meds"], help="label schema (meds)")
    export.add_argument("--out", required=True, type=Path, help="folder to write <task>/ into")
    export.add_argument(
        "--spec", type=Path, action="append", default=[], help="also load tasks from a YAML file (repeatable)"
    )
    export.add_argument("--cache", type=Path, help="folder of built tasks (reused when present)")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export of the task")
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Build the task, write its labels, print where and how many."""
    from ecglab.tasks.build import build_task
    from ecglab.tasks.meds_labels import export_meds_labels, read_export
    from ecglab.tasks.registry import get_task, register_spec_file

    for file in args.spec:
        register_spec_file(file)
    data = build_task(get_task(args.name), args.cohort, cache_dir=args.cache)
    folder = export_meds_labels(data, args.out, overwrite=args.overwrite)
    meta = read_export(folder)
    print(f"task {meta['task']} v{meta['version']} labels in the MEDS label schema: {folder}")
    for target in meta["targets"]:
        cells = "  ".join(f"{split} {c['positives']}/{c['rows']}" for split, c in target["splits"].items())
        print(f"  {target['target']:36s} {target['direction']:4s} {target['threshold']:>10g}  {cells}")
    return 0

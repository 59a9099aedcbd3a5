"""``ecglab runs list``: the run folders under a runs folder, one line each (or JSON), chosen by selectors;
and the selector options themselves, which ``ecglab leaderboard`` and ``ecglab submission export`` take too.
The finding and choosing is :mod:`ecglab.bench.run_selection`'s."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from ecglab.bench.run_folder import RECORD_FILE
from ecglab.bench.run_selection import STATES, UNREADABLE, RunFilter, RunSummary, select_runs

SELECTOR_HELP = (
    "Shell-style patterns (* ? [...], quoted for the shell); repeat an option or give a comma list for any "
    "of several; different options must all match. A folder whose run.json cannot be read is matched only "
    "by --status unreadable."
)


def patterns(text: str) -> list[str]:
    """A comma list of patterns (an empty text: the empty pattern, which matches an empty label)."""
    return [p.strip() for p in text.split(",")] if text else [""]


def seeds(text: str) -> list[int]:
    """A comma list of seeds."""
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are whole numbers (a comma list), got {text!r}") from None


def add_selectors(parser: argparse.ArgumentParser) -> None:
    """The selector options (see SELECTOR_HELP), each repeatable and a comma list."""
    group = parser.add_argument_group("run selectors", SELECTOR_HELP)
    for name, what in (
        ("backbone", "backbone name, e.g. s4 or 'ecg*'"),
        ("task", "task name, e.g. 'demo_*'"),
        ("preset", "backbone preset, e.g. tiny"),
        ("label", "run label, e.g. tuned ('' for unlabelled runs)"),
    ):
        group.add_argument(
            f"--{name}", type=patterns, action="extend", default=[], metavar="PATTERN", help=what
        )
    group.add_argument("--seed", type=seeds, action="extend", default=[], metavar="N", help="seed(s)")
    group.add_argument(
        "--status",
        type=patterns,
        action="extend",
        default=[],
        metavar="S",
        help=f"one of {', '.join(STATES)}",
    )


def run_filter(args: argparse.Namespace) -> RunFilter:
    """The selectors given on the command line."""
    return RunFilter(
        backbone=tuple(args.backbone),
        task=tuple(args.task),
        preset=tuple(args.preset),
        label=tuple(args.label),
        seed=tuple(args.seed),
        status=tuple(args.status),
    )


def selected_inputs(inputs: list[Path], args: argparse.Namespace) -> list[Path]:
    """``inputs`` with their folders replaced by the run folders the selectors choose in them (files, i.e.
    submission files, kept as they are); unchanged when no selector is given. SelectionError when the
    selectors match no run of a folder."""
    chosen = run_filter(args)
    if not chosen.given:
        return inputs
    inputs = [p.parent if p.name == RECORD_FILE and p.is_file() else p for p in inputs]  # RUN/run.json: RUN
    folders = [p for p in inputs if not p.is_file()]
    picked = [Path(r.folder) for r in select_runs(folders, chosen)] if folders else []
    return [*picked, *(p for p in inputs if p.is_file())]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`ecglab runs list [RUNS ...] [selectors] [--json]`."""
    runs = sub.add_parser(
        "runs", help="find run folders: what each holds, chosen by backbone, task, seed ..."
    )
    verbs = runs.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser(
        "list",
        help="one line per run folder: task, backbone/preset [tags], seed, status, test macro AUROC, folder",
        description=(
            "One line per run folder under RUNS (searched recursively, as `ecglab leaderboard` searches): "
            "task, entry (backbone/preset and the [label], [objective] and [calibration] tags, as the "
            "leaderboard names it), seed, status (running, finished, failed, pruned; 'unreadable: reason' "
            "for a folder whose run.json cannot be read), the test macro AUROC of a finished run (mean over "
            "its targets), the number of external evaluations and the folder; sorted by task, backbone and "
            "seed. Reads only; changes nothing."
        ),
        epilog="e.g. ecglab runs list runs --task 'demo_*' --backbone s4,transformer --status finished",
    )
    listing.add_argument(
        "runs",
        nargs="*",
        type=Path,
        default=[Path("runs")],
        metavar="RUNS",
        help="runs folder(s) (default: runs)",
    )
    add_selectors(listing)
    listing.add_argument("--json", action="store_true", help="a JSON list of the runs (all fields) instead")
    listing.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print the selected runs as a table (or JSON)."""
    runs = select_runs(args.runs, run_filter(args))
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=1))
        return 0
    for line in table(runs):
        print(line)
    counts = Counter(r.state for r in runs)
    print(f"{len(runs)} run(s): " + ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s]))
    return 0


def table(runs: list[RunSummary]) -> list[str]:
    """Aligned lines: a header, then one per run."""
    header = ("TASK", "ENTRY", "SEED", "STATUS", "AUROC", "EXT", "FOLDER", "NOTE")
    rows = [
        (
            r.task or "?",
            r.entry or "?",
            "?" if r.seed is None else str(r.seed),
            r.state,
            "-" if r.macro_auroc is None else f"{r.macro_auroc:.3f}",
            str(r.external) if r.external else "-",
            r.folder,
            r.status.partition(": ")[2] if r.state == UNREADABLE else r.note,
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)).rstrip()
        + (f"  {row[-1]}" if row[-1] else "")
        for row in (header, *rows)
    ]

"""``ecglab backbones``: list registered backbones (input contract and computed parameter counts), run the
conformance suite on every preset, and write a new external backbone package."""

from __future__ import annotations

import argparse
from pathlib import Path

INDENT = " " * 15


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("backbones", help="list, check and create backbones")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser(
        "list",
        help="registered backbones: input contract and parameter counts (counting builds each preset on "
        "the CPU, so it imports torch and the model code; --no-counts reads metadata only)",
    )
    listing.add_argument("pattern", nargs="?", help="shell-style filter")
    listing.add_argument("--no-counts", action="store_true", help="metadata only: no torch, no model code")
    listing.set_defaults(run=run_list)
    check = verbs.add_parser("check", help="run the conformance suite on every preset of a backbone")
    check.add_argument("name", help="registered backbone (`ecglab backbones list`)")
    check.add_argument("--preset", help="check this preset only (default: every preset)")
    check.set_defaults(run=run_check)
    new = verbs.add_parser(
        "new", help="write a minimal installable backbone package (a tiny 1-D CNN) that passes the check"
    )
    new.add_argument("name", help="package and backbone name: lower-case letters, digits, underscores")
    new.add_argument("--out", type=Path, default=Path("."), help="folder to write NAME/ into (default: .)")
    new.set_defaults(run=run_new)


def parameter_line(name: str) -> str:
    """``parameters: full 30.67M, tiny 58.0k (12 leads); full_1lead 30.65M (1 lead)`` of a torch backbone,
    computed per preset (presets grouped by the leads they are built with); a backbone whose presets
    cannot be built says why instead."""
    from ecglab.backbones.counting import count_parameters, format_count
    from ecglab.backbones.registry import get_backbone_info

    info = get_backbone_info(name)
    groups: list[tuple[int, list[str]]] = []
    for preset in info.presets:
        try:
            count = format_count(count_parameters(info, preset).total)
        except Exception as err:  # a backbone (timm without its extra, a contributor's) may fail anyhow
            return (
                f"parameters: not counted ({preset}: {type(err).__name__}: {str(err).splitlines()[0][:80]})"
            )
        leads = info.in_channels(preset)
        if not groups or groups[-1][0] != leads:
            groups.append((leads, []))
        groups[-1][1].append(f"{preset} {count}")
    return "parameters: " + "; ".join(
        f"{', '.join(counts)} ({leads} lead{'s' if leads != 1 else ''})" for leads, counts in groups
    )


def run_list(args: argparse.Namespace) -> int:
    from ecglab.backbones.registry import get_backbone_info, list_backbones

    for name in list_backbones(args.pattern):
        info = get_backbone_info(name)
        print(f"{name:14s} {info.kind:8s} {info.summary}")
        print(f"{INDENT}input: {info.input.describe()}")
        if info.kind == "torch" and not args.no_counts:
            print(f"{INDENT}{parameter_line(name)}")
        if info.kind == "torch":
            tuned = "search space declared" if info.search_space else "no search space: tune lr, weight decay"
            print(f"{INDENT}presets: {', '.join(info.presets)}; {tuned}")
        if info.pretraining_data:
            print(
                f"{INDENT}pretrained on: {', '.join(info.pretraining_data)} (mind overlap with test cohorts)"
            )
    return 0


def run_check(args: argparse.Namespace) -> int:
    from ecglab.backbones.conformance import check_presets

    checked = check_presets(args.name, None if args.preset is None else [args.preset])
    failed = []
    for preset, results in checked.items():
        print(f"{args.name} ({preset}):")
        for result in results:
            print(f"  {'PASS' if result.ok else 'FAIL'}  {result.check:18s} {result.detail}")
        failed += [f"{preset}: {r.check}" for r in results if not r.ok]
    presets = ", ".join(checked)
    print(
        f"{args.name} ({presets}): "
        + (f"{len(failed)} check(s) failed: {'; '.join(failed)}" if failed else "all checks passed")
    )
    return 1 if failed else 0


def constraints_file() -> str:
    """ecglab's ``constraints.txt`` of this checkout when there is one, else its bare name."""
    import ecglab

    found = Path(ecglab.__file__).resolve().parents[1] / "constraints.txt"
    return str(found) if found.is_file() else "constraints.txt"


def run_new(args: argparse.Namespace) -> int:
    from ecglab.backbones.registry import list_backbones
    from ecglab.backbones.scaffold import write_package

    constraints = constraints_file()
    root = write_package(args.name, args.out, list_backbones(), constraints)
    shown = str(root) if root.is_absolute() else f"./{root}"  # pip takes a bare name for a project name
    print(f"wrote {shown}: pyproject.toml, README.md, {args.name}/ (ecglab.py, model.py), tests/")
    print(f"next: pip install -c {constraints} -e {shown} && ecglab backbones check {args.name}")
    return 0

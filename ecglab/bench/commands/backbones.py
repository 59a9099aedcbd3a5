"""``ecglab backbones``: list registered backbones (metadata only) and run the conformance suite."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("backbones", help="list backbones and check a backbone for submission")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="registered backbones (reads metadata; imports no model code)")
    listing.add_argument("pattern", nargs="?", help="shell-style filter")
    listing.set_defaults(run=run_list)
    check = verbs.add_parser("check", help="run the conformance suite on a backbone")
    check.add_argument("name", help="registered backbone (`ecglab backbones list`)")
    check.add_argument("--preset", default="tiny", help="preset to check (default tiny)")
    check.set_defaults(run=run_check)


def run_list(args: argparse.Namespace) -> int:
    from ecglab.backbones.registry import get_backbone_info, list_backbones

    for name in list_backbones(args.pattern):
        info = get_backbone_info(name)
        leads = "any" if info.input.leads is None else ",".join(info.input.leads) or "none"
        sizes = ", ".join(f"{preset} {count / 1e6:.2f}M" for preset, count in info.n_parameters.items())
        print(f"{name:14s} {info.kind:8s} leads={leads:10s} {info.input.fs:g} Hz  {sizes:32s} {info.summary}")
        if info.pretraining_data:
            print(
                f"{'':14s} pretrained on: {', '.join(info.pretraining_data)} (mind overlap with test cohorts)"
            )
    return 0


def run_check(args: argparse.Namespace) -> int:
    from ecglab.backbones.conformance import check_backbone

    results = check_backbone(args.name, args.preset)
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'}  {result.check:18s} {result.detail}")
    failed = [r.check for r in results if not r.ok]
    print(
        f"{args.name} ({args.preset}): "
        + (f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else "all checks passed")
    )
    return 1 if failed else 0

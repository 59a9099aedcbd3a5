"""``ecglab cohort``: build, inspect and verify cohort stores."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.cohort_store import open_cohort
from bench.synth.ecg import STANDARD_LEADS


def parse_leads(text: str) -> tuple[str, ...]:
    """``II``, ``12`` (the standard 12 leads) or a comma-separated list of lead names."""
    if text == "12":
        return STANDARD_LEADS
    leads = tuple(lead.strip() for lead in text.split(",") if lead.strip())
    unknown = [lead for lead in leads if lead not in STANDARD_LEADS]
    if unknown or not leads:
        raise argparse.ArgumentTypeError(
            f"unknown leads {unknown}; use names from {', '.join(STANDARD_LEADS)}"
        )
    return leads


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cohort", help="build, inspect and verify cohort stores")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    synth = verbs.add_parser("synth", help="write the synthetic cohort with planted physiology")
    synth.add_argument("--out", required=True, type=Path, help="store folder to create")
    synth.add_argument("--patients", type=int, default=200, help="number of patients (default 200)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument(
        "--leads",
        type=parse_leads,
        default=("II",),
        help="II (default), 12 for all standard leads, or a comma list such as I,II,V1",
    )
    synth.add_argument(
        "--bout-minutes",
        type=float,
        nargs=2,
        default=None,
        metavar=("MIN", "MAX"),
        help="length range of ECG recordings around blood draws (default 3 12)",
    )
    synth.add_argument("--workers", type=int, default=None, help="processes (default: up to 4 cores)")
    synth.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    synth.set_defaults(run=run_synth)

    info = verbs.add_parser("info", help="summarise a store: counts, leads, labs, dropped rows")
    info.add_argument("store", type=Path)
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(run=run_info)

    verify = verbs.add_parser("verify", help="re-hash every shard and table of a store")
    verify.add_argument("store", type=Path)
    verify.set_defaults(run=run_verify)


def run_synth(args: argparse.Namespace) -> int:
    from bench.synth import SynthConfig, build_synthetic_cohort

    options = {"n_patients": args.patients, "seed": args.seed, "leads": args.leads}
    if args.bout_minutes:
        options["bout_minutes"] = tuple(args.bout_minutes)
    path = build_synthetic_cohort(
        args.out, SynthConfig(**options), overwrite=args.overwrite, workers=args.workers
    )
    print_summary(open_cohort(path).summary())
    return 0


def run_info(args: argparse.Namespace) -> int:
    summary = open_cohort(args.store).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    cohort = open_cohort(args.store)
    cohort.verify()
    print(
        f"{args.store}: {len(cohort.meta['shards'])} shards and {len(cohort.meta['tables'])} tables match "
        f"their hashes (content hash {cohort.content_hash[:12]})"
    )
    return 0


def print_summary(summary: dict) -> None:
    counts = summary["row_counts"]
    print(f"cohort {summary['name']} ({summary['source']}), content hash {summary['content_hash'][:12]}")
    print(
        f"  {counts['patients']} patients, {counts['visits']} visits, {counts['recordings']} recordings, "
        f"{counts['segments']} segments ({summary['hours_of_ecg']:.1f} h of ECG, leads {summary['leads']})"
    )
    print(f"  {counts['labs']} lab results of {summary['labs']} labs")
    if "planted_labs" in summary:
        print(f"  planted labs (the ECG carries their signal): {', '.join(summary['planted_labs'])}")
        print(f"  null labs (unrelated to the ECG): {', '.join(summary['null_labs'])}")
    for line in summary["dropped"]:
        print(f"  data quality: {line}")

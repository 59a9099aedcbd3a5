"""``ecglab cohort meds``: read a MEDS dataset (labs, demographics, subject splits) and WFDB records."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ecglab.bench.commands.lead_option import parse_leads


def add_meds_parser(verbs: argparse._SubParsersAction) -> None:
    """`ecglab cohort meds` and its flags (the reader: ecglab.cohort.readers.meds)."""
    meds = verbs.add_parser("meds", help="read a MEDS dataset and WFDB records into a store")
    meds.add_argument("--meds", required=True, type=Path, help="MEDS dataset folder (data/, metadata/)")
    meds.add_argument(
        "--records", required=True, type=Path, help="records CSV/Parquet (patient_id = subject_id)"
    )
    meds.add_argument("--wfdb", required=True, type=Path, help="folder the records' paths start from")
    meds.add_argument("--codes", type=Path, help="codes -> labs mapping CSV (code, lab[, unit])")
    meds.add_argument("--fs", type=float, default=500.0, help="store sampling rate (default 500 Hz)")
    meds.add_argument(
        "--segment-seconds", type=float, default=10.0, help="length of a stored segment (default 10 s)"
    )
    meds.add_argument("--leads", type=parse_leads, default=None, help="default: each record's leads")
    meds.add_argument("--out", required=True, type=Path, help="store folder to create")
    meds.add_argument("--workers", type=int, default=None, help="processes (default: the cores, up to 8)")
    meds.add_argument(
        "--restart", action="store_true", help="discard the finished parts of an interrupted run"
    )
    meds.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    meds.add_argument("--quiet", action="store_true", help="no progress bar")
    meds.set_defaults(run=run_meds)


def run_meds(args: argparse.Namespace) -> int:
    """Build the store and print its summary."""
    from ecglab.cohort.readers.meds import build_meds_cohort
    from ecglab.cohort.store import open_cohort

    path = build_meds_cohort(
        args.meds,
        args.records,
        args.wfdb,
        args.out,
        codes=args.codes,
        fs=args.fs,
        segment_seconds=args.segment_seconds,
        leads=args.leads,
        workers=args.workers,
        restart=args.restart,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    cohort = open_cohort(path)
    _print_summary(cohort.summary(), cohort.extra)
    return 0


def _print_summary(summary: dict[str, Any], extra: dict[str, Any]) -> None:
    counts, meds = summary["row_counts"], extra["meds"]
    print(f"cohort {summary['name']} (meds), content hash {summary['content_hash'][:12]}")
    print(
        f"  {counts['patients']} subjects, {counts['recordings']} recordings, {counts['segments']} segments "
        f"({summary['hours_of_ecg']:.1f} h of ECG, leads {summary['leads']})"
    )
    print(f"  {counts['labs']} lab results of {summary['labs']} labs (lab coding {extra['lab_coding']})")
    split = meds["split_column"]
    print(f"  {meds['events_read']} MEDS events read; " + (f"split column {split}" if split else "no split"))
    for line in summary["dropped"]:
        print(f"  data quality: {line}")

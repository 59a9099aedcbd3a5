"""``ecglab cohort``: build, inspect and verify cohort stores."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecglab.bench.commands.cohort_meds import add_meds_parser
from ecglab.bench.commands.lead_option import parse_leads
from ecglab.cohort.errors import CohortError
from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.cohort.store import open_cohort


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cohort", help="build, inspect and verify cohort stores")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    _synth_parser(verbs)
    add_meds_parser(verbs)

    mimic = verbs.add_parser("mimic", help="read MIMIC-IV (hosp) + MIMIC-IV-ECG into a store")
    mimic.add_argument("--mimic-iv", required=True, type=Path, help="MIMIC-IV folder holding hosp/")
    mimic.add_argument(
        "--mimic-iv-ecg", required=True, type=Path, help="MIMIC-IV-ECG folder (record_list.csv)"
    )
    mimic.add_argument("--leads", type=parse_leads, default=STANDARD_LEADS, help="default: the 12 leads")
    mimic.add_argument("--subjects", type=Path, help="file of subject ids to keep (one per line or a CSV)")
    _ingest_options(mimic)
    mimic.set_defaults(run=run_mimic)

    mcmed = verbs.add_parser("mcmed", help="read MC-MED (tables and lead-II waveforms) into a store")
    mcmed.add_argument("--root", required=True, type=Path, help="MC-MED folder (visits.csv, waveforms/, ...)")
    _ingest_options(mcmed)
    mcmed.set_defaults(run=run_mcmed)

    generic = verbs.add_parser("generic", help="read a labs table and WFDB records into a store")
    generic.add_argument("--labs", required=True, type=Path, help="labs CSV/Parquet (see README)")
    generic.add_argument("--records", required=True, type=Path, help="records CSV/Parquet (see README)")
    generic.add_argument("--wfdb", required=True, type=Path, help="folder the records' paths start from")
    generic.add_argument("--patients", type=Path, help="optional patients CSV/Parquet (patient_id, sex)")
    generic.add_argument("--fs", type=float, default=500.0, help="store sampling rate (default 500 Hz)")
    generic.add_argument(
        "--segment-seconds", type=float, default=10.0, help="length of a stored segment (default 10 s)"
    )
    generic.add_argument("--leads", type=parse_leads, default=None, help="default: each record's leads")
    _ingest_options(generic)
    generic.set_defaults(run=run_generic)

    info = verbs.add_parser("info", help="summarise a store: counts, leads, labs, dropped rows")
    info.add_argument("store", type=Path, help="cohort store folder")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(run=run_info)

    verify = verbs.add_parser(
        "verify", help="re-hash every shard and table of a store against the hashes cohort.json records"
    )
    verify.add_argument("store", type=Path, help="cohort store folder")
    verify.set_defaults(run=run_verify)


def _synth_parser(verbs: argparse._SubParsersAction) -> None:
    """`ecglab cohort synth` and its flags."""
    synth = verbs.add_parser("synth", help="write the synthetic cohort with planted physiology")
    synth.add_argument("--out", required=True, type=Path, help="store folder to create")
    synth.add_argument("--patients", type=int, default=200, help="number of patients (default 200)")
    synth.add_argument(
        "--seed", type=int, default=0, help="random seed (default 0): equal seeds, equal stores"
    )
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
    synth.add_argument("--fs", type=float, default=500.0, help="sampling rate in Hz (default 500)")
    synth.add_argument(
        "--lab-coding",
        choices=("mcmed", "mimic-iv"),
        default="mcmed",
        help="code the labs by MC-MED name (default) or by MIMIC-IV itemid with MIMIC's units",
    )
    synth.add_argument(
        "--shift",
        choices=("none", "older-sicker", "noisy"),
        default="none",
        help="a population shift for external validation (default none; see README)",
    )
    synth.add_argument(
        "--scale",
        choices=("mcmed", "mimic"),
        default=None,
        help="write a store with the shape of MC-MED or MIMIC-IV at full size, for speed and memory checks "
        "(no planted signal; --patients, --leads and --bout-minutes do not apply)",
    )
    synth.add_argument(
        "--fraction", default="1", help="with --scale: scale every count by F, 0 < F <= 1 (default 1)"
    )
    synth.add_argument(
        "--physical",
        action="store_true",
        help="with --scale: write every recording's samples as real bytes (for cold-cache reads; "
        "needs --fraction small enough for <= 8 GiB of samples)",
    )
    synth.add_argument("--workers", type=int, default=None, help="processes (default: up to 4 cores)")
    synth.add_argument(
        "--restart",
        action="store_true",
        help="discard the finished parts of an interrupted synth instead of resuming it",
    )
    synth.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(run=run_synth)


def _ingest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="store folder to create")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: the cores, up to 8)")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard the finished parts of an interrupted run instead of resuming it",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _finish(path: Path) -> int:
    print_summary(open_cohort(path).summary())
    return 0


def run_mimic(args: argparse.Namespace) -> int:
    from ecglab.cohort.readers.mimic import build_mimic_cohort, read_subjects_file

    subjects = read_subjects_file(args.subjects) if args.subjects else None
    return _finish(
        build_mimic_cohort(
            args.mimic_iv,
            args.mimic_iv_ecg,
            args.out,
            leads=args.leads,
            subjects=subjects,
            workers=args.workers,
            restart=args.restart,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    )


def run_mcmed(args: argparse.Namespace) -> int:
    from ecglab.cohort.readers.mcmed import build_mcmed_cohort

    return _finish(
        build_mcmed_cohort(
            args.root,
            args.out,
            workers=args.workers,
            restart=args.restart,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    )


def run_generic(args: argparse.Namespace) -> int:
    from ecglab.cohort.readers.generic import build_generic_cohort

    return _finish(
        build_generic_cohort(
            args.labs,
            args.records,
            args.wfdb,
            args.out,
            patients=args.patients,
            fs=args.fs,
            segment_seconds=args.segment_seconds,
            leads=args.leads,
            workers=args.workers,
            restart=args.restart,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    )


def run_synth(args: argparse.Namespace) -> int:
    from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
    from ecglab.cohort.synth.scale import build_scale_cohort, check_fraction

    _check_synth_numbers(args)
    if args.scale is not None:
        fraction = check_fraction(args.fraction)
        path = build_scale_cohort(
            args.out,
            args.scale,
            fraction=fraction,
            seed=args.seed,
            overwrite=args.overwrite,
            physical=args.physical,
        )
        print_summary(open_cohort(path).summary())
        return 0
    if args.fraction != "1" or args.physical:
        raise CohortError("--fraction and --physical apply only with --scale mcmed|mimic")
    options = {"n_patients": args.patients, "seed": args.seed, "leads": args.leads, "fs": args.fs}
    options.update(lab_coding=args.lab_coding, shift=args.shift)
    if args.bout_minutes:
        options["bout_minutes"] = tuple(args.bout_minutes)
    path = build_synthetic_cohort(
        args.out,
        SynthConfig(**options),
        overwrite=args.overwrite,
        workers=args.workers,
        progress=not args.quiet,
        restart=args.restart,
    )
    print_summary(open_cohort(path).summary())
    return 0


def _check_synth_numbers(args: argparse.Namespace) -> None:
    """One-line errors for counts and ranges `cohort synth` cannot use."""
    if args.seed < 0:
        raise CohortError(f"--seed must be >= 0, got {args.seed}")
    if args.patients < 1:
        raise CohortError(f"--patients must be >= 1, got {args.patients}")
    if args.workers is not None and args.workers < 1:
        raise CohortError(f"--workers must be >= 1, got {args.workers}")
    if not 50 <= args.fs <= 2000:
        raise CohortError(f"--fs must be within 50 and 2000 Hz, got {args.fs:g}")
    if args.bout_minutes and not 0 < args.bout_minutes[0] <= args.bout_minutes[1]:
        low, high = args.bout_minutes
        raise CohortError(f"--bout-minutes needs 0 < MIN <= MAX, got {low:g} {high:g}")


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
    if "scale" in summary:
        scale = summary["scale"]
        print(f"  scale cohort: shape {scale['shape']}, fraction {scale['fraction']:g}, no planted signal")
    for line in summary["dropped"]:
        print(f"  data quality: {line}")

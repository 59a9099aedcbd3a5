"""The ``ecglab`` command line: one sub-command module per verb under ``ecglab.bench.commands``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ecglab.bench.commands import backbones, cohort, demo, leaderboard, run, tasks, train
from ecglab.errors import EcglabError

COMMANDS = (demo, cohort, tasks, backbones, train, run, leaderboard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecglab",
        description="Benchmark ECG backbones on laboratory-abnormality estimation and forecasting.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except EcglabError as err:
        print(f"ecglab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecglab: interrupted; finished work is kept and a rerun resumes from it", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

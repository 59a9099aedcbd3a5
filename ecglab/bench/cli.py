"""The ``ecglab`` command line: one sub-command module per verb under ``ecglab.bench.commands``."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from ecglab.bench.commands import backbones, cohort, demo, leaderboard, predict, run, runs, tasks, train
from ecglab.errors import EcglabError

COMMANDS = (demo, cohort, tasks, backbones, train, run, runs, leaderboard, predict)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other user error, with exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ecglab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="ecglab",
        description="Benchmark ECG backbones on laboratory-abnormality estimation and forecasting.",
    )
    parser.add_argument("--version", action="version", version=f"ecglab {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def package_version() -> str:
    """The installed ecglab's version (the source tree's when it runs uninstalled)."""
    try:
        return version("ecglab")
    except PackageNotFoundError:
        return "unknown (an uninstalled source tree)"


def os_error_line(err: OSError) -> str:
    """One line for an error of the operating system: the path, what went wrong, and what to do. Every
    result file is written to a temporary name and renamed, so nothing that was complete is lost."""
    where = f"{err.filename}: " if err.filename else ""
    reason = err.strerror or str(err)
    hint = {
        errno.ENOSPC: "free some space and rerun; finished work is kept and a rerun resumes from it",
        errno.EDQUOT: "free some space and rerun; finished work is kept and a rerun resumes from it",
        errno.EROFS: "choose a writable folder (e.g. --out or --runs-dir)",
        errno.EACCES: "check the permissions, or choose another folder",
        errno.EPERM: "check the permissions, or choose another folder",
        errno.ENOENT: "check the path",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }.get(err.errno or -1, "")
    return f"{where}{reason}" + (f" ({hint})" if hint else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except EcglabError as err:
        print(f"ecglab: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine, not ecglab: a missing or unwritable path, a full disk
        print(f"ecglab: error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecglab: interrupted; finished work is kept and a rerun resumes from it", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

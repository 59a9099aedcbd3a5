"""``ecglab runs``: find the run folders under a runs folder (being written)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`ecglab runs list` (being written)."""

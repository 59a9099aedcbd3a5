"""``ecglab tasks export-labels``: a built task's labels in another ecosystem's schema (MEDS)."""

from __future__ import annotations

import argparse


def add_export_parser(verbs: argparse._SubParsersAction) -> None:
    """`ecglab tasks export-labels` and its flags (being written)."""

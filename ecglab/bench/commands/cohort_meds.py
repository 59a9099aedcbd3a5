"""``ecglab cohort meds``: read a MEDS dataset (labs, demographics, subject splits) and WFDB records."""

from __future__ import annotations

import argparse


def add_meds_parser(verbs: argparse._SubParsersAction) -> None:
    """`ecglab cohort meds` and its flags (being written)."""

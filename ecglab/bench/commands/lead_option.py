"""The ``--leads`` option of the cohort readers' commands (``ecglab cohort synth|mimic|generic|meds``)."""

from __future__ import annotations

import argparse

from ecglab.cohort.schema import STANDARD_LEADS


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

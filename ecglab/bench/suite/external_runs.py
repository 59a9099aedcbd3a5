"""A suite's external validation: each finished (or skipped) pairing scored on the suite's external cohorts
(:mod:`ecglab.bench.engine.external`), once per cohort, scope and lab map (a rerun skips finished ones).

Only rank 0 evaluates under ``torchrun`` (it scores in one process). A failing external evaluation fails the
pairing in the report, with the cohort named, and the suite goes on."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ecglab.bench.suite.external_cohorts import ExternalCohort
from ecglab.bench.suite.schema import unset_vars
from ecglab.errors import EcglabError


def external_problems(externals: tuple[ExternalCohort, ...]) -> list[str]:
    """External cohorts or lab maps that do not exist (checked before anything runs)."""
    problems = []
    for external in externals:
        if not Path(external.cohort).is_dir():
            missing = f"{external.cohort} does not exist{unset_vars(external.cohort)}"
            problems.append(f"external cohort {missing}: edit the suite's `external:`")
        if external.lab_map is not None and not Path(external.lab_map).is_file():
            problems.append(f"lab map {external.lab_map} does not exist")
    return problems


def external_summary(folder: Path) -> str:
    """``macro AUROC 0.71 external vs 0.80 internal over 12 of 14 targets`` of one evaluation folder."""
    rows = pd.read_parquet(folder / "results.parquet", columns=["kept", "auroc", "internal_auroc"])
    both = rows[rows["kept"].astype(bool)].dropna(subset=["auroc", "internal_auroc"])
    if both.empty:
        return f"no target both sides score ({len(rows)} targets; reasons in {folder}/results.parquet)"
    return (
        f"macro AUROC {both['auroc'].mean():.3f} external vs {both['internal_auroc'].mean():.3f} internal "
        f"over {len(both)} of {len(rows)} targets"
    )


def evaluate_externals(
    externals: tuple[ExternalCohort, ...],
    run_dir: Path,
    runs_dir: Path,
    head: str,
    out: Callable[[str], None],
    force: bool = False,
    progress: bool = False,
) -> str:
    """Score the pairing's run on every external cohort; returns the first error ("" when every one
    finished), each evaluation reported in one line."""
    from ecglab.bench.engine.external import evaluate_external

    if int(os.environ.get("RANK", "0")) != 0:
        return ""
    for external in externals:
        try:
            folder = evaluate_external(
                run_dir,
                external.cohort,
                scope=external.scope,
                lab_map=external.lab_map,
                runs_dir=runs_dir,
                force=force,
                progress=progress,
            )
        except EcglabError as err:
            message = f"external validation on {external.label}: {type(err).__name__}: {err}"
            out(f"{head}: FAILED {message}")
            return message
        out(f"{head}: external validation on {external.label}: {external_summary(folder)}")
    return ""

"""The external-validation table of a leaderboard: per entry and target, the internal test AUROC (the run's
own cohort) beside the AUROC on each external cohort it was scored on, with clustered intervals by patient
and the drop between them, read from the run folders' ``external/*/results.parquet`` (written by
``ecglab.bench.engine.external``).

One row per run, target and external evaluation (``seed`` says which of an entry's seeds), and per run and
evaluation a ``macro`` row: the mean internal and external AUROC over the targets both sides score, the
count in ``reason``. The macro row carries no interval: the targets share patients, and no resamples are
stored for the external side. A target the external cohort could not label is a row with its reason. Runs
never scored externally add no rows; submission files carry no external results.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import EXTERNAL_COLUMNS, table_frame

RENAMED = {"auroc": "external_auroc", "clustered_low": "external_low", "clustered_high": "external_high"}
CI_METHOD = "clustered by patient (Obuchowski 1997); drop: independent test sets, variances added"
COUNTS = ("seed", "internal_n_patients", "n_patients", "n_pos_patients")


def evaluations(run: RunResult) -> list[tuple[dict, pd.DataFrame | None, str]]:
    """The run's external evaluations: (its external.json, its results or None, why not) per folder."""
    if run.run_dir is None:
        return []
    out = []
    for folder in sorted((Path(run.run_dir) / "external").glob("*/external.json")):
        try:
            record = json.loads(folder.read_text(encoding="utf-8"))
            results = pq.read_table(folder.parent / "results.parquet").to_pandas()
        except (OSError, ValueError, pa.ArrowException) as err:
            out.append(({}, None, f"{folder.parent.name}: unreadable ({' '.join(str(err).split())[:120]})"))
            continue
        out.append((record, results, ""))
    return out


def macro_row(base: dict, results: pd.DataFrame) -> dict:
    """The mean internal and external AUROC over the targets both sides score."""
    both = results[results["kept"].astype(bool)].dropna(subset=["auroc", "internal_auroc"])
    internal = float(both["internal_auroc"].mean()) if len(both) else np.nan
    external = float(both["auroc"].mean()) if len(both) else np.nan
    return {
        **base,
        "target": "macro",
        "internal_auroc": internal,
        "external_auroc": external,
        "drop": internal - external,
        "reason": f"mean over the {len(both)} of {len(results)} targets both sides score; no interval",
    }


def external_table(runs: dict[str, list[tuple[str, RunResult]]]) -> pd.DataFrame:
    """The external rows of ``runs``: per task, the (entry name, run) pairs scored on it."""
    rows: list[dict] = []
    for task, named in runs.items():
        first = {entry: i for i, (entry, _) in reversed(list(enumerate(named)))}
        for entry, run in sorted(named, key=lambda pair: (first[pair[0]], pair[1].seed)):
            for record, results, problem in evaluations(run):
                base = {"task": task, "entry": entry, "seed": run.seed}
                if results is None:
                    rows.append({**base, "target": "", "reason": problem})
                    continue
                base.update(
                    external_cohort=record.get("cohort", {}).get("name", ""),
                    external_hash=record.get("cohort", {}).get("hash", ""),
                    scope=record.get("scope", ""),
                )
                rows.append(macro_row(base, results))
                for row in results.rename(columns=RENAMED).to_dict("records"):
                    picked = {k: row[k] for k in EXTERNAL_COLUMNS if k in row and k not in base}
                    rows.append({**base, **picked, "ci_method": CI_METHOD if row["kept"] else ""})
    table = table_frame(rows, EXTERNAL_COLUMNS)
    for column in COUNTS:
        table[column] = pd.to_numeric(table[column]).astype("Float64").round().astype("Int64")
    for column in ("target", "external_cohort", "scope", "ci_method", "reason", "external_hash"):
        table[column] = table[column].astype(object).fillna("").astype(str)
    return table

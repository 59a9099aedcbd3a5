"""The subgroup table of a leaderboard: per entry, target and subgroup of patients (sex, age band, a column
the task names) the AUROC with its interval, read from the run folders' ``subgroups.parquet`` (written by
``ecglab.bench.engine.subgroup_results``); groups below the patient minimum are listed with the reason.

One row per run (``seed`` says which of an entry's seeds): a subgroup AUROC and its clustered interval are
one model's, and the interval of a mean over seeds would need every seed's predictions with the groups, so
seeds are listed side by side rather than averaged. A run without the file (evaluated before subgroup
results, or a submission file) gets one row with empty target and the reason, never an error.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.bench.subgroup_files import SUBGROUP_FILE_COLUMNS, SUBGROUPS_FILE
from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.tables import SUBGROUP_COLUMNS, table_frame

COUNTS = ("n", "n_pos", "n_patients", "n_pos_patients", "n_neg_patients")
NO_FILE = (
    "no subgroups.parquet: the run was evaluated before subgroup results (`ecglab evaluate RUN` writes it)"
)
NO_FOLDER = "a submission file: it carries no subgroup results"


def read_subgroups(run: RunResult) -> tuple[pd.DataFrame | None, str]:
    """The run's subgroup rows (SUBGROUP_FILE_COLUMNS), or None and why there are none: no run folder, no
    file, an unreadable file or one without the columns the engine writes."""
    if run.run_dir is None:
        return None, NO_FOLDER
    path = Path(run.run_dir) / SUBGROUPS_FILE
    if not path.is_file():
        return None, NO_FILE
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        return None, f"subgroups.parquet unreadable ({' '.join(str(err).split())[:120]})"
    missing = [c for c in SUBGROUP_FILE_COLUMNS if c not in table.column_names]
    if missing:
        return None, f"subgroups.parquet lacks columns {missing}"
    return table.select(SUBGROUP_FILE_COLUMNS).to_pandas(), ""


def subgroup_table(runs: dict[str, list[tuple[str, RunResult]]]) -> pd.DataFrame:
    """The subgroup rows of ``runs``: per task, the (entry name, run) pairs scored on it; per entry its runs
    in seed order."""
    rows: list[dict] = []
    for task, named in runs.items():
        first = {entry: i for i, (entry, _) in reversed(list(enumerate(named)))}
        for entry, run in sorted(named, key=lambda pair: (first[pair[0]], pair[1].seed)):
            base = {"task": task, "entry": entry, "seed": run.seed}
            frame, reason = read_subgroups(run)
            if frame is None:
                rows.append({**base, "target": "", "subgroup": "", "group": "", "refused_reason": reason})
                continue
            rows += [{**base, **row} for row in frame.to_dict("records")]
    table = table_frame(rows, SUBGROUP_COLUMNS)
    for column in (*COUNTS, "seed"):
        table[column] = pd.to_numeric(table[column]).astype("Float64").round().astype("Int64")
    for column in ("target", "subgroup", "group", "ci_method", "refused_reason"):
        table[column] = table[column].astype(object).fillna("").astype(str)
    return table

"""A built task's labels in the MEDS label schema for MEDS-DEV and ACES (``ecglab tasks export-labels``).

Layout, under the output folder ``DIR``::

    DIR/<task>/labels.json                          what the labels mean (below)
    DIR/<task>/<target>/train/0.parquet             one file per split of the task, named as MEDS names them:
    DIR/<task>/<target>/tuning/0.parquet            train, tuning (the task's val), held_out (its test);
    DIR/<task>/<target>/held_out/0.parquet          a split without labels gets an empty file

``<task>/<target>`` plays the part of an ACES cohort (``<cohort_dir>/<cohort_name>/<split>/<shard>.parquet``):
point a MEDS-DEV model at one target's folder. Each file has the MEDS label schema: ``subject_id`` int64,
``prediction_time`` timestamp[us], ``boolean_value`` bool (True: abnormal, i.e. value above the threshold of
a ``high`` target, below that of a ``low`` one), and ``integer_value``, ``float_value``, ``categorical_value``
all null. One row per anchor of the task with an observed label; an anchor whose label is unknown (-1: the lab
not measured in the window, or a censored value that cannot decide, or results that disagree) has no row, so
whether a lab was measured never shows in a label. ``prediction_time`` is the anchor's time: the ECG's start
(``closest_estimation``, ``forecast``) or the blood draw (``window_estimation``). The labelled result may
lie up to the window before the anchor (closest estimation), at it (the blood draw) or in [t, t+H]
(forecast), so a MEDS model's inputs must end strictly before ``prediction_time`` minus the JSON's
``inputs_end_min_before_prediction_time`` (the window; 0 for the others), else it may read the answer.
Anchors of one subject at one time with the same label are one row; with different labels (two visits' blood
tests at one time) neither is written (counted in the JSON).

``subject_id`` is the store's ``patient_id``, which must be an integer for every anchor (MIMIC-IV, a store
read from MEDS); otherwise a TaskError names a few ids: ecglab writes no id mapping. Times of a store with a
time zone are written as its local wall-clock time (MEDS times are naive) and the zone named in the JSON.

``labels.json``: the task (name, version, kind, window/horizon minutes, description, spec digest, split kind
and column), the cohort (name and content hash), the split names, and per target its lab codes, direction,
threshold, unit and the rows and positives per split. Every file is written to a temporary name and renamed;
the whole ``<task>`` folder is staged beside it and moved into place at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecglab.tasks.build import TaskData
from ecglab.tasks.errors import TaskError
from ecglab.tasks.labels import UNKNOWN

LABEL_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("prediction_time", pa.timestamp("us")),
        ("boolean_value", pa.bool_()),
        ("integer_value", pa.int64()),
        ("float_value", pa.float64()),
        ("categorical_value", pa.string()),
    ]
)
MEDS_SPLITS = {"train": "train", "val": "tuning", "test": "held_out"}
LABELS_JSON = "labels.json"
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


def subject_ids(patient_ids: pd.Series, where: str) -> np.ndarray:
    """The patient ids as int64 MEDS subject ids; TaskError when one is not an integer."""
    text = patient_ids.astype(str).str.strip()
    bad = ~text.map(lambda t: bool(_INTEGER.fullmatch(t))).to_numpy(dtype=bool)
    if bad.any():
        examples = sorted(set(text[bad]))[:3]
        raise TaskError(
            f"{where}: MEDS subject_id must be an integer, and {int(bad.sum())} anchors' patient_id are not "
            f"(e.g. {examples}); export-labels writes no id mapping"
        )
    return text.astype(np.int64).to_numpy()


def _naive(times: pd.Series) -> tuple[pd.Series, str | None]:
    times = pd.Series(times).reset_index(drop=True)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_localize(None).astype("datetime64[us]"), str(times.dt.tz)
    return times.astype("datetime64[us]"), None


def target_labels(
    data: TaskData, column: int, subjects: np.ndarray, times: pd.Series
) -> tuple[pd.DataFrame, int]:
    """The rows of one kept target (subject_id, prediction_time, boolean_value, split) with an observed label,
    one per (split, subject, time); and the number of (split, subject, time) left out for disagreeing."""
    label = data.labels[:, column]
    seen = label != UNKNOWN
    rows = pd.DataFrame(
        {
            "subject_id": subjects[seen],
            "prediction_time": times[seen].to_numpy(),
            "boolean_value": label[seen] == 1,
            "split": data.anchors["split"].to_numpy(dtype=object)[seen],
        }
    ).drop_duplicates()
    key = ["split", "subject_id", "prediction_time"]
    clash = rows.duplicated(key, keep=False).to_numpy()
    n_clash = int(rows[clash].drop_duplicates(key).shape[0])
    rows = rows[~clash].sort_values(key, kind="stable").reset_index(drop=True)
    return rows, n_clash


def _write_table(path: Path, rows: pd.DataFrame) -> None:
    """One label file (the MEDS label schema), through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    table = pa.table(
        {
            "subject_id": pa.array(rows["subject_id"].to_numpy(np.int64), pa.int64()),
            "prediction_time": pa.array(
                rows["prediction_time"].to_numpy("datetime64[us]"), pa.timestamp("us")
            ),
            "boolean_value": pa.array(rows["boolean_value"].to_numpy(bool), pa.bool_()),
            "integer_value": pa.nulls(n, pa.int64()),
            "float_value": pa.nulls(n, pa.float64()),
            "categorical_value": pa.nulls(n, pa.string()),
        },
        schema=LABEL_SCHEMA,
    )
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _lookback(kind: str, window: float | None) -> float:
    """Minutes before the anchor where a label's result may lie: a closest-estimation window; 0 for a blood
    draw (the result is at the anchor) and for a forecast (in [t, t+H])."""
    return float(window or 0.0) if kind == "closest_estimation" else 0.0


def _task_meta(data: TaskData, zone: str | None) -> dict[str, Any]:
    spec = data.spec
    return {
        "format": "meds-labels",
        "task": spec.name,
        "version": spec.version,
        "kind": spec.kind,
        "window_min": spec.window_min,
        "train_window_min": spec.train_window_min,
        "horizon_min": spec.horizon_min,
        "description": " ".join(spec.description.split()),
        "spec_digest": spec.digest(),
        "split": {"kind": spec.split.kind, "column": spec.split.column, "names": MEDS_SPLITS},
        "cohort": {"name": data.cohort_name, "content_hash": data.cohort_hash, "time_zone": zone},
        "prediction_time": "the anchor's time: "
        + ("the blood draw" if spec.kind == "window_estimation" else "the ECG's start"),
        "inputs_end_min_before_prediction_time": _lookback(spec.kind, spec.window_min),
        "inputs_end": "a model's inputs must end strictly before prediction_time minus this many minutes: "
        "the labelled result may lie that far before the anchor (closest estimation), at it (blood draw) or "
        "after it (forecast)",
        "boolean_value": "True: abnormal (value above a high target's threshold, below a low target's); "
        "anchors whose label is unknown (lab not measured, undecidable) have no row",
        "targets": [],
    }


def _write_targets(
    data: TaskData, staging: Path, subjects: np.ndarray, times: pd.Series, meta: dict[str, Any]
) -> None:
    """The label files of every kept target under ``staging``, each described in ``meta["targets"]``."""
    where = f"task {data.spec.name} on cohort {data.cohort_name}"
    targets = data.targets.set_index("target")
    for column, target in enumerate(data.kept_targets):
        if not _SAFE.fullmatch(target):
            raise TaskError(f"{where}: target name {target!r} cannot be a folder name")
        rows, clashes = target_labels(data, column, subjects, times)
        counts = {}
        for split, name in MEDS_SPLITS.items():
            mine = rows[rows["split"] == split]
            _write_table(staging / target / name / "0.parquet", mine)
            counts[name] = {"rows": len(mine), "positives": int(mine["boolean_value"].sum())}
        row = targets.loc[target]
        meta["targets"].append(
            {
                "target": target,
                "lab": str(row["lab"]),
                "lab_codes": [str(c) for c in row["lab_codes"]],
                "direction": str(row["direction"]),
                "threshold": float(row["threshold"]),
                "unit": str(row["unit"]),
                "files": f"{target}/{{train,tuning,held_out}}/0.parquet",
                "splits": counts,
                "left_out_disagreeing": clashes,
            }
        )


def export_meds_labels(data: TaskData, out: Path, *, overwrite: bool = False) -> Path:
    """Write ``data``'s labels under ``out/<task>`` (module docstring); return that folder."""
    spec = data.spec
    where = f"task {spec.name} on cohort {data.cohort_name}"
    folder = Path(out) / spec.name
    if folder.exists() and not overwrite:
        raise TaskError(f"{folder} exists; pass --overwrite to replace it")
    if folder.exists() and not (folder / LABELS_JSON).is_file():
        raise TaskError(
            f"{folder} exists and is not a label export (no {LABELS_JSON}); refusing to replace it"
        )
    subjects = subject_ids(data.anchors["patient_id"], where)
    times, zone = _naive(data.anchors["time"])
    meta = _task_meta(data, zone)
    Path(out).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}.staging-", dir=out))
    try:
        _write_targets(data, staging, subjects, times, meta)
        (staging / LABELS_JSON).write_text(json.dumps(meta, indent=2))
        if folder.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{spec.name}.old-", dir=out))
            os.replace(folder, aside / "old")
            shutil.rmtree(aside)
        os.replace(staging, folder)
    finally:
        if staging.exists():  # a failure before the move: nothing half-written is left
            shutil.rmtree(staging)
    return folder


def read_export(folder: Path) -> dict[str, Any]:
    """The ``labels.json`` of an export folder."""
    return json.loads((Path(folder) / LABELS_JSON).read_text())

"""External validation: a task trained on one cohort store (A), tested on another (B).

:func:`build_external_task` takes the training task (a :class:`~ecglab.tasks.build.TaskData` built on A) and
builds its spec on B with every kept anchor in ``test``:

- scope ``all``: every patient of B is a test patient; scope ``test``: only the patients B's own split of the
  spec (``spec.split`` on B) puts in test: those in test in the spec's own task on B (built, and cached
  under ``cache_dir``, as :func:`ecglab.tasks.build.build_task` builds it);
- targets: one row per kept target of the training task, in its order, matched on B by
  :mod:`ecglab.tasks.harmonise` (lab codes, unit factor; each unmatched target with its reason). Labels on
  B use the training side's thresholds, in B's unit (threshold x factor). The panel's minimums (positive and
  negative anchors and patients) apply to B's test split only; a target below one is dropped with its
  reason, as in a task's own build. ``kept_targets`` is a subset of the training task's, in its order;
- CardioLab tasks: the thresholds are the training task's (the medians of its training patients' reference
  ranges), never recomputed on B: B's own ranges would move the class boundary with the site, and an
  external test measures the model at the boundary it was trained on. The row filters apply on B as on A
  (rows with a 0/0 reference range, and a label's minority fluids and units, are not labelled): they say
  which results are the lab the model learnt, whatever the site. The label-level row minimum
  (``panel.min_lab_rows``) does not: it is a rule about the training data, and B's counts are judged by
  the test minimums;
- ``values`` (the deciding lab value per anchor and target) are in the training side's unit (B's value
  divided by the factor), so a regression model's predictions compare with them;
- tabular side inputs: B's raw features imputed with the training task's training medians
  (``notes["tabular_train_medians"]``; a task saved without them: the median of its training rows' observed
  values), the training task's columns in its order (a feature B lacks is missing on every anchor);
- ``notes["external"]``: the training cohort, its hash and task folder, the scope, the lab map's digest,
  the matched targets with their factors and the unmatched ones with their reasons.

Built tasks are cached under ``cache_dir/<task>/`` by the spec digest, the training cohort's hash, B's content
hash, the scope and the lab map's content, written atomically. Errors are one-line TaskErrors: an unknown
scope, a store without the task's leads, no target matched (the reasons listed), no test patients.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.store import Cohort, open_cohort
from ecglab.tasks.build import TASK_FORMAT_VERSION, TaskData, build_planned, build_task, task_folder_name
from ecglab.tasks.build_plan import SCOPES, BuildPlan
from ecglab.tasks.errors import TaskError
from ecglab.tasks.harmonise import (
    LabMap,
    factors_of,
    guess_coding,
    harmonise,
    read_lab_map,
    unmatched_reasons,
)
from ecglab.tasks.panels import TARGET_COLUMNS, panel_lab_rows
from ecglab.tasks.subgroups import resolve_subgroups
from ecglab.tasks.tabular import raw_features

# columns of the harmonisation kept in the external task's targets table (source_lab_codes joined by ";")
EXTRA_COLUMNS = ("source_lab_codes", "source_unit", "source_threshold", "factor", "matched_by")


def external_folder(
    cache_dir: Path, source: TaskData, cohort: Cohort, scope: str, lab_map: LabMap | None
) -> Path:
    """Where the external task of ``source`` on ``cohort`` is cached."""
    spec = source.spec
    key = "|".join(
        [spec.digest(), source.cohort_hash, cohort.content_hash, scope, lab_map.digest if lab_map else ""]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = (
        f"external-{scope}-v{spec.version}-{spec.digest()[:10]}-{source.cohort_hash[:8]}-"
        f"{cohort.content_hash[:8]}-{digest}-f{TASK_FORMAT_VERSION}"
    )
    return Path(cache_dir) / spec.name / name


def build_external_task(
    source: TaskData,
    cohort: Cohort | str | Path,
    *,
    scope: str = "all",
    lab_map: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> TaskData:
    """The external task of ``source`` (a task built on the training cohort) on ``cohort`` (module
    docstring); with ``cache_dir`` one built before is loaded instead of rebuilt."""
    if scope not in SCOPES:
        raise TaskError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    external = cohort if isinstance(cohort, Cohort) else open_cohort(cohort)
    mapping = read_lab_map(lab_map) if lab_map is not None else None
    spec = source.spec
    resolve_subgroups(spec, external)
    if cache_dir is not None:
        folder = external_folder(Path(cache_dir), source, external, scope, mapping)
        if (folder / "task.json").is_file():
            cached = TaskData.load(folder)
            cached.spec = spec
            return cached
    test_patients = None
    if scope == "test":  # the patients the spec's own task on the cohort puts in test
        own = build_task(spec, external, cache_dir=cache_dir)
        table = own.patients if own.patients is not None else own.anchors
        test_patients = frozenset(table.loc[table["split"] == "test", "patient_id"].astype(str))
    data = _build(source, external, scope, mapping, test_patients)
    if cache_dir is not None:
        data.save(external_folder(Path(cache_dir), source, external, scope, mapping))
    return data


def harmonised_targets(source: TaskData, cohort: Cohort, lab_map: LabMap | None = None) -> pd.DataFrame:
    """The training task's kept targets matched on ``cohort`` (:func:`ecglab.tasks.harmonise.harmonise`),
    against the lab rows the spec's panel labels from on it."""
    spec = source.spec
    labs, _ = panel_lab_rows(replace(spec.panel, min_lab_rows=0), cohort.labs)
    kept = source.targets[source.targets["kept"]]
    coding = str(source.notes.get("lab_coding", guess_coding(kept)))
    return harmonise(kept, coding, cohort.lab_coding, labs, lab_map)


def _build(
    source: TaskData,
    cohort: Cohort,
    scope: str,
    lab_map: LabMap | None,
    test_patients: frozenset[str] | None,
) -> TaskData:
    spec = source.spec
    matched = harmonised_targets(source, cohort, lab_map)
    if (matched["drop_reason"] != "").all():
        raise TaskError(
            f"task {spec.name}: no target matched on {cohort.path}: " + "; ".join(unmatched_reasons(matched))
        )
    targets = matched[[*TARGET_COLUMNS, "drop_reason"]].reset_index(drop=True)
    plan = BuildPlan(targets=targets, scope=scope, test_patients=test_patients)
    data = build_planned(spec, cohort, plan)
    extra = matched.set_index("target")[list(EXTRA_COLUMNS)]
    extra["source_lab_codes"] = extra["source_lab_codes"].map(";".join)  # saved and loaded as it is
    data.targets = data.targets.join(extra, on="target")
    factors = data.targets.loc[data.targets["kept"], "factor"].to_numpy(np.float64)
    if data.values is not None:
        data.values = data.values / factors[None, :]
    if spec.tabular:
        data.tabular = _tabular(source, cohort, data.anchors)
    data.notes["external"] = _notes(source, scope, lab_map, matched)
    return data


def _notes(source: TaskData, scope: str, lab_map: LabMap | None, matched: pd.DataFrame) -> dict[str, Any]:
    gone = matched[matched["drop_reason"] != ""]
    return {
        "source_cohort": source.cohort_name,
        "source_cohort_hash": source.cohort_hash,
        "source_task": source.spec.name,
        "source_task_folder": f"{source.spec.name}/{task_folder_name(source.spec, source.cohort_hash)}",
        "scope": scope,
        "lab_map_digest": lab_map.digest if lab_map is not None else None,
        "matched": {
            str(row.target): {
                "lab_codes": list(row.lab_codes),
                "unit": row.unit,
                "matched_by": row.matched_by,
            }
            for row in matched[matched["drop_reason"] == ""].itertuples(index=False)
        },
        "unmatched": dict(zip(gone["target"].astype(str), gone["drop_reason"].astype(str), strict=True)),
        "unit_factors": factors_of(matched),
    }


def source_medians(source: TaskData) -> dict[str, float]:
    """The training medians of the source task's tabular features: kept in its notes, else (a task saved
    without them) the median of the training anchors' observed values (``<feature>_missing == 0``)."""
    kept = source.notes.get("tabular_train_medians")
    if kept is not None:
        return {str(k): float(v) for k, v in kept.items()}
    if source.tabular is None:
        raise TaskError(f"task {source.spec.name}: the training task has no tabular side inputs")
    table = source.tabular.set_index("anchor_id")
    train = source.anchors.loc[source.anchors["split"] == "train", "anchor_id"]
    rows = table.loc[table.index.isin(train)]
    features = [c for c in table.columns if not c.endswith("_missing")]
    return {c: float(rows.loc[rows[f"{c}_missing"] == 0, c].median()) for c in features}


def _tabular(source: TaskData, cohort: Cohort, anchors: pd.DataFrame) -> pd.DataFrame:
    """B's raw features imputed with the training medians, in the training task's columns."""
    medians = source_medians(source)
    raw = raw_features(anchors, cohort.patients, cohort.visits, cohort.vitals)
    out = pd.DataFrame({"anchor_id": anchors["anchor_id"].to_numpy()}, index=anchors.index)
    for column, median in medians.items():
        values = raw[column] if column in raw.columns else pd.Series(np.nan, index=raw.index)
        missing = values.isna()
        out[column] = values.where(~missing, median).astype(np.float64)
        out[f"{column}_missing"] = missing.astype(np.float64)
    return out.reset_index(drop=True)

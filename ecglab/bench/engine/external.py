"""External validation of a finished run: its model, trained and validated on its own cohort, scored on the
test patients of a second cohort store with a harmonised panel (:mod:`ecglab.tasks.external`).

The run's best checkpoint (a deep backbone) is scored on the external task with the run's input plan at the
external store's sampling rate (leads by name, resampled with the anti-aliasing filter); a scikit-learn
baseline is refitted on the run's own training split, exactly as its run fitted it, and scores the external
anchors (ECG features at the external store's rate). Thresholds stay the training side's: the labels use the
source task's thresholds (converted to the external units), the threshold metrics the run's validation
threshold. Targets the external cohort cannot label are listed with the reason.

Results go to ``RUN/external/<cohort>-<hash>-<scope>/``: ``results.parquet`` (one row per target of the run:
:mod:`ecglab.bench.engine.external_results`), ``predictions.parquet`` (row level: anchor, patient, target,
label, score; it stays on this machine) and ``external.json`` (what was evaluated: the cohort, scope,
lab map, targets matched and unmatched). Each is written atomically, ``external.json`` last, so a folder
with it is complete; evaluating again with the same cohort, scope and lab map is skipped unless ``force``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecglab.backbones.registry import get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.data import EvalBatches
from ecglab.bench.engine.baselines import fit_baseline
from ecglab.bench.engine.distributed import Distributed, single_process
from ecglab.bench.engine.evaluate import predict
from ecglab.bench.engine.external_results import external_rows
from ecglab.bench.engine.prepare import RunError, build_model, model_input_plan, prepare, tabular_inputs
from ecglab.bench.engine.reevaluate import stored_spec
from ecglab.bench.run_folder import read_record, run_folder, write_json, write_parquet
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.tasks.build import TaskData
from ecglab.tasks.external import build_external_task
from ecglab.tasks.harmonise import read_lab_map

EXTERNAL_DIR = "external"
EXTERNAL_RECORD = "external.json"
EXTERNAL_RESULTS = "results.parquet"
EXTERNAL_PREDICTIONS = "predictions.parquet"
SCOPES = ("all", "test")
EXTERNAL_FORMAT = 1


def lab_map_digest(lab_map: str | Path | None) -> str:
    """The content hash of a lab map file ("" for none; a malformed map is refused here, before any work):
    an edited map is a new evaluation."""
    return "" if lab_map is None else read_lab_map(lab_map).digest


def external_folder(run_dir: Path, cohort: Cohort, scope: str) -> Path:
    """Where the run's evaluation on ``cohort`` (one ``scope``) is written."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", cohort.name).strip("_") or "cohort"
    return run_dir / EXTERNAL_DIR / f"{name}-{cohort.content_hash[:12]}-{scope}"


def finished_external(folder: Path, cohort: Cohort, scope: str, digest: str) -> bool:
    """Whether ``folder`` holds a complete evaluation of the same cohort, scope and lab map."""
    path = folder / EXTERNAL_RECORD
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = (record.get("cohort", {}).get("hash"), record.get("scope"), record.get("lab_map_digest", ""))
    return same == (cohort.content_hash, scope, digest) and (folder / EXTERNAL_RESULTS).is_file()


def evaluate_external(
    run_dir: str | Path,
    cohort: str | Path,
    *,
    scope: str = "all",
    lab_map: str | Path | None = None,
    runs_dir: str | Path | None = None,
    own_cohort: str | Path | None = None,
    force: bool = False,
    progress: bool = False,
) -> Path:
    """Score a finished run on the test patients of another cohort store (``scope``: ``all`` of its
    patients, or ``test``: those its own split of the task puts in test); returns the folder of the
    results. The run's own cohort store must be reachable (its training split fits baselines and its task
    holds the thresholds); ``own_cohort``: where it is now, when it moved (its content must be the same)."""
    if scope not in SCOPES:
        raise RunError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    run_dir = Path(run_dir).resolve()
    record = read_record(run_dir)
    if not record.finished:
        raise RunError(f"{run_dir}: the run is {record.status}, not finished; external validation needs one")
    config = record.config
    if own_cohort is not None:
        config = dataclasses.replace(config, cohort=str(Path(own_cohort).resolve()))
    runs_dir = Path(runs_dir) if runs_dir is not None else run_dir.parent
    external = open_cohort(cohort)
    digest = lab_map_digest(lab_map)
    folder = external_folder(run_dir, external, scope)
    if not force and finished_external(folder, external, scope, digest):
        return folder
    where = single_process()
    spec = stored_spec(run_dir, record.task.spec)
    source_cohort, source, identifier = prepare(
        config, runs_dir, where, world_size=record.world_size, spec=spec
    )
    if identifier != record.run_id:
        now = run_folder(runs_dir, identifier).name
        raise RunError(f"{run_dir}: the cohort or task changed since this run (run id {now} now)")
    if external.content_hash == source_cohort.content_hash:
        raise RunError(f"{external.path} is the run's own cohort; external validation needs another store")
    started = time.perf_counter()
    task = build_external_task(source, external, scope=scope, lab_map=lab_map, cache_dir=runs_dir / "tasks")
    scores = external_scores(config, run_dir, source_cohort, source, external, task, where, progress)
    rows = external_rows(
        record.run_id, run_dir, source.kept_targets, task, scores, external.name, external.content_hash, scope
    )
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(folder / EXTERNAL_RESULTS, rows)
    write_parquet(folder / EXTERNAL_PREDICTIONS, external_predictions(task, scores))
    write_json(folder / EXTERNAL_RECORD, external_record(external, task, scope, lab_map, digest, started))
    return folder


def external_scores(
    config: RunConfig,
    run_dir: Path,
    source_cohort: Cohort,
    source: TaskData,
    external: Cohort,
    task: TaskData,
    where: Distributed,
    progress: bool,
) -> np.ndarray:
    """The run's scores of the external task's anchors, one column per target the external task keeps."""
    if get_backbone_info(config.backbone).kind == "baseline":
        fitted = fit_baseline(config, source_cohort, source)
        every = fitted.score(external, task, ("test",))
    else:
        model = build_model(config, source, tabular_inputs(source, config))
        state = torch.load(run_dir / "best.pt", map_location=where.device, weights_only=True)
        model.load_state_dict(state["model"], strict=True)
        model = model.to(where.device)
        plan = model_input_plan(config, external, task)
        batches = EvalBatches(
            external.path, plan, task, "test", config.batch_size, tabular_inputs(task, config)
        )
        label = "scoring external" if progress else ""
        pooled = predict(model, batches, len(task.anchors), where, config.workers, label)
        assert pooled is not None  # a single process is rank 0
        every = pooled
    columns = [source.kept_targets.index(target) for target in task.kept_targets]
    return every[:, columns]


def external_predictions(task: TaskData, scores: np.ndarray) -> pd.DataFrame:
    """One row per (external anchor, kept target) with an observed label: anchor, patient, target, label,
    score (row level: never logged anywhere)."""
    k = len(task.kept_targets)
    table = pd.DataFrame(
        {
            "anchor_id": np.repeat(task.anchors["anchor_id"].to_numpy(), k),
            "patient_id": np.repeat(task.anchors["patient_id"].to_numpy(dtype=object), k),
            "target": np.tile(np.asarray(task.kept_targets, dtype=object), len(task.anchors)),
            "label": task.labels.reshape(-1),
            "score": scores.reshape(-1),
        }
    )
    return table[table["label"] != -1].reset_index(drop=True)


def external_record(
    external: Cohort, task: TaskData, scope: str, lab_map: str | Path | None, digest: str, started: float
) -> dict:
    """What ``external.json`` says: the cohort, the scope and lab map, the targets kept and dropped."""
    targets = task.targets
    dropped = targets.loc[~targets["kept"], ["target", "drop_reason"]]
    return {
        "format": EXTERNAL_FORMAT,
        "cohort": {"name": external.name, "hash": external.content_hash, "path": str(external.path)},
        "scope": scope,
        "lab_map": None if lab_map is None else str(Path(lab_map).resolve()),
        "lab_map_digest": digest,
        "task": task.spec.name,
        "n_anchors": len(task.anchors),
        "n_patients": int(task.anchors["patient_id"].nunique()),
        "kept_targets": list(task.kept_targets),
        "dropped_targets": dict(zip(dropped["target"], dropped["drop_reason"].fillna(""), strict=True)),
        "notes": json.loads(json.dumps(task.notes.get("external", {}), default=str)),
        "seconds": time.perf_counter() - started,
    }

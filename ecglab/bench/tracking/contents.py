"""What one MLflow run of a run folder holds: params (the flattened configuration), tags (identity, versions,
provenance), per-epoch and summary metrics, and the per-target test table, all within MLflow's limits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ecglab.bench.tracking.folder import RunFolder

if TYPE_CHECKING:
    import pandas as pd

RUN_ID_TAG = "ecglab.run_id"
COMPLETE_TAG = "ecglab.tracking"  # set to COMPLETE_VALUE last, after every param, metric and artifact
COMPLETE_VALUE = "complete"
PARENT_TAG = "mlflow.parentRunId"
SUMMARY_METRICS = ("auroc", "auprc", "sensitivity", "specificity", "ppv", "npv", "f1")

# MLflow's limits (mlflow.utils.validation, 3.17.2)
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
TRUNCATED = "...[truncated; full value in run.json]"
_BAD_KEY_CHARS = re.compile(r"[^\w.\- :]")


def mlflow_key(raw: str) -> str:
    """A key MLflow accepts: only ``[\\w.- :]`` (no slashes, so no path tricks) and at most 250 characters."""
    key = _BAD_KEY_CHARS.sub("_", raw) or "_"
    if key == "." or key.startswith(".."):
        key = "_" + key
    if len(key) > MAX_KEY_LENGTH:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
        key = key[: MAX_KEY_LENGTH - len(digest) - 1] + "-" + digest
    return key


def clipped_text(value: Any, limit: int) -> str:
    """A value as text (JSON unless a string), truncated with a note to at most ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` -> ``("a.b", 1)``; lists and empty dicts are leaves."""
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, dotted + ".")
        else:
            yield dotted, value


def identity(folder: RunFolder) -> dict[str, Any]:
    """Backbone, preset, task, cohort and seed (from the config), and the versions and hashes that make
    results comparable: task version and digest, cohort hash, backbone kind and package (from run.json's
    ``task``, ``cohort`` and ``backbone`` sections; a package part the record lacks is left out)."""
    config, record = folder.record.config, folder.record
    values = {
        "backbone": config.backbone,
        "preset": config.preset,
        "task": config.task,
        "cohort": config.cohort,
        "seed": config.seed,
        "task_version": record.task.version,
        "task_digest": record.task.digest,
        "cohort_hash": record.cohort.hash,
        "backbone_kind": record.backbone.kind,
        "backbone_package": record.backbone.package,
        "backbone_version": record.backbone.version,
        "backbone_commit": record.backbone.commit,
    }
    return {k: v for k, v in values.items() if v is not None and not isinstance(v, Mapping | list)}


def run_params(folder: RunFolder) -> dict[str, str]:
    """The flattened config as MLflow params (dotted keys, JSON-ish text values within MLflow's limits),
    plus task_version, task_digest and cohort_hash from the record, and the world size and global batch the
    run trained with."""
    params: dict[str, str] = {}
    for dotted, value in flatten(folder.config):
        key = mlflow_key(dotted)
        if key in params:  # two raw keys sanitised to the same key
            key = mlflow_key(f"{key}-{hashlib.sha256(dotted.encode()).hexdigest()[:10]}")
        params[key] = clipped_text(value, MAX_PARAM_VALUE_LENGTH)
    found = identity(folder)
    for name in ("task_version", "task_digest", "cohort_hash"):
        if name in found and name not in params:
            params[name] = clipped_text(found[name], MAX_PARAM_VALUE_LENGTH)
    params.setdefault("world_size", str(folder.record.world_size))
    params.setdefault("global_batch", str(folder.record.global_batch))
    return params


def number(value: Any) -> float | None:
    """A float of an int or float (not a bool); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def epoch_metrics(folder: RunFolder) -> list[tuple[str, float, int]]:
    """(key, value, step=epoch) for each number of each history line; seconds becomes epoch_seconds."""
    rows = []
    for index, line in enumerate(folder.history):
        epoch = line.get("epoch", index)
        step = int(epoch) if number(epoch) is not None else index
        for name, value in line.items():
            value_number = number(value)
            if name == "epoch" or value_number is None:
                continue
            rows.append((mlflow_key("epoch_seconds" if name == "seconds" else name), value_number, step))
    return rows


def per_target_table(folder: RunFolder) -> pd.DataFrame | None:
    """The per-target rows of the test split, without the run_id and split columns."""
    if folder.results is None:
        return None
    test = folder.results[folder.results["split"].astype(str) == "test"]
    columns = [c for c in test.columns if c not in ("run_id", "split")]
    return test[columns].sort_values("target", kind="stable").reset_index(drop=True)


def summary_metrics(folder: RunFolder) -> dict[str, float]:
    """Test macro averages over targets (NaN targets skipped), target counts, best epoch and timings."""
    summary: dict[str, float] = {}
    test = per_target_table(folder)
    if test is not None and len(test):
        summary["test_n_targets"] = float(test["target"].nunique())
        summary["test_n_targets_scored"] = float(test["auroc"].astype("float64").notna().sum())
        for name in SUMMARY_METRICS:
            if name in test.columns:
                values = test[name].astype("float64").dropna()
                if len(values):
                    summary[f"test_macro_{name}"] = float(values.mean())
    record = folder.record
    for name, value in (("best_epoch", record.best_epoch), ("n_targets", record.n_targets)):
        if (value_number := number(value)) is not None:
            summary[name] = value_number
    for name, value in record.timings.items():
        if (value_number := number(value)) is not None:
            summary[mlflow_key(f"time_{name}")] = value_number
    return summary


def run_tags(folder: RunFolder, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The caller's tags, then ecglab's (which win): identity, versions and provenance."""
    tags = {mlflow_key(str(k)): clipped_text(v, MAX_TAG_VALUE_LENGTH) for k, v in (extra or {}).items()}
    ours: dict[str, Any] = {RUN_ID_TAG: folder.run_id, "ecglab.status": folder.status}
    ours.update({f"ecglab.{name}": value for name, value in identity(folder).items()})
    if folder.record.error:
        ours["ecglab.error"] = folder.record.error
    provenance = folder.record.provenance
    if provenance.git_commit:
        ours["ecglab.git_commit"] = provenance.git_commit
        ours["mlflow.source.git.commit"] = provenance.git_commit
    for name in ("device", "python"):
        if getattr(provenance, name):
            ours[f"ecglab.{name}"] = getattr(provenance, name)
    packages = provenance.packages if isinstance(provenance.packages, Mapping) else {}
    for package, version in sorted(packages.items()):
        if version is not None:  # None: not installed
            ours[mlflow_key(f"ecglab.package.{package}")] = version
    tags.update({key: clipped_text(value, MAX_TAG_VALUE_LENGTH) for key, value in ours.items()})
    tags.pop(COMPLETE_TAG, None)  # only log_run sets it, last
    tags.pop(PARENT_TAG, None)  # set through parent_run_id
    return tags

"""The shared resamples of one task: each run's test predictions as (anchors x targets) matrices, the
task's stored bootstrap resamples (one count matrix serves every run of the task, so every entry is scored on
the same resamples; its row count is verified), and per run the AUROC of each target on each resample.
Where predictions or resamples are missing the reason is kept; nothing is invented."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.leaderboards.errors import RunRefused
from ecglab.leaderboards.inputs import RunResult


@dataclass
class Predictions:
    """One run's test predictions, anchors in task order."""

    anchors: np.ndarray
    labels: np.ndarray  # anchors x targets, int8 in {1, 0, -1}
    scores: np.ndarray  # anchors x targets, float64


def load_predictions(run: RunResult) -> Predictions:
    """The test predictions as (anchors x targets) matrices, anchors in task order (the order of the test
    rows of predictions.parquet), targets in the order of the run's results."""
    if run.run_dir is None:
        raise RunRefused("submitted aggregates: no predictions to resample")
    path = run.run_dir / "predictions.parquet"
    if not path.is_file():
        raise RunRefused(f"{path} is missing")
    frame = pd.read_parquet(
        path, columns=["anchor_id", "split", "target", "label", "score"], filters=[("split", "==", "test")]
    )
    anchors = pd.unique(frame["anchor_id"].to_numpy())
    targets = pd.Index(run.targets)
    target_pos = targets.get_indexer(frame["target"].astype(str).to_numpy())
    if (target_pos < 0).any() or len(frame) != len(anchors) * len(targets):
        raise RunRefused(
            f"{path}: the test predictions do not hold one row per test anchor and target of results.parquet"
        )
    anchor_pos = pd.Index(anchors).get_indexer(frame["anchor_id"].to_numpy())
    labels = np.full((len(anchors), len(targets)), -1, dtype=np.int8)
    scores = np.full((len(anchors), len(targets)), np.nan)
    labels[anchor_pos, target_pos] = frame["label"].to_numpy()
    scores[anchor_pos, target_pos] = frame["score"].to_numpy(dtype=np.float64)
    return Predictions(np.asarray(anchors), labels, scores)


def masked(labels: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    """Labels with rows whose score (of any of ``scores``) is not finite marked unobserved, as the engine
    does when it computes results."""
    keep = np.ones(labels.shape, dtype=bool)
    for s in scores:
        keep &= np.isfinite(s)
    return np.where(keep, labels, -1).astype(np.int8)


def interval(values: np.ndarray, alpha: float) -> tuple[float, float, int]:
    """The percentile interval of per-resample values (NaN resamples skipped), and how many were used."""
    used = values[~np.isnan(values)]
    if used.size == 0:
        return float("nan"), float("nan"), 0
    low, high = np.quantile(used, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), int(used.size)


@dataclass
class TaskData:
    """The shared resamples of one task and, per run, its predictions and per-resample AUROCs."""

    counts: np.ndarray | None = None
    counts_file: Path | None = None
    reason: str = ""
    predictions: dict[str, Predictions] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # run id -> why no resampling
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # run id -> targets x resamples

    def why(self, run: RunResult) -> str:
        return self.unavailable.get(run.run_id, self.reason)


def task_data(runs: list[RunResult]) -> TaskData:
    """The predictions of a task's runs (those whose test anchors and labels agree), the task's most common
    stored resample file (its column count checked against the test anchors), and per run the AUROC of
    each target on each resample; the reasons where any of it is missing."""
    data = TaskData()
    for run in runs:
        try:
            data.predictions[run.run_id] = load_predictions(run)
        except RunRefused as err:
            data.unavailable[run.run_id] = str(err)
        except (KeyError, ValueError, OSError) as err:
            data.unavailable[run.run_id] = f"predictions.parquet unreadable: {err!r}"
    loaded = [r for r in runs if r.run_id in data.predictions]
    if not loaded:
        data.reason = "no run of this task has predictions"
        return data
    reference = data.predictions[loaded[0].run_id]
    for run in loaded[1:]:
        pred = data.predictions[run.run_id]
        if not np.array_equal(pred.anchors, reference.anchors) or not np.array_equal(
            pred.labels, reference.labels
        ):
            del data.predictions[run.run_id]
            data.unavailable[run.run_id] = (
                "its test anchors or labels differ from the other runs of this task: no paired resampling"
            )
    files = Counter(
        r.bootstrap_file
        for r in loaded
        if r.run_id in data.predictions and r.bootstrap_file is not None and r.bootstrap_file.is_file()
    )
    if not files:
        data.reason = "no stored bootstrap resamples (the file named in run.json is missing)"
        return data
    seed_of = {r.bootstrap_file: r.seed for r in loaded}
    best = max(files.values())
    chosen = min((f for f, c in files.items() if c == best), key=lambda f: (seed_of[f], str(f)))
    try:
        counts = np.load(chosen)
    except (OSError, ValueError) as err:
        data.reason = f"{chosen}: unreadable bootstrap resamples ({err!r})"
        return data
    n = len(reference.anchors)
    if counts.ndim != 2 or counts.shape[1] != n:
        data.reason = (
            f"{chosen}: {counts.shape[1] if counts.ndim == 2 else '?'} resample columns, but {n} test "
            "anchors in predictions.parquet: the resamples do not belong to these predictions"
        )
        return data
    data.counts, data.counts_file = counts, chosen
    for run_id, pred in data.predictions.items():
        labels = masked(pred.labels, pred.scores)
        vectors = np.full((labels.shape[1], counts.shape[0]), np.nan)
        for j in range(labels.shape[1]):
            observed = labels[:, j] != -1
            n_pos = int((labels[observed, j] == 1).sum())
            if 0 < n_pos < int(observed.sum()):
                vectors[j] = metrics.bootstrap_aurocs(labels[:, j], pred.scores[:, j], counts)
        data.vectors[run_id] = vectors
    return data

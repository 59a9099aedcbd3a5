"""The shared resamples of one task: which runs share one test set (anchors and labels, compared by digest),
the task's stored bootstrap resamples (one count matrix serves every run of the task, so every entry is scored
on the same resamples; its row count is verified), and per run the AUROC of each target on each resample
(the run's stored ``test_resamples.npz`` where it was computed on those resamples, else computed from its test
predictions, as (anchors x targets) matrices). Where predictions or resamples are missing the reason is kept;
nothing is invented."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ecglab.bench.resample_file import ResampleAurocs, digest_of_test_set, resample_aurocs
from ecglab.leaderboards.errors import RunRefused
from ecglab.leaderboards.inputs import RunResult


@dataclass
class Predictions:
    """One run's test predictions, anchors in task order."""

    anchors: np.ndarray
    labels: np.ndarray  # anchors x targets, int8 in {1, 0, -1}
    scores: np.ndarray  # anchors x targets, float64
    patients: np.ndarray | None = None  # patient id per anchor (None: predictions.parquet names none)

    @cached_property
    def patient_codes(self) -> np.ndarray | None:
        """Each anchor's patient as an integer code (factorised once: the clustered statistics group by
        it per target and per comparison)."""
        return None if self.patients is None else pd.factorize(self.patients)[0]


def load_predictions(run: RunResult) -> Predictions:
    """The test predictions as (anchors x targets) matrices, anchors in task order (the order of the test
    rows of predictions.parquet), targets in the order of the run's results, and each anchor's patient
    where the file names them (RunRefused for a missing id or an anchor named with two patients)."""
    if run.run_dir is None:
        raise RunRefused("submitted aggregates: no predictions to resample")
    path = run.run_dir / "predictions.parquet"
    if not path.is_file():
        raise RunRefused(f"{path} is missing")
    columns = ["anchor_id", "split", "target", "label", "score"]
    with_patients = "patient_id" in pq.read_schema(path).names
    frame = pd.read_parquet(
        path, columns=columns + ["patient_id"] * with_patients, filters=[("split", "==", "test")]
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
    return Predictions(np.asarray(anchors), labels, scores, _patients(path, frame, anchor_pos, len(anchors)))


def _patients(path: Path, frame: pd.DataFrame, anchor_pos: np.ndarray, n_anchors: int) -> np.ndarray | None:
    """Each anchor's patient id from the prediction rows (None when the file has no patient_id column)."""
    if "patient_id" not in frame:
        return None
    ids = frame["patient_id"].to_numpy(dtype=object)
    if pd.isna(ids).any():
        raise RunRefused(f"{path}: test predictions without a patient_id")
    patients = np.empty(n_anchors, dtype=object)
    patients[anchor_pos] = ids
    if not (patients[anchor_pos] == ids).all():
        raise RunRefused(f"{path}: an anchor of the test predictions belongs to two patients")
    return patients


def interval(values: np.ndarray, alpha: float) -> tuple[float, float, int]:
    """The percentile interval of per-resample values (NaN resamples skipped), and how many were used."""
    used = values[~np.isnan(values)]
    if used.size == 0:
        return float("nan"), float("nan"), 0
    low, high = np.quantile(used, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), int(used.size)


@dataclass
class TaskData:
    """The shared resamples of one task and, per paired run, its per-resample AUROCs; predictions are loaded
    only where a comparison needs them (:meth:`prediction`)."""

    counts: np.ndarray | None = None
    counts_file: Path | None = None
    reason: str = ""
    runs: dict[str, RunResult] = field(default_factory=dict)  # run id -> run, every run of the task
    paired: dict[str, str] = field(default_factory=dict)  # run id -> test set digest, runs that pair
    unavailable: dict[str, str] = field(default_factory=dict)  # run id -> why no resampling
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # run id -> targets x resamples
    loaded: dict[str, Predictions] = field(default_factory=dict)
    stored: dict[str, ResampleAurocs] = field(default_factory=dict)

    def why(self, run: RunResult) -> str:
        return self.unavailable.get(run.run_id, self.reason)

    def prediction(self, run_id: str) -> Predictions:
        """A paired run's test predictions (read once)."""
        if run_id not in self.loaded:
            self.loaded[run_id] = load_predictions(self.runs[run_id])
        return self.loaded[run_id]


def stored_aurocs(run: RunResult) -> ResampleAurocs | None:
    """The run's ``test_resamples.npz`` when it belongs to this run's targets and stored resamples (read and
    checked with its results, :func:`ecglab.leaderboards.inputs.load_run_folder`)."""
    if run.run_dir is None or run.stored is None:
        return None
    if not (run.run_dir / "predictions.parquet").is_file():
        return None  # then the run is refused for its missing predictions, as without the file
    return run.stored


def _test_digest(data: TaskData, run: RunResult) -> tuple[str, int]:
    """The run's test set digest and anchor count, from its stored AUROCs or else its predictions."""
    stored = stored_aurocs(run)
    if stored is not None:
        data.stored[run.run_id] = stored
        return stored.test_digest, stored.n_anchors
    pred = data.prediction(run.run_id)
    return digest_of_test_set(pred.anchors, pred.labels), len(pred.anchors)


def _pair_runs(data: TaskData, runs: list[RunResult]) -> int | None:
    """Fills ``paired`` with the runs whose test set (anchors and labels) agrees with the first readable
    run's; returns that test set's anchor count (None when no run has predictions)."""
    reference: tuple[str, int] | None = None
    for run in runs:
        data.runs[run.run_id] = run
        try:
            digest, n = _test_digest(data, run)
        except RunRefused as err:
            data.unavailable[run.run_id] = str(err)
            continue
        except (KeyError, ValueError, OSError) as err:
            data.unavailable[run.run_id] = f"predictions.parquet unreadable: {err!r}"
            continue
        if reference is None:
            reference = (digest, n)
        if digest != reference[0]:
            data.unavailable[run.run_id] = (
                "its test anchors or labels differ from the other runs of this task: no paired resampling"
            )
            continue
        data.paired[run.run_id] = digest
    return None if reference is None else reference[1]


def task_data(runs: list[RunResult]) -> TaskData:
    """The runs of a task that pair (same test anchors and labels), the task's most common stored resample
    file (its column count checked against the test anchors), and per run the AUROC of each target on each
    resample (read from the run's ``test_resamples.npz`` where it was computed on that file, else computed
    from its predictions); the reasons where any of it is missing."""
    data = TaskData()
    n = _pair_runs(data, runs)
    if n is None:
        data.reason = "no run of this task has predictions"
        return data
    loaded = [r for r in runs if r.run_id in data.paired]
    files = Counter(
        r.bootstrap_file for r in loaded if r.bootstrap_file is not None and r.bootstrap_file.is_file()
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
    if counts.ndim != 2 or counts.shape[1] != n:
        data.reason = (
            f"{chosen}: {counts.shape[1] if counts.ndim == 2 else '?'} resample columns, but {n} test "
            "anchors in predictions.parquet: the resamples do not belong to these predictions"
        )
        return data
    data.counts, data.counts_file = counts, chosen
    for run in loaded:
        stored = data.stored.get(run.run_id)
        if stored is not None and run.bootstrap_file == chosen:
            data.vectors[run.run_id] = stored.aurocs
        else:
            pred = data.prediction(run.run_id)
            data.vectors[run.run_id] = resample_aurocs(pred.labels, pred.scores, counts)
    return data

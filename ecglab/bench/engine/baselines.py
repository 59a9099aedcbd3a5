"""Scikit-learn baselines, fitted instead of trained: on the task's tabular side inputs, or on features
extracted from up to four ECG segments per training anchor, as the backbone's ``baseline_input`` says."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecglab.backbones.registry import create_backbone, get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.engine.prepare import RunError, evaluated_splits, split_rows
from ecglab.cohort.store import Cohort
from ecglab.tasks.build import TaskData

SEGMENTS_PER_ANCHOR = 4  # segments per training anchor an ECG-feature baseline is fitted on


@dataclass
class FittedBaseline:
    """A scikit-learn baseline fitted on a task's training split: on its tabular side inputs, or on ECG
    features (then ``extractor`` is the feature extractor); scores any task with the same targets."""

    model: Any
    extractor: Any = None

    def score(self, cohort: Cohort, task: TaskData, splits: tuple[str, ...]) -> np.ndarray:
        """Scores for every anchor row of ``splits`` of ``task`` on ``cohort`` (NaN elsewhere), one column
        per target the baseline was fitted on. ECG features are computed at the cohort's sampling rate."""
        if self.extractor is None:
            return tabular_scores(self.model, task, splits)
        extractor = dataclasses.replace(self.extractor, fs=store_fs(cohort))
        return ecg_feature_scores(extractor, self.model, cohort, task, splits)


def store_fs(cohort: Cohort) -> float:
    """The cohort's sampling rate (a store holds one)."""
    return float(cohort.segments["fs"].iloc[0])


def fit_baseline(config: RunConfig, cohort: Cohort, task: TaskData) -> FittedBaseline:
    """The run's baseline fitted on the task's training anchors (ECG features: up to four segments per
    anchor, drawn with the run's seed)."""
    built = create_backbone(config.backbone, config.preset, **config.backbone_options)
    train_rows = split_rows(task, "train")
    if get_backbone_info(config.backbone).baseline_input == "tabular":
        features = tabular_features(task)
        built.fit(features[train_rows], task.labels[train_rows])
        return FittedBaseline(built)
    extractor, classifier = built
    extractor = dataclasses.replace(extractor, fs=store_fs(cohort))
    position = {a: i for i, a in enumerate(task.anchors["anchor_id"].to_numpy())}
    pairs = task.inputs[task.inputs["anchor_id"].isin(task.anchors["anchor_id"].to_numpy()[train_rows])]
    rng = np.random.default_rng(config.seed)
    pairs = pairs.assign(_key=rng.random(len(pairs))).sort_values(["anchor_id", "_key"])
    pairs = pairs[pairs.groupby("anchor_id").cumcount() < SEGMENTS_PER_ANCHOR]
    rows = pairs["anchor_id"].map(position).to_numpy()
    classifier.fit(segment_features(cohort, extractor, pairs["segment_id"].to_numpy()), task.labels[rows])
    return FittedBaseline(classifier, extractor)


def baseline_scores(config: RunConfig, cohort: Cohort, task: TaskData) -> np.ndarray:
    """Scores of a scikit-learn baseline for every anchor row (NaN outside val/test)."""
    return fit_baseline(config, cohort, task).score(cohort, task, evaluated_splits(config))


def tabular_features(task: TaskData) -> np.ndarray:
    """The task's tabular side inputs as a float matrix (RunError for a task without them)."""
    if task.tabular is None:
        raise RunError(f"the tabular baseline needs side inputs; task {task.spec.name} has none")
    return task.tabular.drop(columns="anchor_id").to_numpy(np.float64)


def tabular_scores(model: Any, task: TaskData, splits: tuple[str, ...]) -> np.ndarray:
    """A fitted tabular baseline's scores of the anchors of ``splits``."""
    scores = np.full((len(task.anchors), model_targets(model, task)), np.nan)
    evaluated = np.flatnonzero(task.anchors["split"].isin(list(splits)).to_numpy())
    if len(evaluated):
        scores[evaluated] = model.predict_proba(tabular_features(task)[evaluated])
    return scores


def model_targets(model: Any, task: TaskData) -> int:
    """How many targets the fitted model scores (its own, which may be more than ``task`` keeps)."""
    fitted = getattr(model, "fitted", None)
    return len(fitted) if fitted is not None else len(task.kept_targets)


def ecg_feature_scores(
    extractor: Any, classifier: Any, cohort: Cohort, task: TaskData, splits: tuple[str, ...]
) -> np.ndarray:
    """An evaluated anchor's score is the classifier's mean over the segments the task scores."""
    scores = np.full((len(task.anchors), model_targets(classifier, task)), np.nan)
    position = {a: i for i, a in enumerate(task.anchors["anchor_id"].to_numpy())}
    for split in splits:
        pairs = task.eval_inputs(split)
        if pairs.empty:
            continue
        rows = pairs["anchor_id"].map(position).to_numpy()
        proba = classifier.predict_proba(segment_features(cohort, extractor, pairs["segment_id"].to_numpy()))
        sums = np.zeros_like(scores)
        counts = np.zeros(len(scores))
        np.add.at(sums, rows, proba)
        np.add.at(counts, rows, 1)
        scored = counts > 0
        scores[scored] = sums[scored] / counts[scored, None]
    return scores


def segment_features(cohort: Cohort, extractor: Any, segment_ids: np.ndarray, chunk: int = 512) -> np.ndarray:
    """The extractor's features of each segment, read from the cohort ``chunk`` segments at a time."""
    parts = []
    for start in range(0, len(segment_ids), chunk):
        ids = segment_ids[start : start + chunk]
        parts.append(extractor(cohort.waveforms(ids, leads=[extractor.lead]), [extractor.lead]))
    return np.concatenate(parts) if parts else np.zeros((0, len(extractor.names)))

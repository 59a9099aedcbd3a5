"""Scikit-learn baselines, fitted instead of trained: on the task's tabular side inputs, or on features
extracted from up to four ECG segments per training anchor, as the backbone's ``baseline_input`` says."""

from __future__ import annotations

from typing import Any

import numpy as np

from ecglab.backbones.registry import create_backbone, get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.engine.prepare import RunError, evaluated_splits, split_rows
from ecglab.cohort.store import Cohort
from ecglab.tasks.build import TaskData

SEGMENTS_PER_ANCHOR = 4  # segments per training anchor an ECG-feature baseline is fitted on


def baseline_scores(config: RunConfig, cohort: Cohort, task: TaskData) -> np.ndarray:
    """Scores of a scikit-learn baseline for every anchor row (NaN outside val/test)."""
    built = create_backbone(config.backbone, config.preset, **config.backbone_options)
    if get_backbone_info(config.backbone).baseline_input == "tabular":
        return tabular_scores(config, task, built)
    return ecg_feature_scores(config, cohort, task, built)


def tabular_scores(config: RunConfig, task: TaskData, model: Any) -> np.ndarray:
    """A baseline fitted on the tabular side inputs of the training anchors."""
    train_rows = split_rows(task, "train")
    scores = np.full((len(task.anchors), len(task.kept_targets)), np.nan)
    if task.tabular is None:
        raise RunError(f"the tabular baseline needs side inputs; task {task.spec.name} has none")
    features = task.tabular.drop(columns="anchor_id").to_numpy(np.float64)
    model.fit(features[train_rows], task.labels[train_rows])
    evaluated = np.flatnonzero(task.anchors["split"].isin(list(evaluated_splits(config))).to_numpy())
    scores[evaluated] = model.predict_proba(features[evaluated])
    return scores


def ecg_feature_scores(
    config: RunConfig, cohort: Cohort, task: TaskData, built: tuple[Any, Any]
) -> np.ndarray:
    """A classifier fitted on features of up to four segments per training anchor (drawn with the run's
    seed); an evaluated anchor's score is the mean over the segments the task scores."""
    extractor, classifier = built
    train_rows = split_rows(task, "train")
    scores = np.full((len(task.anchors), len(task.kept_targets)), np.nan)
    position = {a: i for i, a in enumerate(task.anchors["anchor_id"].to_numpy())}
    pairs = task.inputs[task.inputs["anchor_id"].isin(task.anchors["anchor_id"].to_numpy()[train_rows])]
    rng = np.random.default_rng(config.seed)
    pairs = pairs.assign(_key=rng.random(len(pairs))).sort_values(["anchor_id", "_key"])
    pairs = pairs[pairs.groupby("anchor_id").cumcount() < SEGMENTS_PER_ANCHOR]
    rows = pairs["anchor_id"].map(position).to_numpy()
    classifier.fit(segment_features(cohort, extractor, pairs["segment_id"].to_numpy()), task.labels[rows])
    for split in evaluated_splits(config):
        pairs = task.eval_inputs(split)
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

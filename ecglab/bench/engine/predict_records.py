"""Scoring WFDB records with a finished run: its best checkpoint and its task's input plan.

A record (``.hea`` and its signal files, at any sampling rate) is read with the cohort's WFDB readers, the
task's leads are picked by name (case-insensitive: PTB writes ``ii``), it is cut into consecutive,
non-overlapping windows of the task's ``input.seconds`` at its own rate (a remainder shorter than a window is
left out; a window with invalid samples is skipped, as the cohort readers skip them), each window is
resampled to the task's rate with the anti-aliasing filter and normalised as the backbone's contract asks
(:class:`ecglab.bench.data.InputPlan`), and the model's outputs are pooled by their mean over the windows, as
the task pools an anchor's inputs. A regression run gives P(abnormal) under its pooled prediction. Each
target's flag is its probability at or above the threshold chosen on validation (``results.parquet``).

The model is rebuilt from the run's record alone (its value scaling is a buffer of the checkpoint), so the
cohort store the run trained on is not needed. Runs that need side inputs a bare record lacks are refused:
fusion (tabular inputs) and the scikit-learn baselines, which are refitted on the store at evaluation and
keep no fitted model in the run folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecglab.backbones.registry import create_backbone, get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.data import InputPlan, input_plan
from ecglab.bench.engine.prepare import RunError, backbone_options
from ecglab.bench.engine.reevaluate import stored_spec
from ecglab.bench.model import LabModel
from ecglab.bench.regression import CLASSIFICATION, ValueScaling, value_predictions
from ecglab.bench.run_folder import read_record
from ecglab.cohort.readers.wfdb_header import WfdbHeader
from ecglab.cohort.readers.wfdb_io import read_physical
from ecglab.cohort.readers.wfdb_io import read_record as read_wfdb
from ecglab.tasks.registry import get_task, register_spec_file
from ecglab.tasks.spec import TaskSpec

MICROVOLTS = ("uv", "µv", "μv")  # the store holds mV; other units are taken as mV, as the readers do


class PredictError(RunError):
    """A record or run that ``ecglab predict`` cannot score (a missing lead, too short, a baseline run)."""


@dataclass(frozen=True)
class SpecView:
    """The part of a task's data that the input plan and the backbone's options read: its spec."""

    spec: TaskSpec


@dataclass
class Predictor:
    """A run's model in evaluation mode, its task, targets and validation thresholds."""

    run_dir: Path
    config: RunConfig
    spec: TaskSpec
    model: LabModel
    targets: tuple[str, ...]
    thresholds: np.ndarray
    normalisation: str

    def plan(self, fs: float) -> InputPlan:
        """The task's input plan for a record sampled at ``fs``."""
        return input_plan(SpecView(self.spec), fs, self.normalisation)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RecordScores:
    """One record's pooled probability and flag per target, and the windows they pool."""

    record: str
    fs: float
    windows: int
    targets: tuple[str, ...]
    probabilities: np.ndarray
    thresholds: np.ndarray

    @property
    def flags(self) -> np.ndarray:
        """Per target: probability at or above the validation threshold (False where it is not finite)."""
        return np.isfinite(self.thresholds) & (self.probabilities >= self.thresholds)

    def to_dict(self) -> dict:
        """A JSON-ready summary: record, rate, windows and per target probability, threshold, flag."""
        return {
            "record": self.record,
            "fs": self.fs,
            "windows": self.windows,
            "targets": {
                t: {
                    "probability": float(p),
                    "threshold": None if not np.isfinite(h) else float(h),
                    "flag": bool(f),
                }
                for t, p, h, f in zip(
                    self.targets, self.probabilities, self.thresholds, self.flags, strict=True
                )
            },
        }


def run_spec(run_dir: Path, stored: dict | None, config: RunConfig) -> TaskSpec:
    """The run's stored task spec, or for an older record the task looked up after its spec files."""
    spec = stored_spec(run_dir, stored)
    if spec is not None:
        return spec
    for file in config.task_specs:
        register_spec_file(file)
    return get_task(config.task)


def validation_thresholds(run_dir: Path, targets: tuple[str, ...]) -> np.ndarray:
    """Each target's threshold chosen on the validation rows of ``results.parquet``."""
    path = run_dir / "results.parquet"
    if not path.is_file():
        raise PredictError(f"{path} does not exist: the run has not finished (no validation thresholds)")
    results = pd.read_parquet(path, columns=["target", "split", "threshold"])
    val = results[results["split"] == "val"].drop_duplicates("target").set_index("target")["threshold"]
    missing = [t for t in targets if t not in val.index]
    if missing:
        raise PredictError(f"{path}: no validation threshold for {', '.join(missing)}")
    return val.reindex(list(targets)).to_numpy(np.float64)


def load_predictor(run_dir: str | Path) -> Predictor:
    """The run's model from ``best.pt``, rebuilt from its record (refused for runs needing side inputs)."""
    run_dir = Path(run_dir).resolve()
    record = read_record(run_dir)
    config = record.config
    info = get_backbone_info(config.backbone)
    if info.kind == "baseline":
        raise PredictError(
            f"{run_dir.name}: {info.name} is a scikit-learn baseline refitted on the cohort store at "
            "evaluation (no fitted model is kept in the run folder); predict scores deep-backbone runs"
        )
    if config.fusion:
        raise PredictError(
            f"{run_dir.name}: the run fuses tabular side inputs (age, sex, ...) that a bare WFDB record lacks"
        )
    checkpoint = run_dir / "best.pt"
    if not checkpoint.is_file():
        raise PredictError(f"{checkpoint} does not exist: the run has no best checkpoint")
    spec = run_spec(run_dir, record.task.spec, config)
    targets = tuple(record.task.targets)
    model = rebuilt_model(config, spec, len(targets))
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"], strict=True)
    model.eval()
    thresholds = validation_thresholds(run_dir, targets)
    return Predictor(run_dir, config, spec, model, targets, thresholds, info.input.normalisation)


def rebuilt_model(config: RunConfig, spec: TaskSpec, n_targets: int) -> LabModel:
    """The run's model with fresh weights (a regression model with a placeholder value scaling), to load a
    checkpoint into: without the pretrained file a run started from, since its checkpoints hold every
    weight."""
    info = get_backbone_info(config.backbone)
    options = backbone_options(dataclasses.replace(config, checkpoint=None), info, SpecView(spec))  # type: ignore[arg-type]
    backbone = create_backbone(config.backbone, config.preset, **options)
    scaling = None
    if config.objective != CLASSIFICATION:  # the checkpoint's value_scaling buffer replaces it
        scaling = ValueScaling.from_array(np.zeros((5, n_targets)))
    return LabModel(backbone, n_targets, 0, config.objective, scaling)


def lead_columns(header: WfdbHeader, leads: tuple[str, ...]) -> list[int]:
    """The record's column of each task lead, matched by name case-insensitively; PredictError naming the
    missing (or ambiguous) leads and the record's own."""
    names = [name.strip().lower() for name in header.sig_names]
    missing = [lead for lead in leads if lead.lower() not in names]
    if missing:
        raise PredictError(
            f"{header.file}: the task needs lead(s) {', '.join(missing)}; the record has "
            f"{', '.join(header.sig_names) or 'no signals'}"
        )
    twice = [lead for lead in leads if names.count(lead.lower()) > 1]
    if twice:
        raise PredictError(f"{header.file}: lead(s) {', '.join(twice)} appear more than once")
    return [names.index(lead.lower()) for lead in leads]


def record_windows(path: str | Path, plan_of: Predictor) -> tuple[WfdbHeader, np.ndarray]:
    """The record's header and its model inputs (windows x leads x samples at the task's rate)."""
    header, digital, _ = read_wfdb(path)
    plan = plan_of.plan(float(header.fs))
    columns = lead_columns(header, plan.leads)
    physical = read_physical(header, digital)[:, columns]
    for k, column in enumerate(columns):
        if header.signals[column].units.strip().lower() in MICROVOLTS:
            physical[:, k] /= 1000.0
    span = plan.store_samples
    n = physical.shape[0] // span
    if n == 0:
        raise PredictError(
            f"{header.file}: {physical.shape[0] / header.fs:g} s is shorter than the task's window of "
            f"{plan.seconds:g} s"
        )
    windows = physical[: n * span].T.reshape(len(columns), n, span).transpose(1, 0, 2)
    windows = windows[np.isfinite(windows).all(axis=(1, 2))]
    if not len(windows):
        raise PredictError(f"{header.file}: every {plan.seconds:g}-s window holds invalid samples")
    return header, plan.prepare(windows.astype(np.float32))


def window_outputs(predictor: Predictor, windows: np.ndarray) -> np.ndarray:
    """The pooled columns of each window: probabilities, or a regression head's moments."""
    model = predictor.model
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(windows))).float()
        pooled = torch.sigmoid(logits) if model.objective == CLASSIFICATION else model.pool_outputs(logits)
    return pooled.numpy().astype(np.float64)


def pooled_probabilities(predictor: Predictor, outputs: np.ndarray) -> np.ndarray:
    """The mean of the windows' columns as probabilities (P(abnormal) for a regression model)."""
    pooled = outputs.mean(axis=0, keepdims=True)
    model = predictor.model
    if model.objective != CLASSIFICATION:
        pooled = value_predictions(pooled, model.objective, model.scaling).scores()
    return pooled[0]


def score_record(predictor: Predictor, path: str | Path) -> RecordScores:
    """One record's pooled probabilities and flags."""
    header, windows = record_windows(path, predictor)
    probabilities = pooled_probabilities(predictor, window_outputs(predictor, windows))
    record = header.file[: -len(".hea")] if header.file.endswith(".hea") else header.file
    return RecordScores(
        record, float(header.fs), len(windows), predictor.targets, probabilities, predictor.thresholds
    )

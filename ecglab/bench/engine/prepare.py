"""What a pairing needs before it trains: the cohort and task data (built once, by rank 0), the run id, the
backbone's options checked against the task's leads, the model, its input plan and the split rows."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglab.backbones.info import BackboneInfo
from ecglab.backbones.registry import check_options, create_backbone, get_backbone_info
from ecglab.bench.config import RunConfig, run_id
from ecglab.bench.data import InputPlan, input_plan
from ecglab.bench.engine.distributed import Distributed
from ecglab.bench.model import LabModel
from ecglab.bench.regression import CLASSIFICATION, fit_scaling
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.errors import EcglabError
from ecglab.tasks.build import TaskData, build_task, task_folder
from ecglab.tasks.registry import get_task, register_spec_file
from ecglab.tasks.spec import TaskSpec


class RunError(EcglabError):
    """A pairing cannot run as configured (lead mismatch, a task without tabular inputs, ...)."""


WARNED: set[tuple[str, str]] = set()  # (backbone, task) pairs whose contract warning this process printed


def evaluated_splits(config: RunConfig) -> tuple[str, ...]:
    return ("val", "test") if config.evaluate_test else ("val",)


def prepare(
    config: RunConfig,
    runs_dir: Path,
    where: Distributed,
    world_size: int | None = None,
    spec: TaskSpec | None = None,
) -> tuple[Cohort, TaskData, str]:
    """The cohort, the task's data (built and cached under ``runs_dir/tasks`` by rank 0, loaded by the
    others) and the run id (of a run on ``world_size`` processes, by default ``where``'s). ``spec`` (a run's
    stored spec) is used as given; else the task is looked up, after registering the run's spec files."""
    check_backbone(config)
    if spec is None:
        for file in config.task_specs:
            register_spec_file(file)
        spec = get_task(config.task)
    check_input_contract(get_backbone_info(config.backbone), spec)  # a strict contract refuses here
    cohort = open_cohort(config.cohort)
    cache = Path(runs_dir) / "tasks"
    if where.main:
        task = build_task(spec, cohort, cache_dir=cache)
    where.barrier()
    if not where.main:
        task = TaskData.load(task_folder(cache, spec, cohort))
    world = where.world if world_size is None else world_size
    return cohort, task, run_id(config, spec.version, spec.digest(), cohort.content_hash, world)


def check_backbone(config: RunConfig) -> None:
    """Before anything is built or written: the backbone's preset and option names (close matches for
    unknown ones), and a ``checkpoint`` the backbone would not use (a baseline, or a factory without that
    argument) or that is not a file."""
    info = get_backbone_info(config.backbone)
    if info.kind != "baseline":
        check_options(config.backbone, config.preset, config.backbone_options)
    elif config.objective != CLASSIFICATION:
        raise RunError(
            f"{info.name} is a classifier baseline: objective {config.objective} trains a deep backbone's "
            "head on the lab values (the baselines take objective classification)"
        )
    if not config.checkpoint:
        return
    if info.kind == "baseline":
        raise RunError(f"{info.name} is a baseline fitted from scratch; it takes no --checkpoint")
    parameters = inspect.signature(info.resolve(info.factory)).parameters.values()
    if not any(p.name == "checkpoint" or p.kind is p.VAR_KEYWORD for p in parameters):
        raise RunError(f"backbone {info.name} loads no pretrained weights; it takes no --checkpoint")
    if not Path(config.checkpoint).is_file():
        raise RunError(f"--checkpoint {config.checkpoint}: no such file")


def check_input_contract(info: BackboneInfo, spec: TaskSpec) -> str | None:
    """What the task feeds against the backbone's declared rate and length: None when they agree; a
    :class:`RunError` naming both for a strict contract; else the warning line (the contract is a hint)."""
    fed = f"task {spec.name} feeds {float(spec.input.fs):g} Hz, {float(spec.input.seconds):g}-s crops"
    if info.input.matches(spec.input.fs, spec.input.seconds):
        return None
    if info.input.required:
        raise RunError(
            f"{info.name} requires {info.input.declared()} (a strict input contract); {fed}: use a task at "
            "that rate and length"
        )
    return f"{info.name} declares {info.input.declared()}; {fed}: the task decides what the backbone receives"


def warn_input_contract(info: BackboneInfo, spec: TaskSpec) -> None:
    """The hint's warning line on stderr, once per process and (backbone, task), from the main process only
    (a line per trial of a study would drown its own lines)."""
    warning = check_input_contract(info, spec)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if warning is None or rank != 0 or (info.name, spec.name) in WARNED:
        return
    WARNED.add((info.name, spec.name))
    print(f"ecglab: warning: {warning}", file=sys.stderr, flush=True)


def backbone_options(config: RunConfig, info: BackboneInfo, task: TaskData) -> dict[str, Any]:
    """The backbone's options for this task: ``in_channels`` (always: the number of leads the task feeds),
    its checkpoint, ``fs`` for a backbone's own preprocessing (the factory's arguments are documented in
    :class:`~ecglab.backbones.info.InputContract`); :class:`RunError` when the task's leads are not the ones
    the backbone (or its pretrained weights) expects."""
    options = dict(config.backbone_options)
    leads = tuple(task.spec.input.leads)
    if info.input.leads is not None and tuple(info.input.leads) != leads and not config.allow_lead_mismatch:
        raise RunError(f"{info.name} expects leads {info.input.leads}, task {task.spec.name} gives {leads}")
    if "in_channels" in options and options["in_channels"] != len(leads):
        raise RunError(
            f"backbone option in_channels={options['in_channels']} but task {task.spec.name} feeds "
            f"{len(leads)} lead(s) ({', '.join(leads)}); drop the option: the framework gives in_channels"
        )
    options["in_channels"] = len(leads)  # always given (see ecglab.backbones.info.InputContract)
    if config.checkpoint:
        options["checkpoint"] = config.checkpoint
    if options.get("preprocess"):  # a backbone's own filtering runs at the rate the task feeds, never assumed
        fs = float(task.spec.input.fs)
        if "fs" in options and float(options["fs"]) != fs:
            raise RunError(
                f"backbone option fs={options['fs']} but task {task.spec.name} feeds {fs:g} Hz; drop the "
                "option (preprocessing gets the task's rate) or use a task at that rate"
            )
        options["fs"] = fs
    if info.expected_leads and config.checkpoint:
        expected = tuple(info.resolve(info.expected_leads)(options["in_channels"]))
        if expected != leads and not config.allow_lead_mismatch:
            raise RunError(
                f"the {info.name} weights were trained on leads {list(expected)}; task {task.spec.name} has "
                f"{list(leads)}. Feeding other leads is a real choice to ablate: pass --allow-lead-mismatch"
            )
    return options


def build_model(config: RunConfig, task: TaskData, tabular: np.ndarray | None) -> LabModel:
    """The backbone with the framework's head (and late fusion when there are tabular inputs), on the CPU;
    for a regression ``objective``, with the task's value scaling (:mod:`ecglab.bench.regression`)."""
    info = get_backbone_info(config.backbone)
    backbone = create_backbone(config.backbone, config.preset, **backbone_options(config, info, task))
    warn_input_contract(info, task.spec)
    scaling = None if config.objective == CLASSIFICATION else fit_scaling(task, config.value_transform)
    n_tabular = 0 if tabular is None else tabular.shape[1]
    return LabModel(backbone, len(task.kept_targets), n_tabular, config.objective, scaling)


def model_input_plan(config: RunConfig, cohort: Cohort, task: TaskData) -> InputPlan:
    """How the backbone's inputs are cut from the cohort's segments."""
    normalisation = get_backbone_info(config.backbone).input.normalisation
    return input_plan(task, float(cohort.segments["fs"].iloc[0]), normalisation)


def split_rows(task: TaskData, split: str) -> np.ndarray:
    """The anchor rows of one split, in task order."""
    return np.flatnonzero((task.anchors["split"] == split).to_numpy())


def tabular_inputs(task: TaskData, config: RunConfig) -> np.ndarray | None:
    """The task's tabular side inputs for fusion (None without fusion)."""
    if not config.fusion:
        return None
    if task.tabular is None:
        raise RunError(f"fusion needs tabular side inputs; task {task.spec.name} has none (tabular: false)")
    return task.tabular.drop(columns="anchor_id").to_numpy(np.float32)


def anchor_target_rows(task: TaskData, splits: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The anchor rows of ``splits`` and the id columns of a table with one row per (anchor, kept target):
    anchor_id, patient_id, split and target, anchors in task order, targets in task order within each."""
    rows = np.flatnonzero(task.anchors["split"].isin(list(splits)).to_numpy())
    k = len(task.kept_targets)
    return rows, {
        "anchor_id": np.repeat(task.anchors["anchor_id"].to_numpy()[rows], k),
        "patient_id": np.repeat(task.anchors["patient_id"].to_numpy(dtype=object)[rows], k),
        "split": np.repeat(task.anchors["split"].to_numpy(dtype=object)[rows], k),
        "target": np.tile(np.asarray(task.kept_targets, dtype=object), len(rows)),
    }

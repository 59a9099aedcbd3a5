"""The run configuration of one pairing and its one builder, used by ``ecglab train``, suites, search trials
and stored run records alike; and the run id, a hash of the canonical configuration.

The run id hashes backbone, preset, options, task and its version and digest, the cohort's content hash, the
seed and the hyperparameters: the same pairing run twice has the same id, so finished work is skipped.
Where a run's files go, and what ``run.json`` holds, is :mod:`ecglab.bench.run_folder`'s job.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ecglab.errors import EcglabError

NOT_IN_RUN_ID = ("cohort", "workers", "task_specs", "runs_dir")
# fields newer than the first run ids: left out of run ids and configuration keys at these defaults, so the
# runs recorded before them keep their ids (and re-evaluate) and a run that sets them gets a new one
HASHED_UNLESS_DEFAULT = {"calibration": "none", "objective": "classification", "value_transform": "auto"}
CHOICES = {
    "schedule": ("cosine", "plateau", "constant"),
    "loss": ("masked_bce", "focal"),
    "precision": ("auto", "fp32", "bf16"),
    "threshold": ("youden", "sensitivity"),
    "calibration": ("none", "temperature", "isotonic"),
    "objective": ("classification", "gaussian_nll", "mse"),
    "value_transform": ("auto", "log", "none"),
    "fine_tune": ("full", "linear_probe", "probe_then_full", "frozen_stages"),
}


RANGES = {  # field: (bound, bound allowed, what the message asks for)
    "seed": (0, True, "0 or more"),
    "epochs": (1, True, "at least 1"),
    "batch_size": (1, True, "at least 1"),
    "lr": (0.0, False, "above 0"),
    "weight_decay": (0.0, True, "0 or more"),
    "grad_clip": (0.0, True, "0 (off) or more"),
    "patience": (0, True, "0 or more"),
    "probe_epochs": (0, True, "0 or more"),
    "frozen_stages": (0, True, "0 or more"),
    "focal_gamma": (0.0, True, "0 or more"),
    "n_boot": (1, True, "at least 1"),
    "workers": (0, True, "0 or more"),
}


class ConfigError(EcglabError, ValueError):
    """A run configuration names an unknown field, gives a value of the wrong type, or an unknown choice."""


@dataclass(frozen=True)
class RunConfig:
    backbone: str
    task: str
    cohort: str
    preset: str = "tiny"
    backbone_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    schedule: str = "cosine"  # cosine | plateau | constant
    grad_clip: float = 1.0
    patience: int = 5
    fine_tune: str = "full"  # full | linear_probe | probe_then_full | frozen_stages
    probe_epochs: int = 2
    frozen_stages: int = 0
    loss: str = "masked_bce"  # masked_bce | focal
    focal_gamma: float = 2.0
    fusion: bool = False
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16
    checkpoint: str | None = None
    allow_lead_mismatch: bool = False
    threshold: str = "youden"  # youden | sensitivity
    target_sensitivity: float = 0.9
    calibration: str = "none"  # none | temperature | isotonic: fitted on validation, reported beside raw
    # classification (the labels) | gaussian_nll | mse (the task's lab values: ecglab.bench.regression)
    objective: str = "classification"
    value_transform: str = "auto"  # regression: auto (log where every training value > 0) | log | none
    n_boot: int = 1000
    evaluate_test: bool = True  # False for hyperparameter search: the test split is never looked at
    label: str = ""  # e.g. "tuned": the configuration of a hyperparameter search's best trial
    workers: int = 0
    task_specs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name, (low, inclusive, meaning) in RANGES.items():
            value = getattr(self, name)
            if not (value >= low if inclusive else value > low) or value != value:
                raise ConfigError(f"{name} must be {meaning}, got {value!r}")
        if not 0.0 < self.target_sensitivity < 1.0:
            raise ConfigError(f"target_sensitivity must be between 0 and 1, got {self.target_sensitivity!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the tuple of spec files becomes a list), as ``run.json`` stores them."""
        return json.loads(json.dumps(asdict(self)))


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
REQUIRED = tuple(
    name
    for name, f in FIELDS.items()
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)


def coerce_field(name: str, value: Any) -> Any:
    """``value`` as field ``name`` of :class:`RunConfig` takes it, with YAML's quirks undone ("1e-3" is a
    string in YAML 1.1); raises :class:`ConfigError` (without a place: the caller knows where it read it)."""
    if name not in FIELDS:
        close = difflib.get_close_matches(str(name), list(FIELDS), n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"unknown run option {name!r}{hint} (RunConfig fields, as in `ecglab train`)")
    kind = str(FIELDS[name].type).replace(" ", "")
    if kind == "float":
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if kind in ("str", "str|None"):
        if value is None and kind == "str|None":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    if name == "backbone_options":
        if not isinstance(value, Mapping):
            raise ConfigError(f"backbone_options: expected a mapping of options, got {value!r}")
        return dict(value)
    if name == "task_specs":
        if isinstance(value, str) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"task_specs: expected a list of spec files, got {value!r}")
        return tuple(value)
    return value


def build_run_config(values: Mapping[str, Any], *, source: str = "run configuration") -> RunConfig:
    """The one builder of :class:`RunConfig`, from CLI flags, a suite entry, a search trial or a stored
    ``run.json``'s ``config``: every field checked and coerced, unknown ones refused with close matches."""
    try:
        checked = {name: coerce_field(name, value) for name, value in values.items()}
        missing = [name for name in REQUIRED if checked.get(name) in (None, "")]
        if missing:
            raise ConfigError(f"missing {', '.join(missing)}")
        # absolute, so that the stored record works from any folder (neither is part of the run id)
        checked["cohort"] = os.path.abspath(checked["cohort"])
        if "task_specs" in checked:
            checked["task_specs"] = tuple(os.path.abspath(file) for file in checked["task_specs"])
        return RunConfig(**checked)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def derive_config(base: RunConfig, changes: Mapping[str, Any], *, source: str) -> RunConfig:
    """``base`` with ``changes``, built and checked again by :func:`build_run_config` (a search trial, the
    best trial's configuration)."""
    return build_run_config({**{name: getattr(base, name) for name in FIELDS}, **changes}, source=source)


def launched_world_size() -> int:
    """How many processes this one was launched among (``torchrun`` sets ``WORLD_SIZE``), else 1: what a
    suite or a search passes to :func:`run_id` to find the folder the engine will write."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def hashed_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a configuration as a dict) less the ``HASHED_UNLESS_DEFAULT`` fields at their default."""
    return {
        k: v for k, v in values.items() if k not in HASHED_UNLESS_DEFAULT or v != HASHED_UNLESS_DEFAULT[k]
    }


def run_id(
    config: RunConfig, task_version: str, task_digest: str, cohort_hash: str, world_size: int = 1
) -> str:
    """The hash that names a run: the configuration (less where things are and how many workers read them)
    plus the task's version and digest and the cohort's content hash; and, for a run on ``world_size`` > 1
    processes (a global batch of batch_size x world_size), the world size, so a one-process run keeps the
    id it always had and differs from an N-process one."""
    data = hashed_fields({k: v for k, v in config.to_dict().items() if k not in NOT_IN_RUN_ID})
    data.update(task_version=task_version, task_digest=task_digest, cohort_hash=cohort_hash)
    if world_size > 1:
        data["world_size"] = world_size
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

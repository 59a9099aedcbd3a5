"""Run configuration, run ids and the run folder (the data of record), written atomically.

The run id is a hash of the canonical configuration (backbone, preset, options, task and its version and
digest, cohort content hash, seed, hyperparameters): the same pairing run twice has the same id, so a suite
can skip what is finished. Nothing display-formatted is stored: floats stay floats.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGES = (
    "ecglab",
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "mlflow",
    "optuna",
    "wfdb",
    "pyarrow",
)
NOT_IN_RUN_ID = ("cohort", "workers", "task_specs", "runs_dir")


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
    n_boot: int = 1000
    evaluate_test: bool = True  # False for hyperparameter search: the test split is never looked at
    label: str = ""  # e.g. "tuned": the configuration of a hyperparameter search's best trial
    workers: int = 0
    task_specs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        choices = {
            "schedule": ("cosine", "plateau", "constant"),
            "loss": ("masked_bce", "focal"),
            "precision": ("auto", "fp32", "bf16"),
            "threshold": ("youden", "sensitivity"),
            "fine_tune": ("full", "linear_probe", "probe_then_full", "frozen_stages"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def run_id(config: RunConfig, task_version: str, task_digest: str, cohort_hash: str) -> str:
    data = {k: v for k, v in config.to_dict().items() if k not in NOT_IN_RUN_ID}
    data.update(task_version=task_version, task_digest=task_digest, cohort_hash=cohort_hash)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def provenance(device: str) -> dict[str, Any]:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    commit = None
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        result = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        )
        commit = result.stdout.strip() or None
    return {"packages": packages, "git_commit": commit, "device": device, "python": platform.python_version()}


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def read_run(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "run.json").read_text())

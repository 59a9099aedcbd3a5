"""Run folders as the engine writes them, for the MLflow tracking tests: a record with nested options and a
value too long for MLflow, val and test result rows (one target without positives on test), predictions,
a history, and a fake checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.bench.config import RunConfig
from ecglab.bench.run_folder import (
    BackboneIdentity,
    CohortIdentity,
    Provenance,
    RunRecord,
    TaskIdentity,
    write_record,
)

TARGETS = ("potassium_high", "sodium_low", "troponin_high")
HISTORY = [
    {"epoch": 0, "train_loss": 0.71, "val_macro_auroc": 0.61, "lr": 1e-3, "seconds": 12.5},
    {"epoch": 1, "train_loss": 0.55, "val_macro_auroc": 0.70, "lr": 5e-4, "seconds": 11.9},
    {"epoch": 2, "train_loss": 0.49, "val_macro_auroc": 0.68, "lr": 2.5e-4, "seconds": 12.1},
]
LONG_VALUE = "x" * 7000


def make_record(run_id: str = "3f2a9c0d1e", status: str = "finished") -> RunRecord:
    """A run record as the engine writes it, with nested backbone options and a value too long for MLflow."""
    config = RunConfig(
        backbone="net1d",
        task="cardiolab_now",
        cohort="mcmed",
        preset="small",
        backbone_options={
            "width": 64,
            "kernel_sizes": [3, 5, 7],
            "norm": None,
            "extra": {},
            "amp": True,
            "optimizer": {"name": "adamw", "betas": [0.9, 0.999]},
            "augment/shift": 0.1,
            "notes": LONG_VALUE,
        },
        seed=7,
        lr=1e-3,
        batch_size=64,
    )
    return RunRecord(
        run_id=run_id,
        status=status,
        config=config,
        task=TaskIdentity(name="cardiolab_now", version="2", digest="5eed", targets=TARGETS),
        cohort=CohortIdentity(name="mcmed", hash="c0ffee12"),
        backbone=BackboneIdentity(name="net1d", kind="torch", preset="small"),
        provenance=Provenance(
            packages={"torch": "2.13.0", "ecglab": "0.1.0"},
            git_commit="19f6a68abc",
            device="cuda:0 NVIDIA H100",
        ),
        best_epoch=1,
        n_targets=len(TARGETS),
        timings={"train_s": 301.5, "eval_s": 12.25},
    )


def result_rows(run_id: str) -> pd.DataFrame:
    """Val and test rows per target; the test split's troponin_high has no positives (AUROC undefined)."""
    rows = []
    for split, shift in (("val", 0.0), ("test", 0.05)):
        for i, target in enumerate(TARGETS):
            nan_target = split == "test" and target == "troponin_high"
            auroc = math.nan if nan_target else 0.7 + 0.1 * i + shift
            rows.append(
                {
                    "run_id": run_id,
                    "target": target,
                    "split": split,
                    "n": 200.0,
                    "n_pos": 0.0 if nan_target else 20.0 + i,
                    "auroc": auroc,
                    "auroc_low": auroc - 0.05,
                    "auroc_high": auroc + 0.05,
                    "auprc": math.nan if nan_target else 0.3 + 0.1 * i,
                    "sensitivity": 0.8,
                    "specificity": 0.6 + 0.1 * i,
                    "ppv": 0.2,
                    "npv": 0.95,
                    "f1": 0.3,
                    "threshold": 0.5,
                }
            )
    return pd.DataFrame(rows)


def prediction_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "anchor_id": np.repeat(np.arange(4), len(TARGETS)),
            "patient_id": np.repeat([10, 10, 11, 12], len(TARGETS)),
            "target": list(TARGETS) * 4,
            "label": [0.0, 1.0, math.nan] * 4,
            "score": np.linspace(0.0, 1.0, 4 * len(TARGETS)),
        }
    )


def make_run_dir(
    path: Path,
    run_id: str = "3f2a9c0d1e",
    status: str = "finished",
    checkpoint: bool = True,
    results: bool = True,
    record: RunRecord | None = None,
) -> Path:
    """A run folder as the engine writes it."""
    path.mkdir(parents=True, exist_ok=True)
    write_record(path, record or make_record(run_id, status))
    (path / "history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in HISTORY), encoding="utf-8")
    if results:
        result_rows(run_id).to_parquet(path / "results.parquet", index=False)
        prediction_rows().to_parquet(path / "predictions.parquet", index=False)
    if checkpoint:
        (path / "best.pt").write_bytes(b"\x80\x04not-really-a-checkpoint")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def artifact_names(client, run_id: str) -> set[str]:
    return {item.path for item in client.list_artifacts(run_id)}

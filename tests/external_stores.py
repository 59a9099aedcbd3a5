"""Two small synthetic stores for external validation, and a tiny task spec that builds on both.

- :func:`source_store`: MC-MED lab coding, lead II at 100 Hz (the training side);
- :func:`external_store`: the same planted labs coded by MIMIC-IV itemids with MIMIC's unit strings
  (``extra.lab_coding = "mimic-iv"``), the ``older-sicker`` population shift, lead II at 250 Hz (so an
  engine resamples it to the task's 100 Hz);
- :func:`external_spec`: closest estimation within 15 min on the AnyECG-Lab panel, lead II at 100 Hz, 5-s
  crops, one crop per anchor, minimums lowered to 3 anchors and 1 patient per class.

Each store is written once per folder (a second call returns the one there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.spec import EvalSpec, InputSpec, PanelSpec, TaskSpec

SOURCE_CONFIG = SynthConfig(n_patients=40, seed=5, fs=100.0, bout_minutes=(0.5, 1.0))
EXTERNAL_CONFIG = SynthConfig(
    n_patients=32, seed=6, fs=250.0, bout_minutes=(0.3, 0.6), lab_coding="mimic-iv", shift="older-sicker"
)


def _store(folder: Path, name: str, config: SynthConfig) -> Path:
    path = Path(folder) / name
    if (path / "cohort.json").is_file():
        return path
    return build_synthetic_cohort(path, config, workers=1, progress=False)


def source_store(folder: Path) -> Path:
    """The training store (MC-MED coding) under ``folder``."""
    return _store(folder, "source", SOURCE_CONFIG)


def external_store(folder: Path) -> Path:
    """The external store (MIMIC-IV coding, shifted population, 250 Hz) under ``folder``."""
    return _store(folder, "external", EXTERNAL_CONFIG)


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per test session for the two stores, so every module that needs them builds them once."""
    folder = tmp_path_factory.getbasetemp() / "external_stores"
    folder.mkdir(exist_ok=True)
    return folder


def external_spec(**changes: Any) -> TaskSpec:
    """The tiny closest-estimation spec; ``changes`` replace its fields (``tabular=True``, ``kind=...``)."""
    fields: dict[str, Any] = {
        "name": "external_tiny",
        "version": "1",
        "kind": "closest_estimation",
        "window_min": 15.0,
        "panel": PanelSpec(
            min_positives=3, min_negatives=3, min_positive_patients=1, min_negative_patients=1
        ),
        "eval": EvalSpec(max_segments=None, crops=1),
        "input": InputSpec(leads=("II",), fs=100.0, seconds=5.0),
    }
    fields.update(changes)
    return TaskSpec(**fields)

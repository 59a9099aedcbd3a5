"""Shared by the bad-input catalogue: one small synthetic store, built once per session and never modified
(modules that damage a store copy it first), and workspaces holding it with a forecast task on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ecglab.bench.cli import main


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-patient synthetic store with short ECG bouts, read-only by convention."""
    store = tmp_path_factory.mktemp("small") / "store"
    synth = ["cohort", "synth", "--out", str(store), "--patients", "12", "--bout-minutes", "0.2", "0.4"]
    assert main([*synth, "--workers", "1", "--quiet"]) == 0
    return store


TASK_SPEC = """
defaults:
  version: "1"
  panel:
    {kind: anyecg_lab, min_positives: 1, min_negatives: 1, min_positive_patients: 1, min_negative_patients: 1}
  split: {kind: patient, fractions: [0.5, 0.25, 0.25], seed: 0}
  input: {leads: [II], fs: 100, seconds: 5}
  eval: {max_segments: null, crops: 1, pooling: mean, seed: 0}
  tabular: true
tasks:
  - name: bad_inputs_forecast
    kind: forecast
    horizon_min: 60
    description: a forecast task for the bad-input catalogue
"""


@pytest.fixture(scope="session")
def new_workspace(tmp_path_factory: pytest.TempPathFactory, small_store: Path) -> Callable[[str], Path]:
    """A fresh folder holding ``store`` (the small store, linked) and ``tasks.yaml`` (task
    ``bad_inputs_forecast`` on it)."""

    def make(name: str) -> Path:
        root = tmp_path_factory.mktemp(name)
        (root / "store").symlink_to(small_store)
        (root / "tasks.yaml").write_text(TASK_SPEC)
        return root

    return make

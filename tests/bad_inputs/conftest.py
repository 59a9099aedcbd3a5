"""Shared by the bad-input catalogue: one small synthetic store, built once per session and never modified
(modules that damage a store copy it first)."""

from __future__ import annotations

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

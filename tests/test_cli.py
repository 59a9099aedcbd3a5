"""The ``ecglab`` command line: the commands a user types, their output and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.cohort_store import open_cohort


def test_cohort_synth_info_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    args = ["cohort", "synth", "--out", str(store), "--patients", "2", "--bout-minutes", "0.2", "0.4"]
    assert main([*args, "--workers", "1", "--leads", "I,II,V1"]) == 0
    out = capsys.readouterr().out
    assert "2 patients" in out and "null labs" in out and "nothing dropped" in out
    assert open_cohort(store).meta["shards"][0]["leads"] == ["I", "II", "V1"]

    assert main(["cohort", "info", str(store), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["row_counts"]["patients"] == 2 and "POTASSIUM" in summary["planted_labs"]

    assert main(["cohort", "verify", str(store)]) == 0
    assert "match their hashes" in capsys.readouterr().out

    assert main([*args, "--workers", "1"]) == 2  # the store exists: refused without --overwrite
    assert "already holds a cohort store" in capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "cohort", "info", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("ecglab: error: no cohort store at")
    assert "Traceback" not in result.stderr


def test_unknown_lead_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["cohort", "synth", "--out", str(tmp_path / "s"), "--leads", "II,X9"])
    assert exit_info.value.code == 2
    assert "unknown leads ['X9']" in capsys.readouterr().err


def test_demo_builds_then_reuses_its_cohort(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "demo"
    assert main(["demo", "--workdir", str(workdir), "--patients", "3"]) == 0
    assert "building" in capsys.readouterr().out
    hash_first = open_cohort(workdir / "cohort").content_hash
    assert main(["demo", "--workdir", str(workdir), "--patients", "3"]) == 0
    assert "reusing" in capsys.readouterr().out
    assert open_cohort(workdir / "cohort").content_hash == hash_first
    assert main(["demo", "--workdir", str(workdir), "--patients", "4"]) == 2  # other parameters: refused
    assert "other parameters" in capsys.readouterr().err

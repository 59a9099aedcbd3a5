"""The ``ecglab`` command line: the commands a user types, their output and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ecglab.bench.cli import main
from ecglab.cohort.store import open_cohort


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
        [sys.executable, "-m", "ecglab.bench.cli", "cohort", "info", str(tmp_path / "missing")],
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


def test_a_smaller_demo_runs_end_to_end_and_a_rerun_redoes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "demo"
    only = ["--only", "ecgfounder/*"]  # its two pairings (the others: the engine and wheel tests)
    args = ["demo", "--workdir", str(workdir), "--patients", "240", "--epochs", "1", *only]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "building" in out and "[3/3] leaderboard" in out
    summary = pd.read_csv(workdir / "leaderboard" / "summary.csv")
    assert set(summary["task"]) == {"demo_est_15min", "demo_forecast_60min"}
    assert set(summary.loc[summary["source"] == "ecglab", "entry"]) == {"ecgfounder/tiny"}
    assert (workdir / "leaderboard" / "index.html").is_file() and (workdir / "mlflow.db").is_file()
    hash_first = open_cohort(workdir / "cohort").content_hash

    assert main([*args, "--no-track"]) == 0  # the cohort is reused and every pairing is skipped
    out = capsys.readouterr().out
    assert "reusing" in out and out.count("finished earlier") == 2
    assert open_cohort(workdir / "cohort").content_hash == hash_first
    assert main(["demo", "--workdir", str(workdir), "--patients", "241"]) == 2  # other parameters: refused
    assert "other parameters" in capsys.readouterr().err


SMALL_TASKS = """
defaults:
  version: "1"
  kind: window_estimation
  train_window_min: 60
  panel: {kind: anyecg_lab, min_positives: 1, min_negatives: 1, min_positive_patients: 1,
    min_negative_patients: 1}
tasks:
  - name: "cli_est_{window_min}min"
    grid: {window_min: [60, 15]}
"""


def test_tasks_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "cardiolab_*"]) == 0
    listed = capsys.readouterr().out
    assert "cardiolab_forecast_120min" in listed and "anyecg" not in listed

    store = tmp_path / "store"
    synth = ["cohort", "synth", "--out", str(store), "--patients", "40", "--bout-minutes", "0.5", "1"]
    assert main([*synth, "--workers", "1"]) == 0
    spec = tmp_path / "tasks.yaml"
    spec.write_text(SMALL_TASKS)
    capsys.readouterr()
    args = ["tasks", "show", "cli_est_15min", "--cohort", str(store), "--spec", str(spec)]
    assert main([*args, "--json", "--cache", str(tmp_path / "cache")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "cli_est_15min" and sum(summary["anchors"].values()) > 0
    kept = [t for t in summary["targets"] if t["kept"]]
    assert kept and all(t["positives_test"] >= 1 for t in kept)
    assert list((tmp_path / "cache" / "cli_est_15min").iterdir())  # the built task is kept for reuse

    assert main(["tasks", "show", "cardiolab_est_60min", "--cohort", str(store)]) == 2  # lead II only
    assert "needs leads" in capsys.readouterr().err


def test_train_config_files_go_through_the_one_run_config_builder(tmp_path: Path) -> None:
    from ecglab.bench.cli import build_parser
    from ecglab.bench.commands.train import build_config
    from ecglab.bench.config import ConfigError

    config_file = tmp_path / "run.yaml"
    config_file.write_text("lr: 1e-3\nepochs: 3\n")  # YAML 1.1 reads 1e-3 as a string
    argv = ["train", "--backbone", "s4", "--task", "cardiolab_est_60min", "--cohort", str(tmp_path)]
    args = build_parser().parse_args([*argv, "--config", str(config_file), "--epochs", "4"])
    config = build_config(args)
    assert (config.lr, config.epochs, config.cohort) == (1e-3, 4, str(tmp_path))  # flags over the file

    config_file.write_text("epoch: 3\n")
    with pytest.raises(ConfigError, match=r"run.yaml: unknown run option 'epoch'; did you mean epochs\?"):
        build_config(build_parser().parse_args([*argv, "--config", str(config_file)]))

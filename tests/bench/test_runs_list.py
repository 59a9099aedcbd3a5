"""``ecglab runs list`` and the run selectors: one summary per run folder (also a malformed one), sorted by
task, backbone and seed, with the test macro AUROC read from results.parquet; the selectors' patterns; a
selector matching nothing is one line naming what exists; ``ecglab leaderboard`` and ``ecglab submission
export`` read only the runs the selectors choose."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from leaderboard_fixtures import TASK, task_labels, write_run

from ecglab.bench.cli import main
from ecglab.bench.run_selection import RunFilter, SelectionError, list_runs, select_runs
from ecglab.leaderboards.board import build_leaderboard

OTHER_TASK = "aaa_other_task"  # not registered; sorts before TASK


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """s4 (seeds 1 and 0, and a failed seed 7), transformer (one labelled 'tuned', one a search trial),
    ecg_features on another task in a subfolder, an external evaluation, and a folder with a broken
    run.json."""
    runs_dir = tmp_path_factory.mktemp("runs_list") / "runs"
    data = task_labels()
    for seed in (1, 0):
        write_run(runs_dir, "s4", seed=seed, data=data)
    write_run(runs_dir, "s4", seed=7, data=data, status="failed")
    tuned = write_run(runs_dir, "transformer", data=data, label="tuned")
    write_run(runs_dir, "transformer", seed=5, data=data, evaluate_test=False, label="trial")
    write_run(runs_dir / "older", "ecg_features", task=OTHER_TASK, data=data)
    (tuned / "external" / "mimic-abc-test").mkdir(parents=True)
    (tuned / "external" / "mimic-abc-test" / "external.json").write_text("{}")
    (runs_dir / "broken").mkdir()
    (runs_dir / "broken" / "run.json").write_text("{not json")
    return runs_dir


def test_one_summary_per_folder_sorted_with_the_test_macro_auroc(runs: Path) -> None:
    listed = list_runs(runs)
    assert [(r.task, r.backbone, r.seed, r.label) for r in listed] == [
        (OTHER_TASK, "ecg_features", 0, ""),
        (TASK, "s4", 0, ""),
        (TASK, "s4", 1, ""),
        (TASK, "s4", 7, ""),
        (TASK, "transformer", 0, "tuned"),
        (TASK, "transformer", 5, "trial"),
        ("", "", None, ""),
    ]
    by_folder = {Path(r.folder).name: r for r in listed}
    assert (
        by_folder["broken"].status.startswith("unreadable: ")
        and "cannot be read" in by_folder["broken"].status
    )
    for run in listed[:3]:
        results = pd.read_parquet(Path(run.folder) / "results.parquet")
        expected = results.loc[results["split"] == "test", "auroc"].mean()
        assert run.status == "finished" and run.macro_auroc == pytest.approx(expected) and run.n_targets == 5
    failed, tuned, trial = listed[3], listed[4], listed[5]
    assert failed.status == "failed" and failed.macro_auroc is None and "out of memory" in failed.note
    assert tuned.entry == "transformer/tiny [tuned]" and tuned.external == 1 and listed[1].external == 0
    assert trial.macro_auroc is None and "validation only" in trial.note
    assert Path(listed[0].folder).parent.name == "older"  # found recursively


def test_the_entry_is_named_as_the_leaderboard_names_it(runs: Path) -> None:
    board = build_leaderboard([runs], published=False)
    finished = {r.entry for r in list_runs(runs) if r.macro_auroc is not None}
    assert finished == set(board.summary["entry"])


def test_selectors_are_patterns_comma_lists_and_seeds(runs: Path) -> None:
    def chosen(**given: tuple) -> list[tuple]:
        return [(r.backbone, r.seed) for r in select_runs(runs, RunFilter(**given))]

    assert chosen(backbone=("s*",)) == [("s4", 0), ("s4", 1), ("s4", 7)]
    assert chosen(backbone=("s4", "ecg_*"), status=("finished",)) == [
        ("ecg_features", 0),
        ("s4", 0),
        ("s4", 1),
    ]
    assert chosen(task=("anyecg_*",), seed=(0, 5)) == [("s4", 0), ("transformer", 0), ("transformer", 5)]
    assert chosen(label=("",), preset=("tiny",)) == [("ecg_features", 0), ("s4", 0), ("s4", 1), ("s4", 7)]
    assert chosen(label=("tun?d",)) == [("transformer", 0)]
    assert chosen(status=("fail*", "unreadable")) == [
        ("s4", 7),
        ("", None),
    ]  # unreadable: matched by status only
    assert len(select_runs(runs)) == len(select_runs([runs, runs / "older"])) == 7  # each folder once


def test_a_selector_matching_nothing_names_what_exists(runs: Path) -> None:
    with pytest.raises(
        SelectionError, match=r"matches --backbone mynet; backbones there: ecg_features, s4, transformer"
    ):
        select_runs(runs, RunFilter(backbone=("mynet",)))
    with pytest.raises(SelectionError, match=r"matches --seed 9; seeds there: 0, 1, 5, 7"):
        select_runs(runs, RunFilter(seed=(9,)))
    with pytest.raises(SelectionError, match="--backbone s4 --label tuned together"):
        select_runs(runs, RunFilter(backbone=("s4",), label=("tuned",)))
    with pytest.raises(SelectionError, match="a status is one of running, finished"):
        RunFilter(status=("done",))
    with pytest.raises(SelectionError, match="no such folder"):
        select_runs(runs / "missing")


def test_runs_list_prints_a_line_per_run_and_json(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", str(runs), "--backbone", "s4", "--seed", "0,1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TASK", "ENTRY", "SEED", "STATUS", "AUROC", "EXT", "FOLDER", "NOTE"]
    assert [line.split()[:4] for line in lines[1:3]] == [
        [TASK, "s4/tiny", "0", "finished"],
        [TASK, "s4/tiny", "1", "finished"],
    ]
    assert lines[3] == "2 run(s): 2 finished"

    assert main(["runs", "list", str(runs), "--json", "--status", "unreadable,failed"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"].split(":")[0] for r in rows] == ["failed", "unreadable"]
    assert rows[0]["backbone"] == "s4" and rows[0]["macro_auroc"] is None

    assert main(["runs", "list", str(runs), "--task", "nothing*"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecglab: error: no run under") and f"tasks there: {OTHER_TASK}, {TASK}" in err
    assert "\n" not in err
    with pytest.raises(SystemExit) as stopped:
        main(["runs", "list", str(runs), "--seed", "one"])
    assert stopped.value.code == 2 and "seeds are whole numbers" in capsys.readouterr().err


def test_leaderboard_and_export_read_only_the_selected_runs(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "board"
    assert main(["leaderboard", str(runs), "--no-published", "--backbone", "s4", "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["entry"]) == ["s4/tiny"] and summary["n_seeds"].tolist() == [2]
    refused = pd.read_csv(out / "refused.csv")
    assert set(refused["backbone"]) <= {"s4"}  # the failed s4 run, never the broken folder

    sub = tmp_path / "sub.csv"
    argv = ["submission", "export", str(runs), "--backbone", "transformer", "--status", "finished"]
    assert main([*argv, "--out", str(sub)]) == 0
    exported = pd.read_csv(sub)
    assert set(exported["backbone"]) == {"transformer"} and set(exported["label"]) == {"tuned"}
    one = select_runs(runs, RunFilter(backbone=("s4",), seed=(1,)))[0].folder
    assert main(["submission", "export", f"{one}/run.json", "--backbone", "s4", "--out", str(sub)]) == 0
    assert set(pd.read_csv(sub)["seed"]) == {1}  # a run.json stands for its run folder
    capsys.readouterr()

    assert main(["leaderboard", str(runs), "--backbone", "mynet", "--out", str(tmp_path / "none")]) == 2
    assert "backbones there: ecg_features, s4, transformer" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()

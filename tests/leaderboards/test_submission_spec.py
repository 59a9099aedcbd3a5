"""Submissions that stand on their own: a submission of a task from a spec file carries the spec, so that in a
fresh shell (no spec registered) it checks and makes a leaderboard row; a tampered embedded spec is refused
with the reason; a version-1 file still checks against the registered task, and an unknown task's message
says where tasks come from; the objective, calibration and backbone package survive the round trip."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from leaderboard_fixtures import TASK, run_cli, task_labels, write_run
from tiny_task_specs import tiny_task_specs

import ecglab.tasks.registry as task_registry
from ecglab.bench.config import derive_config
from ecglab.bench.run_folder import read_record, write_record
from ecglab.leaderboards.board import build_leaderboard
from ecglab.leaderboards.inputs import submission_runs
from ecglab.leaderboards.submission import (
    COLUMNS,
    SUBMISSION_VERSION,
    VERSION_2_COLUMNS,
    check_submission,
    load_submission,
)
from ecglab.leaderboards.submission_export import export_submission
from ecglab.leaderboards.task_info import task_info
from ecglab.tasks.spec import load_spec_file, spec_from_dict

SPEC_TASK = "spec_file_est_15min"
PACKAGE = {"package": "mynet-ecg", "version": "0.3.1", "commit": "4f1c" * 10}


def _spec_file(folder: Path) -> Path:
    path = folder / "my_tasks.yaml"
    path.write_text(tiny_task_specs(f"name: {SPEC_TASK}\ndescription: a task of my own"))
    return path


def _as_engine_writes(run_dir: Path, spec_file: Path, **config: str) -> None:
    """The fixture run's run.json as the engine writes it for a task of a spec file: the spec's content in
    ``task.spec``, the file in ``task_specs``, the backbone's package; ``config``: objective, calibration."""
    record = read_record(run_dir)
    spec = load_spec_file(spec_file)[0]
    task = dataclasses.replace(record.task, spec=spec.to_dict())
    changes = {"task_specs": [str(spec_file)], **config}
    write_record(
        run_dir,
        record.replace(
            task=task,
            config=derive_config(record.config, changes, source="fixture"),
            backbone=dataclasses.replace(record.backbone, **PACKAGE),
        ),
    )


@pytest.fixture(scope="module")
def spec_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Runs of a task defined only in a spec file: a classification run, a regression one and a
    recalibrated one; and the spec file."""
    root = tmp_path_factory.mktemp("specsub")
    spec_file = _spec_file(root)
    spec = load_spec_file(spec_file)[0]
    runs_dir = root / "runs"
    data = task_labels()
    identity = {"task_version": spec.version, "task_digest": spec.digest()}
    identity["training_digest"] = spec.training_digest()
    for backbone, config in (
        ("s4", {}),
        ("transformer", {"objective": "gaussian_nll"}),
        ("ecgfounder", {"calibration": "temperature"}),
    ):
        run_dir = write_run(runs_dir, backbone, task=SPEC_TASK, data=data, **identity)
        _as_engine_writes(run_dir, spec_file, **config)
    return runs_dir, spec_file


@pytest.fixture
def fresh_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh shell's task registry: the built-in specs only."""
    monkeypatch.setattr(task_registry, "REGISTRY", task_registry.new_registry())


@pytest.fixture(scope="module")
def exported(spec_runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_dir, _ = spec_runs
    out = tmp_path_factory.mktemp("specfiles") / "mine.csv"
    saved = task_registry.REGISTRY
    task_registry.REGISTRY = task_registry.new_registry()  # the export registers the run's spec file
    try:
        export_submission([runs_dir], out)
    finally:
        task_registry.REGISTRY = saved
    return out


def _edited(source: Path, folder: Path, change) -> Path:
    frame = change(pd.read_csv(source, dtype=str, keep_default_na=False))
    path = folder / "edited.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_submission_embeds_its_spec_objective_and_package(exported: Path, spec_runs) -> None:
    _, spec_file = spec_runs
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    assert set(frame["submission_version"]) == {str(SUBMISSION_VERSION)} and SUBMISSION_VERSION == 2
    assert list(frame.columns)[-len(VERSION_2_COLUMNS) :] == list(VERSION_2_COLUMNS)
    spec = load_spec_file(spec_file)[0]
    assert frame["task_spec"].nunique() == 1  # the same on every row of the task
    embedded = spec_from_dict(json.loads(frame["task_spec"].iloc[0]))
    assert embedded == spec and embedded.digest() == frame["task_digest"].iloc[0]
    assert set(frame["backbone_package"]) == {"mynet-ecg"} and set(frame["backbone_version"]) == {"0.3.1"}
    assert set(frame["backbone_commit"]) == {PACKAGE["commit"]}
    objectives = dict(zip(frame["backbone"], frame["objective"], strict=True))
    calibrations = dict(zip(frame["backbone"], frame["calibration"], strict=True))
    assert objectives == {
        "s4": "classification",
        "transformer": "gaussian_nll",
        "ecgfounder": "classification",
    }
    assert calibrations["ecgfounder"] == "temperature" and calibrations["s4"] == "none"


def test_a_fresh_shell_checks_it_and_builds_a_row(
    exported: Path, spec_runs, fresh_tasks: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs_dir, spec_file = spec_runs
    assert SPEC_TASK not in task_registry.list_tasks()
    assert run_cli(["submission", "check", str(exported)]) == 0
    assert f"tasks {SPEC_TASK}" in capsys.readouterr().out
    out = tmp_path / "board"
    assert run_cli(["leaderboard", str(exported), "--out", str(out), "--no-published"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["task"]) == {SPEC_TASK}
    # named with their objective and calibration, as their run folders are
    assert set(summary["entry"]) == {
        "s4/tiny",
        "transformer/tiny [gaussian_nll]",
        "ecgfounder/tiny [temperature]",
    }
    assert SPEC_TASK not in task_registry.list_tasks()  # nothing was registered on the way
    # the leaderboard's task information comes from the embedded spec, not from the task's name
    info = task_info(submission_runs(exported)[0])
    assert (info.kind, info.leads, info.minutes) == ("closest_estimation", ("II",), 15.0)
    assert spec_file.is_file()
    folders = build_leaderboard([runs_dir], published=False).summary  # registers the runs' spec file
    assert set(folders["entry"]) == set(summary["entry"])


def test_a_tampered_spec_is_refused_with_the_reason(
    exported: Path, fresh_tasks: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def wider(frame: pd.DataFrame) -> pd.DataFrame:
        spec = json.loads(frame["task_spec"].iloc[0])
        spec["window_min"] = 30
        return frame.assign(task_spec=json.dumps(spec, sort_keys=True))

    report = check_submission(_edited(exported, tmp_path, wider))
    assert not report.ok
    assert any(
        "embedded task_spec's digest" in p and "is not the task_digest" in p and "edited after export" in p
        for p in report.problems
    ), report.problems
    assert run_cli(["submission", "check", str(_edited(exported, tmp_path, wider))]) == 2
    assert "edited after export" in capsys.readouterr().err
    broken = check_submission(_edited(exported, tmp_path, lambda f: f.assign(task_spec="{not json")))
    assert any("is not a task spec" in p and "not JSON" in p for p in broken.problems), broken.problems
    other = check_submission(_edited(exported, tmp_path, lambda f: f.assign(task="someone_elses_task")))
    assert any("is of task 'spec_file_est_15min'" in p for p in other.problems), other.problems
    board = build_leaderboard([exported, _edited(exported, tmp_path, wider)], published=False)
    assert board.refused["reason"].str.contains("edited after export").all()


def test_a_registered_task_must_agree_with_the_embedded_spec(
    exported: Path, spec_runs, fresh_tasks: None, tmp_path: Path
) -> None:
    _, spec_file = spec_runs
    task_registry.register_spec_file(spec_file)
    assert check_submission(exported).ok
    changed = tmp_path / "changed.yaml"
    changed.write_text(tiny_task_specs(f"name: {SPEC_TASK}\nwindow_min: 30"))
    saved = task_registry.REGISTRY
    task_registry.REGISTRY = task_registry.new_registry()
    try:
        task_registry.register_spec_file(changed)
        problems = check_submission(exported).problems
    finally:
        task_registry.REGISTRY = saved
    assert any("differs from the registered spec" in p for p in problems), problems


def test_version_1_files_check_against_the_registered_task(
    exported: Path, spec_runs, fresh_tasks: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, spec_file = spec_runs

    def version_1(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=list(VERSION_2_COLUMNS)).assign(submission_version="1")

    old = _edited(exported, tmp_path, version_1)
    report = check_submission(old)
    assert not report.ok
    (problem,) = report.problems
    for where in ("not a registered task", "ecglab tasks list", "--task-spec FILE", "task_specs:", "embeds"):
        assert where in problem, problem
    assert run_cli(["submission", "check", str(old)]) == 2
    err = capsys.readouterr().err
    assert "ecglab tasks list" in err and "Traceback" not in err
    assert run_cli(["submission", "check", str(old), "--task-spec", str(spec_file)]) == 0
    typed = load_submission(old)
    assert set(typed["objective"]) == {"classification"} and set(typed["task_spec"]) == {""}
    # a version-2 file must have the version-2 columns
    missing = check_submission(_edited(exported, tmp_path, lambda f: f.drop(columns=["task_spec"])))
    assert any("missing columns ['task_spec']" in p for p in missing.problems), missing.problems
    wrong = check_submission(_edited(exported, tmp_path, lambda f: f.assign(objective="regression")))
    assert any("objective must be one of" in p for p in wrong.problems), wrong.problems


def test_version_1_file_of_a_builtin_task(tmp_path: Path) -> None:
    """A version-1 submission of a built-in task (as written before version 2) is valid as it was."""
    runs_dir = tmp_path / "runs"
    write_run(runs_dir, "s4", data=task_labels())
    out = tmp_path / "new.csv"
    frame, _ = export_submission([runs_dir], out)
    assert frame["task_spec"].iloc[0]  # a run recorded without its spec: the registered one, same digest
    old = frame[list(COLUMNS)].assign(submission_version=1)
    old.to_csv(tmp_path / "old.csv", index=False)
    report = check_submission(tmp_path / "old.csv")
    assert report.ok, report.problems
    assert set(report.frame["task"]) == {TASK} and set(report.frame["calibration"]) == {"none"}


def test_an_unknown_task_says_where_tasks_come_from(fresh_tasks: None) -> None:
    with pytest.raises(KeyError, match="did you mean") as raised:
        task_registry.get_task(SPEC_TASK)
    assert "ecglab tasks list" in str(raised.value) and "--task-spec FILE" in str(raised.value)


def test_each_run_is_checked_as_one(exported: Path, fresh_tasks: None, tmp_path: Path) -> None:
    """The per-run checks (computed for all runs at once) name the run and what is wrong with it."""

    def mixed_spec(frame: pd.DataFrame) -> pd.DataFrame:
        row = frame.index[frame["backbone"] == "s4"][0]
        frame.loc[row, "task_spec"] = frame.loc[row, "task_spec"].replace("a task of my own", "edited")
        return frame

    def no_test(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~((frame["backbone"] == "transformer") & (frame["split"] == "test"))]

    def fewer_val(frame: pd.DataFrame) -> pd.DataFrame:
        val = frame[(frame["backbone"] == "ecgfounder") & (frame["split"] == "val")]
        return frame.drop(index=val.index[0])

    cases = {
        mixed_spec: ("s4", "['task_spec'] must be the same on all its rows"),
        no_test: ("transformer", "no test rows"),
        fewer_val: ("ecgfounder", "val and test rows name different targets"),
    }
    for change, (backbone, message) in cases.items():
        problems = check_submission(_edited(exported, tmp_path, change)).problems
        run = f"run {f'{backbone}-0-{SPEC_TASK}'[:16]}: {message}"
        assert any(run in p for p in problems), (run, problems)
        assert sum(p.startswith("run ") for p in problems) == 1, problems  # only the edited run

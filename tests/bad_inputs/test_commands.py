"""Bad inputs to the run verbs (``train``, ``evaluate``, ``track``) and to the command line itself: each is
one line ``ecglab: error: ...`` with exit 2 (or is accepted as documented), and nothing finished is lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ecglab.bench.cli import build_parser, main
from ecglab.tasks.build import TaskData

TASK = "bad_inputs_forecast"  # the workspaces' task (conftest)


@pytest.fixture(scope="module")
def workspace(new_workspace: Callable[[str], Path]) -> Path:
    """The small store and its task, and one finished baseline run."""
    root = new_workspace("commands")
    assert main([*train_args(root), "--backbone", "tabular", "--runs-dir", str(root / "runs")]) == 0
    return root


def train_args(root: Path) -> list[str]:
    return [
        "train",
        "--task",
        TASK,
        "--task-spec",
        str(root / "tasks.yaml"),
        "--cohort",
        str(root / "store"),
        "--no-track",
        "--quiet",
        "--n-boot",
        "20",
    ]


def finished_run(root: Path) -> Path:
    (run,) = [p for p in (root / "runs").iterdir() if (p / "run.json").is_file()]
    return run


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecglab: error: "), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, expect exit 2 (returned, or argparse's SystemExit) and one error line; return it."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    return one_line_error(capsys)


RUN_OPTIONS = [
    pytest.param(["--epochs", "0"], "epochs must be at least 1", id="zero-epochs"),
    pytest.param(["--batch-size", "0"], "batch_size must be at least 1", id="zero-batch"),
    pytest.param(["--batch-size", "-1"], "batch_size must be at least 1", id="negative-batch"),
    pytest.param(["--lr", "0"], "lr must be above 0", id="zero-lr"),
    pytest.param(["--lr", "nan"], "lr must be above 0", id="nan-lr"),
    pytest.param(["--weight-decay", "-0.1"], "weight_decay must be 0 or more", id="negative-wd"),
    pytest.param(["--patience", "-1"], "patience must be 0 or more", id="negative-patience"),
    pytest.param(["--n-boot", "0"], "n_boot must be at least 1", id="zero-boot"),
    pytest.param(["--workers", "-2"], "workers must be 0 or more", id="negative-workers"),
    pytest.param(["--seed", "-1"], "seed must be 0 or more", id="negative-seed"),
    pytest.param(["--epochs", "two"], "invalid int value", id="epochs-not-a-number"),
    pytest.param(["--fine-tune", "half"], "invalid choice", id="unknown-fine-tune"),
    pytest.param(["--option", "depth"], "expected KEY=VALUE", id="option-without-value"),
    pytest.param(["--bogus-flag"], "unrecognized arguments", id="unknown-flag"),
]


@pytest.mark.parametrize(("extra", "message"), RUN_OPTIONS)
def test_bad_run_options_are_refused_before_anything_is_written(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    runs = tmp_path / "runs"
    err = refused([*train_args(workspace), "--backbone", "s4", "--runs-dir", str(runs), *extra], capsys)
    assert message in err
    assert not runs.exists() or not any(runs.glob("*/run.json"))


CONFIG_FILES = [
    pytest.param(b"epochs: [1\n", "not valid YAML", id="config-bad-yaml"),
    pytest.param(b"- 1\n- 2\n", "expected a mapping of run options", id="config-a-list"),
    pytest.param(b"epoch: 3\n", "did you mean epochs", id="config-misspelled-key"),
    pytest.param(b"epochs: three\n", "epochs: expected an integer", id="config-wrong-type"),
    pytest.param(b"lr: \xff\xfe\n", "not a UTF-8 text file", id="config-not-utf8"),
]


@pytest.mark.parametrize(("content", "message"), CONFIG_FILES)
def test_bad_config_files_are_one_line(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    config = tmp_path / "run.yaml"
    config.write_bytes(content)
    args = [*train_args(workspace), "--backbone", "s4", "--runs-dir", str(tmp_path / "runs")]
    assert message in refused([*args, "--config", str(config)], capsys)


NAMES = [
    pytest.param(["--backbone", "s5"], "unknown backbone 's5'", id="unknown-backbone"),
    pytest.param(["--backbone", "s4", "--preset", "huge"], "huge", id="unknown-preset"),
    pytest.param(["--backbone", "s4", "--option", "no_such_option=1"], "no_such_option", id="unknown-option"),
    pytest.param(
        ["--backbone", "s4", "--option", "d_model=abc"],
        "d_model: expected an integer",
        id="option-wrong-type",
    ),
    pytest.param(
        ["--backbone", "tabular", "--checkpoint", "w.pt"], "takes no --checkpoint", id="ckpt-baseline"
    ),
    pytest.param(
        ["--backbone", "ecgfounder", "--checkpoint", "missing.pt"], "no such file", id="ckpt-missing"
    ),
    pytest.param(
        ["--backbone", "ecgfounder", "--option", "preprocess=true"],
        "needs a sampling rate above 100 Hz; this task feeds 100 Hz",
        id="preprocess-at-100hz",
    ),
    pytest.param(
        ["--backbone", "ecgfounder", "--option", "preprocess=true", "--option", "fs=500"],
        "but task bad_inputs_forecast feeds 100 Hz",
        id="preprocess-rate-mismatch",
    ),
]


@pytest.mark.parametrize(("extra", "message"), NAMES)
def test_unknown_names_and_unusable_checkpoints_are_one_line(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert message in refused([*train_args(workspace), "--runs-dir", str(tmp_path / "runs"), *extra], capsys)


def test_an_unknown_task_names_close_matches(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [*train_args(workspace), "--backbone", "s4"]
    args[args.index(TASK)] = "bad_inputs_forcast"
    assert "did you mean bad_inputs_forecast" in refused(args, capsys)


def test_a_missing_task_spec_file_is_one_line(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [*train_args(workspace), "--backbone", "s4"]
    args[args.index(str(workspace / "tasks.yaml"))] = str(workspace / "no_such.yaml")
    assert "no_such.yaml" in refused(args, capsys)


def test_runs_dir_under_a_file_is_one_line(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = refused(
        [*train_args(workspace), "--backbone", "tabular", "--runs-dir", str(blocker / "runs")], capsys
    )
    assert "a_file" in err


@pytest.fixture
def tiny_mount(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only; skipped where mounting is not allowed)."""
    where = tmp_path / "tiny"
    where.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True, check=False
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {made.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_one_line_and_leaves_nothing_looking_complete(
    workspace: Path, tiny_mount: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tiny_mount / "runs"
    err = refused([*train_args(workspace), "--backbone", "tabular", "--runs-dir", str(runs)], capsys)
    assert "No space left on device" in err and "rerun" in err
    for done in runs.glob("tasks/*/*/task.json"):  # a task folder that looks complete is complete
        TaskData.load(done.parent)
    assert not [p for p in runs.glob("*/run.json") if json.loads(p.read_text())["status"] == "finished"]


def test_a_read_only_folder_is_one_line(
    workspace: Path, tiny_mount: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remounted = subprocess.run(
        ["mount", "-o", "remount,ro", str(tiny_mount)], capture_output=True, check=False
    )
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remounted.stderr.decode().strip()}")
    err = refused(
        [*train_args(workspace), "--backbone", "tabular", "--runs-dir", str(tiny_mount / "r")], capsys
    )
    assert "Read-only file system" in err and "writable folder" in err


RUN_FOLDERS = [
    pytest.param(lambda run: shutil.rmtree(run), "not an ecglab run folder", id="evaluate-missing-folder"),
    pytest.param(lambda run: (run / "run.json").write_text("{"), "cannot be read", id="evaluate-torn-json"),
    pytest.param(lambda run: (run / "run.json").write_text("[]"), "no 'config'", id="evaluate-not-a-record"),
    pytest.param(
        lambda run: (run / "run.json").write_text(
            (run / "run.json").read_text().replace('"finished"', '"done"', 1)
        ),
        "'status' must be one of",
        id="evaluate-unknown-status",
    ),
]


@pytest.mark.parametrize(("damage", "message"), RUN_FOLDERS)
def test_damaged_run_folders_are_one_line(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage, message: str
) -> None:
    copy = tmp_path / "runs" / finished_run(workspace).name
    shutil.copytree(finished_run(workspace), copy)
    damage(copy)
    assert message in refused(["evaluate", str(copy), "--quiet"], capsys)
    assert message in refused(["track", str(copy), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"], capsys)


def test_evaluate_works_from_any_folder_without_the_spec_file(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(workspace / "runs", copy)
    run = copy / finished_run(workspace).name
    record = json.loads((run / "run.json").read_text())
    assert record["task"]["spec"]["name"] == TASK  # the run keeps its spec's content
    assert os.path.isabs(record["config"]["cohort"])
    before = (run / "results.parquet").read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    moved_spec = workspace / "tasks.yaml.moved"
    os.replace(workspace / "tasks.yaml", moved_spec)
    try:
        assert main(["evaluate", os.path.relpath(run, elsewhere), "--quiet"]) == 0
    finally:
        os.replace(moved_spec, workspace / "tasks.yaml")
    assert "test macro AUROC" in capsys.readouterr().out
    assert (run / "results.parquet").read_bytes() == before  # the same scores, rewritten


def test_evaluate_with_a_moved_cohort_takes_its_new_place(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "runs"
    shutil.copytree(workspace / "runs", copy)
    run = copy / finished_run(workspace).name
    record = json.loads((run / "run.json").read_text())
    record["config"]["cohort"] = str(tmp_path / "gone")
    (run / "run.json").write_text(json.dumps(record))
    assert "no cohort store at" in refused(["evaluate", str(run), "--quiet"], capsys)
    assert main(["evaluate", str(run), "--cohort", str(workspace / "store"), "--quiet"]) == 0


def test_version_and_help_on_every_flag_and_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("ecglab ")
    missing = []
    parsers = [("ecglab", build_parser())]
    while parsers:
        name, parser = parsers.pop()
        for action in parser._actions:
            if action.choices and hasattr(action, "_name_parser_map"):
                parsers += [(f"{name} {verb}", sub) for verb, sub in action._name_parser_map.items()]
            elif action.help is None:
                missing.append(f"{name} {(action.option_strings or [action.dest])[0]}")
    assert not missing, f"flags without help: {missing}"


def test_every_progress_showing_verb_takes_quiet() -> None:
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0]._name_parser_map
    show_progress = {
        "demo": (),
        "train": (),
        "evaluate": (),
        "run": (),
        "tune": (),
        "tune-best": (),
        "cohort": ("synth", "mimic", "mcmed", "generic"),
    }
    lacking = []
    for verb, nested in show_progress.items():
        targets = [verbs[verb]]
        if nested:
            (subs,) = [a for a in verbs[verb]._actions if hasattr(a, "_name_parser_map")]
            targets = [subs._name_parser_map[n] for n in nested]
        lacking += [verb for target in targets if "--quiet" not in target._option_string_actions]
    assert not lacking, f"verbs without --quiet: {lacking}"


def test_a_backbones_preprocessing_is_given_the_tasks_rate() -> None:
    from types import SimpleNamespace

    from ecglab.backbones.registry import get_backbone_info
    from ecglab.bench.config import build_run_config
    from ecglab.bench.engine.prepare import backbone_options

    spec = SimpleNamespace(name="t", input=SimpleNamespace(leads=("II",), fs=250.0))
    config = build_run_config(
        {"backbone": "ecgfounder", "task": "t", "cohort": "c", "backbone_options": {"preprocess": True}}
    )
    options = backbone_options(config, get_backbone_info("ecgfounder"), SimpleNamespace(spec=spec))
    assert options["fs"] == 250.0 and options["in_channels"] == 1
    plain = build_run_config({"backbone": "ecgfounder", "task": "t", "cohort": "c"})
    assert "fs" not in backbone_options(plain, get_backbone_info("ecgfounder"), SimpleNamespace(spec=spec))

"""Bad inputs to the services ecglab talks to (MLflow, Optuna storages, PostgreSQL) and the verbs that use
them (``train``, ``track``, ``tune``, ``tune-best``, ``run``): dead servers fail fast with what to do, a
finished run stays finished, dead trials are failed and retried, no password is ever printed.

PostgreSQL is a real server this module starts once (initdb and pg_ctl in a temporary folder, on a free
port, as user nobody when the tests run as root); its cases skip with a message where initdb is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from glob import glob
from pathlib import Path
from typing import Any

import optuna
import pytest
from service_checks import PASSWORD, cli, free_port, one_line_error

from ecglab.bench import engine
from ecglab.bench.cli import build_parser
from ecglab.bench.engine import RunError
from ecglab.bench.run_folder import read_record
from ecglab.bench.tracking.store import HTTP_RETRY_ENV
from ecglab.bench.tune import storage as tune_storage

TASK = "bad_inputs_forecast"  # the workspaces' task (conftest)
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", *HTTP_RETRY_ENV)


@pytest.fixture(autouse=True)
def _bounded_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tracking URI from the environment; MLflow's HTTP retries as ecglab bounds them (restored after)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(tune_storage.STORAGE_ENV, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    for name, value in HTTP_RETRY_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def workspace(new_workspace: Callable[[str], Path]) -> Path:
    """The small store and its task."""
    return new_workspace("services")


def task_args(root: Path) -> list[str]:
    return ["--task-spec", str(root / "tasks.yaml"), "--cohort", str(root / "store")]


@pytest.fixture(scope="module")
def dead_mlflow_train(workspace: Path) -> dict[str, Any]:
    """``ecglab train`` of a baseline (its own process, MLflow's retry variables unset) tracking to a dead
    server: what it printed, its exit status and how long it took."""
    env = {k: v for k, v in os.environ.items() if k not in MLFLOW_ENV}
    runs = workspace / "dead-runs"
    command = [sys.executable, "-m", "ecglab.bench.cli", "train", "--backbone", "tabular", "--task", TASK]
    command += [*task_args(workspace), "--runs-dir", str(runs), "--quiet", "--n-boot", "20"]
    command += ["--tracking-uri", f"http://127.0.0.1:{free_port()}"]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    return {"done": done, "seconds": time.monotonic() - started, "runs": runs}


# ------------------------------------------------------------------------------------------------ MLflow
def test_a_finished_run_with_mlflow_down_exits_0_with_one_warning_naming_track(
    dead_mlflow_train: dict[str, Any],
) -> None:
    done = dead_mlflow_train["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("ecglab: warning:")]
    assert len(warnings) == 1 and "Traceback" not in done.stderr, done.stderr
    (run_dir,) = [p for p in dead_mlflow_train["runs"].iterdir() if (p / "run.json").is_file()]
    assert f"`ecglab track {run_dir} --tracking-uri http://127.0.0.1:" in warnings[0]
    assert "result files are complete" in warnings[0]
    assert read_record(run_dir).finished and (run_dir / "results.parquet").is_file()
    assert dead_mlflow_train["seconds"] < 60  # MLflow's own retries would wait ~5 minutes


@pytest.mark.parametrize("row_level", [pytest.param(False, id="default"), pytest.param(True, id="flag")])
def test_run_pairing_passes_log_row_level_to_log_run(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row_level: bool
) -> None:
    from ecglab.bench.commands.train import build_config
    from ecglab.bench.engine import run as engine_run

    logged: list[dict[str, Any]] = []
    monkeypatch.setattr(engine_run, "ensure_experiment", lambda uri, name: "0")
    monkeypatch.setattr(engine_run, "log_run", lambda *a, **k: logged.append(k) or "mlflow-id")
    argv = ["train", "--backbone", "tabular", "--task", TASK, *task_args(workspace), "--n-boot", "20"]
    args = build_parser().parse_args(argv)
    kwargs = {"log_row_level": True} if row_level else {}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    engine.run_pairing(build_config(args), tmp_path / "runs", tracking_uri=uri, progress=False, **kwargs)
    assert [k["row_level"] for k in logged] == [row_level]


@pytest.mark.parametrize(
    "credentials",
    [pytest.param("", id="plain-uri"), pytest.param(f"ecglab:{PASSWORD}@", id="uri-with-password")],
)
def test_track_to_a_dead_server_fails_fast_and_prints_no_password(
    capsys: pytest.CaptureFixture[str], dead_mlflow_train: dict[str, Any], credentials: str
) -> None:
    (run_dir,) = [p for p in dead_mlflow_train["runs"].iterdir() if (p / "run.json").is_file()]
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    started = time.monotonic()
    status, out, err = cli(
        capsys, "track", run_dir, "--tracking-uri", f"http://{credentials}127.0.0.1:{free_port()}"
    )
    line = one_line_error(status, err)
    assert time.monotonic() - started < 40
    assert f"ecglab track {run_dir}" in line and "complete and intact" in line
    assert PASSWORD not in out + err
    if credentials:
        assert '--tracking-uri "$MLFLOW_TRACKING_URI"' in line
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_tune_with_mlflow_down_is_refused_before_any_trial(
    capsys: pytest.CaptureFixture[str], workspace: Path, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["tune", "--backbone", "tabular", "--task", TASK, *task_args(workspace), "--trials", "1"]
    args += ["--storage", storage, "--runs-dir", tmp_path / "runs", "--study", "dead-mlflow"]
    started = time.monotonic()
    status, _, err = cli(capsys, *args, "--tracking-uri", f"http://127.0.0.1:{free_port()}")
    line = one_line_error(status, err)
    assert time.monotonic() - started < 40 and "--no-track" in line
    assert "dead-mlflow" not in optuna.get_all_study_names(tune_storage.open_storage(storage))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*/run.json"))


@pytest.mark.parametrize(
    "verb, uri",
    [
        pytest.param("train", "file:///tmp/mlruns", id="train-file-uri"),
        pytest.param("train", "./mlruns", id="train-bare-path"),
        pytest.param("tune", "file:mlruns", id="tune-relative-file-uri"),
    ],
)
def test_mlflow_file_store_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], workspace: Path, tmp_path: Path, verb: str, uri: str
) -> None:
    args = [
        verb,
        "--backbone",
        "tabular",
        "--task",
        TASK,
        *task_args(workspace),
        "--runs-dir",
        tmp_path / "runs",
    ]
    if verb == "tune":
        args += ["--trials", "1", "--storage", f"sqlite:///{tmp_path / 'optuna.db'}"]
    status, _, err = cli(capsys, *args, "--tracking-uri", uri)
    assert "MLflow 3 refuses" in one_line_error(status, err)
    assert not list(tmp_path.rglob("run.json")) and not (tmp_path / "optuna.db").exists()


# ------------------------------------------------------------------------------------------ PostgreSQL
def _initdb() -> str | None:
    found = shutil.which("initdb") or next(iter(sorted(glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    return found


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of this module: the URL of its database, with user ecglab and a password."""
    initdb = _initdb()
    if initdb is None:
        pytest.skip("PostgreSQL's initdb is not installed (Debian: apt-get install postgresql; .ci/run does)")
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    root = Path(tempfile.mkdtemp(prefix="ecglab-pg-"))  # not under pytest's root-only folder
    (root / "pw").write_text(PASSWORD + "\n")
    as_user: dict[str, Any] = {}
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chmod(root, 0o755)
        for path in (root, root / "pw"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}
    run = {"cwd": root, "env": env, "capture_output": True, "text": True, "timeout": 120, **as_user}
    data, port = root / "data", free_port()
    init = [initdb, "-D", data, "-U", "ecglab", "--pwfile", root / "pw", "-A", "scram-sha-256", "--no-sync"]
    done = subprocess.run([str(a) for a in init], **run)
    assert done.returncode == 0, done.stderr
    options = f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off"
    done = subprocess.run(
        [pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start"], **run
    )
    assert done.returncode == 0, done.stderr + (root / "log").read_text()
    try:
        yield f"postgresql://ecglab:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], **run)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "journal", "postgres"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh study storage of each kind (PostgreSQL: this module's server, one study name per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'optuna.db'}"
    if request.param == "journal":
        return f"journal:{tmp_path / 'optuna.log'}"
    return request.getfixturevalue("postgres")


def create_study(
    capsys: pytest.CaptureFixture[str], workspace: Path, storage: str, study: str, runs: Path
) -> None:
    args = ["tune", "--backbone", "tabular", "--task", TASK, *task_args(workspace), "--trials", "0"]
    status, _, err = cli(
        capsys, *args, "--storage", storage, "--study", study, "--runs-dir", runs, "--no-track"
    )
    assert status == 0, err


def test_a_killed_workers_trial_is_failed_and_queued_again_when_a_worker_starts(
    capsys: pytest.CaptureFixture[str],
    workspace: Path,
    tmp_path: Path,
    storage_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setattr(tune_storage, "GRACE_PERIOD_S", 1)
    study_name = f"killed-{request.node.callspec.id}-{os.getpid()}-{time.time_ns()}"
    create_study(capsys, workspace, storage_url, study_name, tmp_path / "runs")
    store = tune_storage.open_storage(storage_url)
    study = optuna.load_study(study_name=study_name, storage=store)
    with pytest.warns(UserWarning, match="Heartbeat"):
        trial = study.ask()  # a worker's trial, RUNNING, then the worker is killed (SIGKILL): no more beats
    trial.suggest_float("c", 1e-2, 1e1, log=True)
    store.record_heartbeat(trial._trial_id)
    time.sleep(2.2)  # SQLite keeps heartbeats to the second: more than grace + 1 s

    args = ["tune", "--study", study_name, "--storage", storage_url, *task_args(workspace), "--trials", "0"]
    status, out, err = cli(capsys, *args, "--runs-dir", tmp_path / "runs", "--no-track")
    assert status == 0, err
    assert "the study holds 2: 1 fail, 1 waiting" in out
    trials = optuna.load_study(study_name=study_name, storage=store).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == trials[0].params and trials[1].system_attrs["failed_trial"] == 0
    assert PASSWORD not in out + err


@pytest.mark.parametrize(
    "error, retried",
    [
        pytest.param(
            RuntimeError("CUDA error: an illegal memory access was encountered"), True, id="crash-retried"
        ),
        pytest.param(RunError("no usable anchors"), False, id="user-error-not-retried"),
    ],
)
def test_a_failing_trial_is_retried_unless_it_is_a_user_error(
    capsys: pytest.CaptureFixture[str],
    workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    retried: bool,
) -> None:
    real, calls = engine.run_pairing, []

    def flaky(config: Any, runs_dir: Any, **kwargs: Any) -> Path:
        calls.append(config.label)
        if len(calls) == 1:
            raise error
        return real(config, runs_dir, **kwargs)

    monkeypatch.setattr(engine, "run_pairing", flaky)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = ["tune", "--backbone", "tabular", "--task", TASK, *task_args(workspace), "--trials", "1"]
    status, out, _ = cli(capsys, *args, "--storage", storage, "--runs-dir", tmp_path / "runs", "--no-track")
    trials = optuna.load_study(study_name=f"tabular-tiny-{TASK}", storage=storage).get_trials()
    assert f"trial 0: fail ({type(error).__name__}: " in out
    if retried:
        assert status == 0 and [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
        assert trials[1].params == trials[0].params and "trial 1 (retry of trial 0): complete" in out
        assert "this worker's trials: 1 complete, 1 fail" in out
    else:
        assert status == 1 and [t.state.name for t in trials] == ["FAIL"] and len(calls) == 1
        assert "the study holds 1: 1 fail" in out


def test_postgres_round_trip_with_the_password_in_the_environment_only(
    capsys: pytest.CaptureFixture[str],
    workspace: Path,
    tmp_path: Path,
    postgres: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(tune_storage.STORAGE_ENV, postgres)
    study = f"pg-{os.getpid()}-{time.time_ns()}"
    args = ["tune", "--backbone", "tabular", "--task", TASK, *task_args(workspace), "--trials", "1"]
    status, out, err = cli(capsys, *args, "--study", study, "--runs-dir", tmp_path / "runs", "--no-track")
    assert status == 0, err
    assert PASSWORD not in out + err and "postgresql://ecglab:***@127.0.0.1" in out
    assert f'ecglab tune-best --study {study} --storage "$ECGLAB_OPTUNA_STORAGE"' in out
    lines = [line for line in out.splitlines() if line.startswith("trial 0: complete val_macro_auroc")]
    assert (
        len(lines) == 1 and "[c=" in lines[0] and lines[0].endswith(" s)")
    )  # number, state, value, params, s

    monkeypatch.delenv(tune_storage.STORAGE_ENV)  # the URL on the command line: warned, still never printed
    args = [
        "tune",
        "--study",
        study,
        "--storage",
        postgres,
        *task_args(workspace),
        "--trials",
        "0",
        "--no-track",
    ]
    status, out, err = cli(capsys, *args, "--runs-dir", tmp_path / "runs", "--quiet")
    assert status == 0 and PASSWORD not in out + err
    assert "set ECGLAB_OPTUNA_STORAGE" in err and '--storage "$ECGLAB_OPTUNA_STORAGE"' in out
    stored = optuna.load_study(study_name=study, storage=tune_storage.open_storage(postgres))
    assert [t.state.name for t in stored.get_trials()] == ["COMPLETE"]

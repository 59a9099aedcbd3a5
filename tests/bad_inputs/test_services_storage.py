"""Bad inputs to ecglab's Optuna storages and to ``tune``'s flags, without a cohort or a server: a journal
file two processes share, the accepted journal forms, bad storage URLs and missing database drivers (one line,
exit 2, no password), tune's preset space, and help on every flag of ``run``, ``tune`` and ``tune-best``.
(PostgreSQL, dead services and trials: tests/bad_inputs/test_services.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from service_checks import PASSWORD, cli, free_port, one_line_error

from ecglab.bench.cli import build_parser
from ecglab.bench.tune import storage as tune_storage
from ecglab.bench.tune.settings import StudySettings
from ecglab.bench.tune.space import sample_options, space_function


@pytest.fixture(autouse=True)
def _no_storage_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tune_storage.STORAGE_ENV, raising=False)


def test_a_journal_file_is_shared_by_two_processes_without_a_server(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'shared' / 'optuna.log'}"
    optuna.create_study(study_name="shared", storage=tune_storage.open_storage(url))
    code = (
        "import sys, optuna\n"
        "from ecglab.bench.tune.storage import open_storage\n"
        "optuna.logging.set_verbosity(optuna.logging.WARNING)\n"
        "study = optuna.load_study(study_name='shared', storage=open_storage(sys.argv[1]))\n"
        "study.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=4)\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True) for _ in "ab"
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    trials = optuna.load_study(study_name="shared", storage=tune_storage.open_storage(url)).get_trials()
    assert sorted(t.number for t in trials) == list(range(8))
    assert {t.state.name for t in trials} == {"COMPLETE"}
    assert all("ecglab:heartbeat" in t.system_attrs for t in trials)  # the journal's heartbeat ran


@pytest.mark.parametrize(
    "form", [pytest.param("journal:{}", id="journal-prefix"), pytest.param("{}", id="path-ending-log")]
)
def test_journal_storage_forms_are_accepted(tmp_path: Path, form: str) -> None:
    store = tune_storage.open_storage(form.format(tmp_path / "sub" / "study.log"))
    assert store.get_heartbeat_interval() == tune_storage.HEARTBEAT_INTERVAL_S
    optuna.create_study(study_name="s", storage=store).optimize(lambda t: 1.0, n_trials=1)
    assert (tmp_path / "sub" / "study.log").stat().st_size > 0


@pytest.mark.parametrize(
    "url, expected",
    [
        pytest.param("runs/optuna.db", "is not a storage URL", id="bare-path"),
        pytest.param("journal:", "name the journal file", id="journal-without-path"),
        pytest.param(
            "nosuchdb://host/x", "cannot open the Optuna storage nosuchdb://host/x", id="unknown-scheme"
        ),
        pytest.param(
            "postgresql://ecglab:{pw}@127.0.0.1:{port}/db", "cannot open the Optuna storage", id="refused"
        ),
    ],
)
def test_a_bad_storage_url_is_one_line_without_its_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, expected: str
) -> None:
    url = url.format(pw=PASSWORD, port=free_port())
    status, out, err = cli(capsys, "tune-best", "--study", "s", "--storage", url, "--runs-dir", tmp_path)
    assert expected in one_line_error(status, err)
    assert PASSWORD not in out + err


@pytest.mark.parametrize(
    "url, module, package",
    [
        pytest.param("postgresql://ecglab@127.0.0.1:1/db", "psycopg", "ecglab[postgres]", id="psycopg3"),
        pytest.param(
            "postgresql+psycopg2://ecglab@127.0.0.1:1/db", "psycopg2", "psycopg2-binary", id="psycopg2"
        ),
    ],
)
def test_a_missing_database_driver_is_named_with_its_package(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, module: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    status, _, err = cli(capsys, "tune-best", "--study", "s", "--storage", url)
    line = one_line_error(status, err)
    assert f"database driver {module!r} is not installed" in line and package in line


# --------------------------------------------------------------------------------------- tune's space
@pytest.mark.parametrize(
    "backbone, preset, fixed, searched",
    [
        pytest.param("s4", "tiny", {"d_model": 32, "n_layers": 2}, {"ssm_lr", "lr"}, id="s4-tiny"),
        pytest.param(
            "transformer", "tiny", {"d_model": 32, "patch": 50}, {"dropout", "pooling"}, id="transformer-tiny"
        ),
        pytest.param("s4", "full", {}, {"d_model", "n_layers", "ssm_lr"}, id="s4-full"),
    ],
)
def test_tune_at_a_preset_searches_that_presets_space(
    backbone: str, preset: str, fixed: dict[str, int], searched: set[str]
) -> None:
    space = space_function(StudySettings(), backbone, preset)
    study = optuna.create_study()
    for _ in range(5):
        trial = study.ask()
        options, _ = sample_options(trial, backbone, space)
        assert searched <= set(trial.params) and not set(fixed) & set(trial.params)
        assert not set(fixed) & set(options)  # the preset supplies them
        study.tell(trial, 0.5)


@pytest.mark.parametrize("verb", ["run", "tune", "tune-best"])
def test_every_flag_has_help(verb: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    missing = [a.option_strings or [a.dest] for a in sub.choices[verb]._actions if not a.help]
    assert not missing
    flags = {flag for a in sub.choices[verb]._actions for flag in a.option_strings}
    assert {"--quiet", "--log-row-level"} <= flags

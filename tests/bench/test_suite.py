"""Suites: validation of suite files, reruns that skip finished pairings, resuming an interrupted suite, and a
failing pairing that is reported while the others still run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from locations import REPO
from suite_fixtures import forecast_task_yaml

import ecglab.bench.engine as engine
from ecglab.bench.cli import main
from ecglab.bench.engine import run as engine_run
from ecglab.bench.run_folder import read_record
from ecglab.bench.suite import SuiteError, check_paths, load_suite, parse_suite, run_suite, select
from ecglab.bench.suite.schema import SHIPPED_SUITES, shipped_suites
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

TASKS = forecast_task_yaml("suite_forecast_60min")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("suite")
    config = SynthConfig(n_patients=60, seed=5, bout_minutes=(1.5, 3.0))
    store = build_synthetic_cohort(root / "cohort", config, workers=2, progress=False)
    (root / "tasks.yaml").write_text(TASKS)
    return {"root": root, "store": store}


def _suite(setup: dict[str, Path], name: str, backbones: list[dict], **extra: object) -> Path:
    data = {
        "name": name,
        "cohort": "cohort",  # relative to the suite file's folder
        "task_specs": ["tasks.yaml"],
        "tasks": ["suite_forecast_60min"],
        "seeds": [0, 1],
        "runs_dir": f"runs_{name}",
        "run": {"n_boot": 20, "epochs": 1},
        "backbones": backbones,
        **extra,
    }
    path = setup["root"] / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


TABULAR = [
    {"name": "tabular", "preset": "tiny"},
    {"name": "tabular", "preset": "tiny", "label": "c01", "options": {"c": 0.1}},
]


def test_a_rerun_skips_finished_pairings(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _suite(setup, "rerun", TABULAR)
    uri = f"sqlite:///{setup['root'] / 'mlflow.db'}"
    assert main(["run", str(path), "--tracking-uri", uri, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "rerun: 4 pairings: 4 finished" in out
    assert "tabular:c01/suite_forecast_60min/seed1" in out and "test macro AUROC" in out
    runs = sorted(p for p in (setup["root"] / "runs_rerun").iterdir() if p.name != "tasks")
    assert len(runs) == 4
    assert {read_record(p).config.label for p in runs} == {"", "c01"}

    monkeypatch.setattr(engine, "run_pairing", lambda *a, **k: pytest.fail("a finished pairing ran again"))
    assert main(["run", str(path), "--tracking-uri", uri, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "rerun: 4 pairings: 4 skipped" in out and out.count("skipped; --force reruns it") == 4

    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("ecglab")
    logged = client.search_runs([experiment.experiment_id], filter_string="tags.`ecglab.suite` = 'rerun'")
    assert len(logged) == 4  # logged once each: the rerun's logging found them there


def test_tracking_failures_are_warnings_and_the_suite_stops_trying(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """MLflow going away mid-suite: the pairings still count as finished (exit 0), the first failure is
    reported, the later pairings are not tried (no ~30 s wait each), and row_level reaches log_run."""
    import ecglab.bench.tracking as tracking

    path = _suite(setup, "rerun", TABULAR)
    assert main(["run", str(path), "--no-track", "--quiet"]) == 0  # finished (here or by the test above)
    calls: list[dict] = []

    def down(run_dir, uri, experiment, **kwargs):
        calls.append(kwargs)
        raise tracking.TrackingError("could not log: ConnectionError: the server went away")

    monkeypatch.setattr(tracking, "log_run", down)
    uri = f"sqlite:///{setup['root'] / 'mlflow.db'}"
    capsys.readouterr()
    assert main(["run", str(path), "--tracking-uri", uri, "--quiet", "--log-row-level"]) == 0
    out = capsys.readouterr().out
    assert len(calls) == 1 and calls[0]["row_level"] is True
    assert "rerun: 4 pairings: 4 skipped" in out
    assert "* warning: 4 finished but not logged to MLflow" in out and "ecglab track RUN" in out
    assert out.count("not tried (MLflow failed on tabular/suite_forecast_60min/seed0)") == 3


def test_an_interrupted_suite_resumes(setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    suite = load_suite(_suite(setup, "resume", TABULAR))
    real = engine_run.baseline_scores
    calls: list[str] = []

    def interrupted(config, cohort, task):  # Ctrl-C during the third pairing
        calls.append(f"{config.label}/{config.seed}")
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(config, cohort, task)

    monkeypatch.setattr(engine_run, "baseline_scores", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, track=False, progress=False, out=lambda line: None)
    runs_dir = Path(suite.runs_dir)
    records = [read_record(p.parent) for p in runs_dir.glob("*/run.json")]
    assert sorted(r.status for r in records) == ["failed", "finished", "finished"]

    calls.clear()
    monkeypatch.setattr(engine_run, "baseline_scores", lambda *a: (calls.append(a[0].label), real(*a))[1])
    report = run_suite(suite, track=False, progress=False, out=lambda line: None)
    assert [o.status for o in report.outcomes] == ["skipped", "skipped", "finished", "finished"]
    assert calls == ["c01", "c01"]  # only the interrupted pairing and the one never started
    assert report.ok and all(o.test_macro_auroc > 0 for o in report.outcomes)


def test_a_failing_pairing_is_reported_and_the_others_run(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backbones = [
        {"name": "ecg_features", "preset": "tiny", "label": "v1", "options": {"lead": "V1"}},
        TABULAR[0],
    ]
    path = _suite(setup, "failing", backbones, seeds=[0])
    assert main(["run", str(path), "--no-track", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "failing: 2 pairings: 1 finished, 1 failed" in out
    assert "FAILED ecg_features:v1/suite_forecast_60min/seed0:" in out and "V1" in out

    real = engine.run_pairing
    ran: list[tuple[str, bool]] = []

    def counting(config, *args, **kwargs):
        ran.append((config.backbone, kwargs["force"]))
        return real(config, *args, **kwargs)

    monkeypatch.setattr(engine, "run_pairing", counting)
    assert main(["run", str(path), "--no-track", "--quiet", "--only", "ecg_features"]) == 1
    assert ran == [("ecg_features", True)]  # a failed run is never reused: rerun from scratch
    assert "rerunning a failed run" in capsys.readouterr().out


BASE = {"name": "x", "cohort": "c", "tasks": ["cardiolab_est_60min"], "backbones": [{"name": "s4"}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"backbone": []}, "unknown key 'backbone'; did you mean backbones?"),
        ({"backbones": [{"name": "s44"}]}, "backbones[0].name: unknown backbone 's44'; did you mean s4"),
        ({"tasks": ["cardiolab_est_60mn"]}, "tasks[0]: unknown task 'cardiolab_est_60mn'; did you mean"),
        ({"backbones": [{"name": "s4", "preset": "ful"}]}, "s4 has no preset 'ful'; did you mean full?"),
        ({"backbones": [{"name": "s4", "optoins": {}}]}, "backbones[0]: unknown key 'optoins'; did you mean"),
        ({"run": {"epochs": "ten"}}, "run.epochs: expected an integer"),
        ({"run": {"epoch": 3}}, "unknown run option 'epoch'; did you mean epochs?"),
        ({"run": {"schedule": "linear"}}, "schedule must be one of"),
        ({"run": {"seed": 1}}, "run.seed: set by the suite itself: use seeds"),
        ({"run": {"evaluate_test": False}}, "a suite always evaluates the test split"),
        ({"backbones": [{"name": "s4"}, {"name": "s4"}]}, "same backbone and label as backbones[0]"),
        ({"seeds": [0, 0]}, "seeds: listed twice: 0"),
        ({"cohort": None}, "missing cohort"),
    ],
)
def test_suite_files_are_validated_with_clear_errors(change: dict, message: str) -> None:
    with pytest.raises(SuiteError) as error:
        parse_suite({**BASE, **change}, source="bad.yaml")
    assert str(error.value).startswith("bad.yaml: ") and message in str(error.value)


def test_run_options_keep_yaml_numbers_and_entries_override_shared_ones(tmp_path: Path) -> None:
    suite = parse_suite(
        {
            **BASE,
            "run": {"lr": "1e-3", "epochs": 3, "preset": "full"},  # YAML 1.1 reads 1e-3 as a string
            "backbones": [
                {"name": "s4", "run": {"lr": 2e-4}},
                {"name": "s4", "label": "f", "preset": "tiny"},
            ],
        },
        base_dir=tmp_path,
    )
    first, second = suite.pairings()
    assert (first.config.lr, first.config.preset, first.config.epochs) == (2e-4, "full", 3)
    assert (second.config.lr, second.config.preset, second.name) == (
        1e-3,
        "tiny",
        "s4:f/cardiolab_est_60min/seed0",
    )
    assert first.config.cohort == str(tmp_path / "c")


def test_only_selects_pairings_by_glob() -> None:
    suite = parse_suite({**BASE, "seeds": [0, 1], "backbones": ["s4", {"name": "tabular", "label": "gbm"}]})
    names = [p.name for p in select(suite.pairings(), ["tabular"])]
    assert names == ["tabular:gbm/cardiolab_est_60min/seed0", "tabular:gbm/cardiolab_est_60min/seed1"]
    assert len(select(suite.pairings(), ["*/seed1"])) == 2
    with pytest.raises(SuiteError, match="matches no pairing"):
        select(suite.pairings(), ["transformer"])


@pytest.mark.parametrize(
    ("file", "n_pairings"),
    [
        ("anyecg_lab_mcmed.yaml", 36),
        ("cardiolab_mimic.yaml", 60),
        ("external_mimic_mcmed.yaml", 9),
        ("external_mcmed_mimic.yaml", 9),
        ("lead_ablation_mimic.yaml", 39),
    ],
)
def test_shipped_suites_validate_and_name_their_placeholders(
    file: str, n_pairings: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("MCMED_STORE", "MIMIC_STORE", "ECGFOUNDER_1LEAD", "ECGFOUNDER_12LEAD"):
        monkeypatch.delenv(variable, raising=False)
    suite = load_suite(REPO / "ecglab" / "bench" / "suites" / file)
    pairings = suite.pairings()
    assert len(pairings) == n_pairings and all(p.config.evaluate_test for p in pairings)
    founder = [p.config for p in pairings if p.config.backbone == "ecgfounder"]
    assert founder and all(c.checkpoint for c in founder)
    with pytest.raises(SuiteError, match=r"environment variable .*_STORE not set"):
        check_paths(suite)
    if file.startswith("external_"):  # the other store is external, and its placeholder is named too
        (external,) = suite.external
        assert external.scope == "all" and external.cohort.startswith("${")
        assert external.cohort != suite.cohort
        with pytest.raises(SuiteError, match=r"external cohort \$\{\w+_STORE\} does not exist"):
            check_paths(suite)


def test_a_shipped_suite_runs_by_name_with_its_data_paths_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shipped suite lives inside the installed package: its relative cohort and runs_dir must land in the
    user's working folder, never inside site-packages; its task spec files still come from the package."""
    monkeypatch.chdir(tmp_path)
    assert {"anyecg_lab_mcmed", "cardiolab_mimic", "demo"} <= set(shipped_suites())
    suite = load_suite("demo")
    assert suite.cohort == str(tmp_path / "demo" / "cohort")
    assert suite.runs_dir == str(tmp_path / "demo" / "runs")
    assert all(Path(spec).parent == SHIPPED_SUITES for spec in suite.task_specs)
    monkeypatch.setenv("MIMIC_STORE", str(tmp_path / "mimic"))
    assert load_suite("cardiolab_mimic").runs_dir == str(tmp_path / "runs" / "cardiolab_mimic")
    with pytest.raises(SuiteError, match=r"nor a shipped suite .*cardiolab_mimic"):
        load_suite("cardiolab_mimik")


def test_the_external_demo_suite_has_the_demo_pairings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`ecglab demo --external` after `ecglab demo` only adds the external evaluations: same run ids."""
    monkeypatch.chdir(tmp_path)
    demo, external = load_suite("demo"), load_suite("external_demo")
    assert [p.config for p in demo.pairings()] == [p.config for p in external.pairings()]
    assert not demo.external
    assert [e.cohort for e in external.external] == [str(tmp_path / "demo" / "external")]

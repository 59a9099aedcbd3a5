"""External validation end to end: a suite trained on one synthetic store (MC-MED lab names, 100 Hz) and
scored on a second (MIMIC-IV itemids, a shifted population, 250 Hz), its run folders' external results,
the leaderboard's internal and external columns, and the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from external_stores import external_spec, external_store, shared_folder, source_store

from ecglab.bench.cli import main
from ecglab.bench.engine.external import EXTERNAL_RECORD, evaluate_external
from ecglab.bench.suite import SuiteError, check_paths, load_suite, run_suite
from ecglab.leaderboards.board import build_leaderboard, write_leaderboard

BACKBONES = [{"name": "ecgfounder", "preset": "tiny"}, {"name": "ecg_features", "preset": "tiny"}]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two stores and a suite run on the first with the second as its external cohort."""
    folder = tmp_path_factory.mktemp("external")
    stores = shared_folder(tmp_path_factory)
    source, external = source_store(stores), external_store(stores)
    spec = external_spec().to_dict()
    (folder / "tasks.yaml").write_text(yaml.safe_dump({"tasks": [spec]}))
    suite = {
        "name": "external_tiny",
        "cohort": str(source),
        "external": [{"cohort": str(external)}],
        "task_specs": ["tasks.yaml"],
        "tasks": [spec["name"]],
        "runs_dir": str(folder / "runs"),
        "run": {"epochs": 1, "batch_size": 32, "n_boot": 50},
        "backbones": BACKBONES,
    }
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite))
    lines: list[str] = []
    report = run_suite(load_suite(folder / "suite.yaml"), track=False, progress=False, out=lines.append)
    assert report.ok, report.table()
    assert sum(": external " in line and "macro AUROC" in line for line in lines) == 2  # one per pairing
    return {
        "folder": folder,
        "source": source,
        "external": external,
        "suite": folder / "suite.yaml",
        "runs": folder / "runs",
    }


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p.parent for p in runs.glob("*/run.json"))


def test_every_pairing_is_scored_on_the_external_cohort(finished: dict[str, Path]) -> None:
    dirs = run_dirs(finished["runs"])
    assert len(dirs) == 2
    for run_dir in dirs:
        (folder,) = (run_dir / "external").iterdir()
        assert folder.name.endswith("-all") and (folder / EXTERNAL_RECORD).is_file()
        results = pd.read_parquet(folder / "results.parquet")
        internal = pd.read_parquet(run_dir / "results.parquet").query("split == 'test'").set_index("target")
        assert set(results["target"]) == set(internal.index)  # one row per target of the run
        kept = results[results["kept"]]
        assert len(kept) >= 2 and {"potassium_high", "potassium_low"} & set(kept["target"])
        # the internal side is the run's own test AUROC; the drop is internal - external with its interval
        assert np.allclose(kept["internal_auroc"], internal.loc[kept["target"], "auroc"])
        both = kept.dropna(subset=["drop_low"])
        assert len(both) and np.allclose(both["drop"], both["internal_auroc"] - both["auroc"])
        assert ((both["drop_low"] < both["drop"]) & (both["drop"] < both["drop_high"])).all()
        assert ((kept["clustered_low"] <= kept["auroc"]) & (kept["auroc"] <= kept["clustered_high"])).all()
        assert (results.loc[~results["kept"], "reason"] != "").all()
        predictions = pd.read_parquet(folder / "predictions.parquet")
        assert (predictions["label"] != -1).all() and set(predictions["target"]) == set(kept["target"])


def test_the_leaderboard_shows_internal_and_external_side_by_side(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    board = build_leaderboard([finished["runs"]], published=False)
    table = board.external
    assert set(table["entry"]) == {"ecgfounder/tiny", "ecg_features/tiny"}
    macro = table[table["target"] == "macro"]
    assert len(macro) == 2 and macro["internal_auroc"].notna().all() and macro["external_auroc"].notna().all()
    rows = table[(table["target"] == "potassium_high") & (table["entry"] == "ecgfounder/tiny")]
    assert len(rows) == 1 and rows["external_low"].notna().all() and rows["internal_auroc"].notna().all()
    assert (table["external_cohort"] != "").all() and (table["scope"] == "all").all()
    # some target has both intervals (the tiny internal test split leaves a few without two patients a class)
    both = table.dropna(subset=["internal_low", "external_low", "drop_low"])
    assert len(both) and (both["ci_method"].str.contains("Obuchowski")).all()
    paths = write_leaderboard(board, tmp_path / "board")
    written = pd.read_csv(paths["external"])
    assert {"internal_auroc", "external_auroc", "drop", "drop_low", "drop_high"} <= set(written.columns)
    assert "External validation" in paths["markdown"].read_text()
    assert "External validation" in paths["html"].read_text()


def test_a_second_evaluation_is_skipped_and_force_redoes_it(finished: dict[str, Path]) -> None:
    run_dir = run_dirs(finished["runs"])[0]
    (folder,) = (run_dir / "external").iterdir()
    stamp = (folder / EXTERNAL_RECORD).stat().st_mtime_ns
    assert evaluate_external(run_dir, finished["external"]) == folder
    assert (folder / EXTERNAL_RECORD).stat().st_mtime_ns == stamp
    evaluate_external(run_dir, finished["external"], force=True)
    assert (folder / EXTERNAL_RECORD).stat().st_mtime_ns != stamp


def test_the_command_line_scores_a_run_on_its_test_scope(
    finished: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = run_dirs(finished["runs"])[0]
    argv = ["evaluate", str(run_dir), "--external", str(finished["external"]), "--scope", "test", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "external" in out and "macro AUROC" in out and "internal" in out
    (folder,) = [p for p in (run_dir / "external").iterdir() if p.name.endswith("-test")]
    record = pd.read_json(folder / EXTERNAL_RECORD, typ="series")
    assert record["scope"] == "test" and record["n_patients"] < 40


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--external", "SOURCE"], "is the run's own cohort"),
        (["--scope", "test"], "apply to --external only"),
        (["--external", "MISSING"], "no cohort store at"),
    ],
)
def test_command_line_mistakes_are_one_line_errors(
    finished: dict[str, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    run_dir = run_dirs(finished["runs"])[0]
    places = {"SOURCE": str(finished["source"]), "MISSING": str(finished["folder"] / "nowhere")}
    argv = ["evaluate", str(run_dir), *[places.get(a, a) for a in extra], "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecglab: error:") and message in err and len(err.strip().splitlines()) == 1


def test_suite_external_entries_are_checked(finished: dict[str, Path]) -> None:
    suite = yaml.safe_load(finished["suite"].read_text())
    folder = finished["folder"]  # beside the suite's task spec file
    for external, message in (
        ([{"cohort": "x", "scope": "everyone"}], "scope: expected one of all, test"),
        ([{"cohort": "x", "scop": "all"}], "unknown keys"),
        ("x", "expected a list"),
    ):
        (folder / "bad.yaml").write_text(yaml.safe_dump({**suite, "external": external}))
        with pytest.raises(SuiteError, match=message):
            load_suite(folder / "bad.yaml")
    (folder / "missing.yaml").write_text(
        yaml.safe_dump({**suite, "external": [{"cohort": str(folder / "nowhere")}]})
    )
    with pytest.raises(SuiteError, match=r"external cohort .* does not exist"):
        check_paths(load_suite(folder / "missing.yaml"))

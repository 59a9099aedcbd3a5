"""Submission files: export carries aggregates only; check refuses identifiers (naming the column), a wrong
task version, mixed cohorts, bad AUROC bounds and duplicated seeds; the commands' exit statuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import COHORT, OTHER_COHORT, TASK, run_cli, task_labels, write_run

from ecglab.leaderboards.board import build_leaderboard
from ecglab.leaderboards.submission import (
    ALL_COLUMNS,
    COLUMNS,
    OPTIONAL_COLUMNS,
    SubmissionError,
    check_frame,
    check_submission,
    identifier_columns,
    load_submission,
)
from ecglab.leaderboards.submission_export import export_submission
from ecglab.tasks.registry import get_task


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_dir = tmp_path_factory.mktemp("sub") / "runs"
    data = task_labels()
    write_run(runs_dir, "ecgfounder", data=data)
    for seed in (0, 1):
        write_run(runs_dir, "s4", seed=seed, data=data)
    write_run(runs_dir, "s4", seed=3, data=data, status="failed")
    return runs_dir


@pytest.fixture(scope="module")
def exported(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("files") / "submission.csv"
    export_submission([runs], out)
    return out


def test_export_holds_aggregates_only(runs: Path, exported: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(ALL_COLUMNS)  # n_patients counts patients: no identifier
    assert identifier_columns(frame.columns) == []
    # no value of any cell is a patient or anchor id of the predictions
    predictions = pd.concat(pd.read_parquet(p) for p in runs.glob("*/predictions.parquet"))
    identifiers = set(predictions["anchor_id"]) | set(predictions["patient_id"])
    assert not identifiers & set(frame.to_numpy().ravel())
    assert len(frame) == 3 * 5 * 2  # 3 finished runs x 5 targets x (val, test); the failed run is skipped
    assert set(frame["seed"]) == {"0", "1"} and set(frame["task"]) == {TASK}

    typed = load_submission(exported)
    assert typed["auroc"].dtype == np.float64 and typed["n"].dtype == np.int64
    results = pd.concat(pd.read_parquet(p) for p in runs.glob("*/results.parquet"))
    merged = typed.merge(results, on=["run_id", "target", "split"], suffixes=("", "_run"))
    assert len(merged) == len(typed)
    np.testing.assert_allclose(merged["auroc"], merged["auroc_run"], rtol=1e-15)
    np.testing.assert_allclose(merged["auroc_low"], merged["auroc_low_run"], rtol=1e-15)

    parquet = tmp_path / "submission.parquet"
    _, skipped = export_submission([runs], parquet)
    assert len(skipped) == 1 and "failed" in skipped[0]
    assert check_submission(parquet).ok
    pd.testing.assert_frame_equal(load_submission(parquet), typed)


def _edited(exported: Path, tmp_path: Path, change) -> Path:
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    frame = change(frame)
    path = tmp_path / "edited.csv"
    frame.to_csv(path, index=False)
    return path


def test_check_refuses_identifier_columns_by_name(exported: Path, tmp_path: Path) -> None:
    path = _edited(exported, tmp_path, lambda f: f.assign(patient_id="p0001"))
    report = check_submission(path)
    assert not report.ok
    assert any("'patient_id'" in p and "identifier" in p for p in report.problems)
    with pytest.raises(SubmissionError, match="patient_id"):
        load_submission(path)
    for column in ("subject_id", "hadm_id", "CSN", "anchor_id", "segment_id", "study_id", "record", "score"):
        report = check_submission(_edited(exported, tmp_path, lambda f, c=column: f.assign(**{c: "x"})))
        assert any(repr(column) in p for p in report.problems), (column, report.problems)
    assert identifier_columns(["Patient ID", "y_pred", "wfdb_path", "mrn", "auroc"]) == [
        "Patient ID",
        "y_pred",
        "wfdb_path",
        "mrn",
    ]


def test_clustered_columns_are_optional_and_checked(exported: Path, tmp_path: Path) -> None:
    """A submission written before the clustered columns is valid (they read as missing); present, their
    bounds and patient counts are checked."""
    old = check_submission(_edited(exported, tmp_path, lambda f: f.drop(columns=list(OPTIONAL_COLUMNS))))
    assert old.ok and old.frame is not None and old.frame["n_patients"].isna().all()
    assert list(old.frame.columns) == list(ALL_COLUMNS) and set(COLUMNS) < set(ALL_COLUMNS)

    def patients(frame: pd.DataFrame) -> pd.DataFrame:
        test = frame.index[frame["split"] == "test"][0]
        frame.loc[test, ["n_patients", "n_pos_patients"]] = ["3", "4"]
        frame.loc[test, ["clustered_low", "clustered_high"]] = ["0.9", "0.6"]
        return frame

    problems = check_submission(_edited(exported, tmp_path, patients)).problems
    assert any("patient counts exceed" in p for p in problems), problems
    assert any("clustered_low > clustered_high" in p for p in problems), problems
    # without patient counts or predictions, a leaderboard shows neither interval, and says why
    targets = build_leaderboard([exported], published=False).targets
    assert targets["clustered_low"].isna().all() and targets["delong_low"].isna().all()
    assert targets["clustered_note"].str.contains("no predictions").all()
    single = targets[targets["entry"] == "ecgfounder/tiny"]  # (a mean over seeds has no DeLong interval)
    assert single["clustered_note"].str.contains("DeLong's interval not shown").all()


def test_check_refuses_a_wrong_task_version(exported: Path, tmp_path: Path) -> None:
    registered = get_task(TASK).version  # the shipped specs' version moves on; the check must not
    wrong = str(int(registered) + 1)
    report = check_submission(_edited(exported, tmp_path, lambda f: f.assign(task_version=wrong)))
    assert not report.ok
    assert any(
        f"version {wrong}" in p and f"registered task is version {registered}" in p for p in report.problems
    )
    changed_spec = check_submission(_edited(exported, tmp_path, lambda f: f.assign(task_digest="0" * 64)))
    assert any("without a new version" in p for p in changed_spec.problems)
    unknown = check_submission(_edited(exported, tmp_path, lambda f: f.assign(task="no_such_task")))
    assert any("not a registered task" in p for p in unknown.problems)


def test_check_refuses_mixed_cohorts_bad_bounds_and_seeds(exported: Path, tmp_path: Path) -> None:
    def mixed(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["backbone"] == "s4", "cohort_hash"] = OTHER_COHORT
        return frame

    problems = check_submission(_edited(exported, tmp_path, mixed)).problems
    assert any("2 cohort hashes" in p and COHORT[:12] in p for p in problems)

    def outside(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "auroc"] = "1.2"
        return frame

    assert any(
        "auroc outside [0, 1] on line 2" in p
        for p in check_submission(_edited(exported, tmp_path, outside)).problems
    )

    def above(frame: pd.DataFrame) -> pd.DataFrame:
        test = frame.index[frame["split"] == "test"][0]
        frame.loc[test, "auroc_low"] = str(float(frame.loc[test, "auroc"]) + 0.01)
        return frame

    problems = check_submission(_edited(exported, tmp_path, above)).problems
    assert any("auroc_low <= auroc <= auroc_high" in p for p in problems)

    def seeds(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(seed=np.where(frame["backbone"] == "s4", "0", frame["seed"]))

    assert any("one seed" in p for p in check_submission(_edited(exported, tmp_path, seeds)).problems)

    def text_in_numbers(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[3, "n"] = "many"
        return frame

    assert any(
        "'n' holds non-numbers" in p
        for p in check_submission(_edited(exported, tmp_path, text_in_numbers)).problems
    )
    missing = check_frame(pd.read_csv(exported).drop(columns=["cohort_hash"]))
    assert any("missing columns ['cohort_hash']" in p for p in missing.problems)


def test_submission_commands(
    runs: Path, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.csv"
    assert run_cli(["submission", "export", str(runs), "--out", str(out)]) == 0
    assert "3 runs" in capsys.readouterr().out
    assert run_cli(["submission", "check", str(out)]) == 0
    assert "valid submission" in capsys.readouterr().out
    bad = _edited(exported, tmp_path, lambda f: f.assign(patient_id="p1"))
    assert run_cli(["submission", "check", str(out), str(bad)]) == 2
    assert "'patient_id'" in capsys.readouterr().err
    assert run_cli(["submission", "export", str(runs), "--out", str(tmp_path / "x.txt")]) == 2

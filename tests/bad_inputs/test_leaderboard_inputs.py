"""Bad-input catalogue, leaderboard stage: what a leaderboard reads (run folders' results.parquet and
test_resamples.npz, predictions, submission files) and what a submission export writes.

Each case states its outcome: a refused input listed with its reason in refused.csv (the rest published,
the count in a note), a one-line ``ecglab: error: ...`` with exit 2 (an earlier leaderboard left as it was,
no file written), or accepted as documented.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from leaderboard_fixtures import edit_results, edit_test_rows, store_resample_file, task_labels, write_run

from ecglab.bench.cli import main
from ecglab.bench.resample_file import RESAMPLE_FILE, ResampleAurocs, read_resample_file, write_resample_file
from ecglab.bench.run_folder import is_run_folder, read_record
from ecglab.leaderboards.submission_export import export_submission


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two finished runs of one task (ecgfounder, s4), each with its stored per-resample AUROCs."""
    runs = tmp_path_factory.mktemp("bad_board") / "runs"
    data = task_labels()
    for backbone in ("ecgfounder", "s4"):
        store_resample_file(write_run(runs, backbone, data=data))
    return runs


@pytest.fixture
def runs(base: Path, tmp_path: Path) -> Path:
    """A fresh copy of ``base`` for one case to damage."""
    copy = tmp_path / "runs"
    shutil.copytree(base, copy)
    return copy


def run_of(runs: Path, backbone: str) -> Path:
    return next(
        p for p in sorted(runs.iterdir()) if is_run_folder(p) and read_record(p).config.backbone == backbone
    )


def board(inputs: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``ecglab leaderboard INPUTS --out OUT --no-published``: exit status, stdout, stderr."""
    status = main(["leaderboard", *map(str, inputs), "--out", str(out), "--no-published"])
    printed = capsys.readouterr()
    return status, printed.out, printed.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecglab: error: "), err
    assert "Traceback" not in err
    return lines[0]


def assert_refused_alone(out: Path, printed: str, victim: Path, file: str, reason: str) -> None:
    """The victim is the one refused input (``file`` and ``reason`` in its reason), the other run is
    published, and the refusal is counted."""
    refused = pd.read_csv(out / "refused.csv")
    assert list(refused["origin"]) == [str(victim.resolve())]
    written = refused["reason"].iloc[0]
    assert written.startswith(f"{file}: ") and reason in written, written
    assert list(pd.read_csv(out / "summary.csv")["entry"]) == ["ecgfounder/tiny"]
    assert "note: 1 input(s) refused, not published" in printed


def first_target(column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(test: pd.DataFrame) -> pd.DataFrame:
        test[column] = test[column].astype(object if isinstance(value, str) else "float64")
        test.loc[0, column] = value
        return test

    return change


def _low_above(test: pd.DataFrame) -> pd.DataFrame:
    test.loc[0, "auroc_low"] = test.loc[0, "auroc"] + 0.05
    return test


def _no_positives_but_auroc(test: pd.DataFrame) -> pd.DataFrame:
    test["n_pos"] = test["n_pos"].astype("float64")
    test.loc[0, "n_pos"] = 0
    return test


def _duplicate_target(test: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([test, test.iloc[[0]]], ignore_index=True)


def _other_target(test: pd.DataFrame) -> pd.DataFrame:
    test.loc[0, "target"] = "not_in_run_json"
    return test


def _delong_reversed(test: pd.DataFrame) -> pd.DataFrame:
    test.loc[0, ["delong_low", "delong_high"]] = [0.9, 0.6]
    return test


def _patients(n_patients: float, n_pos_patients: float, low: float = 0.5, high: float = 0.9):
    """The first test row with clustered columns (the others without: NaN, as a run folder before them);
    ``n_patients`` -1: one patient fewer than anchors (a patient holds two)."""

    def change(test: pd.DataFrame) -> pd.DataFrame:
        for column in ("n_patients", "n_pos_patients", "clustered_low", "clustered_high"):
            test[column] = np.nan
        auroc = float(test.loc[0, "auroc"])
        patients = test.loc[0, "n"] - 1 if n_patients < 0 else n_patients
        test.loc[0, ["n_patients", "n_pos_patients"]] = [patients, n_pos_patients]
        test.loc[0, ["clustered_low", "clustered_high"]] = [min(low, auroc), max(high, auroc)]
        return test

    return change


def _drop(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda results: results.drop(columns=[column])


def _as_text(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda results: results.assign(**{column: results[column].astype(str)})


RESULT_CASES = {
    "auroc-7.5": (first_target("auroc", 7.5), "auroc 7.5 outside [0, 1]"),
    "auroc-negative": (first_target("auroc", -0.2), "auroc -0.2 outside [0, 1]"),
    "auroc-nan-with-both-classes": (first_target("auroc", np.nan), "no AUROC though its test rows hold both"),
    "auroc-infinite": (first_target("auroc", np.inf), "auroc is infinite"),
    "auroc_high-above-1": (first_target("auroc_high", 1.3), "auroc_high 1.3 outside [0, 1]"),
    "low-above-auroc": (_low_above, "<= auroc_high 0.889766 does not hold"),
    "only-one-bound": (first_target("auroc_high", np.nan), "only one of auroc_low and auroc_high"),
    "n_pos-above-n": (first_target("n_pos", 10_000), "n_pos 10000 > n"),
    "auroc-with-one-class": (_no_positives_but_auroc, "an AUROC though its test rows do not hold both"),
    "n-fractional": (first_target("n", 120.5), "n is not a whole number"),
    "n-negative": (first_target("n", -3), "n -3 is negative"),
    "n_boot_used-beyond-n_boot": (first_target("n_boot_used", 5_000), "n_boot_used exceeds the 200"),
    "delong-reversed": (_delong_reversed, "delong_low > delong_high"),
    "delong-where-patients-repeat": (_patients(-1, 2), "a DeLong interval though patients hold several"),
    "n_pos_patients-above-n_patients": (_patients(5, 7), "n_pos_patients > n_patients"),
    "clustered-below-0": (_patients(5, 2, low=-0.1), "clustered_low -0.1 outside [0, 1]"),
    "duplicated-target": (_duplicate_target, "a target with several test rows"),
    "target-not-in-run-json": (_other_target, "other targets than run.json"),
}
# edits of the whole file (val rows too)
FILE_CASES = {
    "missing-column": (_drop("auroc_low"), "missing column(s) auroc_low"),
    "text-in-a-number-column": (_as_text("auroc"), "not numeric: auroc ("),
}


# ------------------------------------------------------------------------------------ results.parquet
@pytest.mark.parametrize("case", [*RESULT_CASES, *FILE_CASES])
def test_bad_results_are_refused_with_the_reason(
    case: str, runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = run_of(runs, "s4")
    if case in RESULT_CASES:
        change, reason = RESULT_CASES[case]
        edit_test_rows(victim, change)
    else:
        change, reason = FILE_CASES[case]
        edit_results(victim, change)
    status, printed, err = board([runs], tmp_path / "board", capsys)
    assert status == 0, err
    assert_refused_alone(tmp_path / "board", printed, victim, "results.parquet", reason)
    (written,) = pd.read_csv(tmp_path / "board" / "refused.csv")["reason"]
    assert err.strip().splitlines() == [f"refused {victim.resolve()}: {written}"]  # one line, no traceback


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: bytes(len(b)), id="zeroed"),
    ],
)
def test_an_unreadable_results_parquet_is_refused(
    damage: Callable[[bytes], bytes], runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = run_of(runs, "s4")
    path = victim / "results.parquet"
    path.write_bytes(damage(path.read_bytes()))
    status, printed, _ = board([runs], tmp_path / "board", capsys)
    assert status == 0
    assert_refused_alone(
        tmp_path / "board", printed, victim, "results.parquet", "unreadable, truncated or not"
    )


# ----------------------------------------------------------------------------------- test_resamples.npz
def _rewrite_stored(run_dir: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    stored = read_resample_file(run_dir)
    assert stored is not None
    write_resample_file(
        run_dir, ResampleAurocs(**{**stored.__dict__, "aurocs": change(stored.aurocs.copy())})
    )


def _set(
    value: float, rows: slice = slice(None), columns: slice = slice(None)
) -> Callable[[np.ndarray], np.ndarray]:
    def change(aurocs: np.ndarray) -> np.ndarray:
        aurocs[rows, columns] = value
        return aurocs

    return change


STORED_CASES = {
    "interval-contradicts-results": (_set(0.25), "auroc_low/auroc_high are not the interval of the stored"),
    "per-resample-auroc-7.5": (_set(7.5, slice(0, 1), slice(0, 1)), "per-resample AUROCs outside [0, 1]"),
    "fewer-usable-resamples": (
        _set(np.nan, slice(0, 1), slice(0, 20)),
        "usable resamples differ from n_boot_used",
    ),
}


@pytest.mark.parametrize("case", STORED_CASES, ids=list(STORED_CASES))
def test_stored_aurocs_inconsistent_with_the_results_refuse_the_run(
    case: str, runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, reason = STORED_CASES[case]
    victim = run_of(runs, "s4")
    _rewrite_stored(victim, change)
    status, printed, _ = board([runs], tmp_path / "board", capsys)
    assert status == 0
    assert_refused_alone(tmp_path / "board", printed, victim, RESAMPLE_FILE, reason)


def test_a_garbled_stored_file_is_ignored_and_recomputed_as_documented(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert board([runs], tmp_path / "before", capsys)[0] == 0
    (run_of(runs, "s4") / RESAMPLE_FILE).write_bytes(b"not a zip archive")
    status, printed, _ = board([runs], tmp_path / "after", capsys)
    assert status == 0 and "input(s) refused" not in printed
    for name in ("summary.csv", "targets.csv", "comparisons.csv", "refused.csv"):
        assert (tmp_path / "before" / name).read_text() == (tmp_path / "after" / name).read_text()


def test_garbled_predictions_publish_the_run_without_paired_intervals(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = run_of(runs, "s4")
    (victim / RESAMPLE_FILE).unlink()
    (victim / "predictions.parquet").write_bytes(b"PAR1 garbage")
    status, _, _ = board([runs], tmp_path / "board", capsys)
    assert status == 0
    summary = pd.read_csv(tmp_path / "board" / "summary.csv").set_index("entry")
    assert len(pd.read_csv(tmp_path / "board" / "refused.csv")) == 0
    assert np.isnan(summary.loc["s4/tiny", "macro_auroc_low"])
    assert "predictions.parquet unreadable" in summary.loc["s4/tiny", "macro_ci_note"]


# -------------------------------------------------------------------------------------------- all refused
def test_every_input_refused_is_one_line_and_exit_2_and_the_old_board_is_kept(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "board"
    assert board([runs], out, capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for backbone in ("ecgfounder", "s4"):
        edit_test_rows(run_of(runs, backbone), first_target("auroc", 7.5))
    status, _, err = board([runs], out, capsys)
    assert status == 2
    line = one_error_line(err)
    assert "every input was refused (2), nothing to publish" in line and "auroc 7.5 outside [0, 1]" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    "given",
    [pytest.param("missing", id="no-such-path"), pytest.param("text", id="a-text-file")],
)
def test_an_input_that_is_no_result_is_one_line_and_exit_2(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("nowhere" if given == "missing" else "notes.txt")
    if given == "text":
        path.write_text("AUROC 0.99\n")
    status, _, err = board([path], tmp_path / "board", capsys)
    assert status == 2
    assert str(path) in one_error_line(err)
    assert not (tmp_path / "board").exists()


# ----------------------------------------------------------------------------------------- submissions
@pytest.fixture(scope="module")
def submitted(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ecgfounder run exported as a submission file (the s4 run stays a run folder)."""
    folder = tmp_path_factory.mktemp("submission")
    path = folder / "ecgfounder.csv"
    export_submission([run_of(base, "ecgfounder")], path)
    return path


def _edit_csv(source: Path, target: Path, change: Callable[[pd.DataFrame], None]) -> Path:
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    change(frame)
    frame.to_csv(target, index=False)
    return target


def _test_row(frame: pd.DataFrame) -> int:
    return int(frame.index[frame["split"] == "test"][0])


def _auroc(frame: pd.DataFrame) -> None:
    frame.loc[_test_row(frame), "auroc"] = "7.5"


def _n_pos(frame: pd.DataFrame) -> None:
    frame.loc[_test_row(frame), "n_pos"] = "10000"


def _one_class(frame: pd.DataFrame) -> None:
    row = _test_row(frame)
    frame.loc[row, ["n_pos", "tp", "fn"]] = "0"


def _confusion(frame: pd.DataFrame) -> None:
    row = _test_row(frame)
    frame.loc[row, "tp"] = str(int(frame.loc[row, "tp"]) + 7)


def _inf(frame: pd.DataFrame) -> None:
    frame.loc[_test_row(frame), "auroc_high"] = "inf"


SUBMISSION_CASES = {
    "auroc-7.5": (_auroc, "auroc outside [0, 1] on line"),
    "n_pos-above-n": (_n_pos, "n_pos > n on line"),
    "auroc-with-one-class": (_one_class, "an AUROC though n_pos and n leave one class"),
    "confusion-counts-do-not-add-up": (_confusion, "tp + fp + tn + fn must be n"),
    "infinite-bound": (_inf, "'auroc_high' holds infinite values"),
}


@pytest.mark.parametrize("case", SUBMISSION_CASES, ids=list(SUBMISSION_CASES))
def test_a_bad_submission_is_refused_and_the_rest_published(
    case: str, base: Path, submitted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, reason = SUBMISSION_CASES[case]
    bad = _edit_csv(submitted, tmp_path / "bad.csv", change)
    status, printed, _ = board([run_of(base, "s4"), bad], tmp_path / "board", capsys)
    assert status == 0
    refused = pd.read_csv(tmp_path / "board" / "refused.csv")
    assert list(refused["origin"]) == [f"{bad} (submission)"]
    assert (
        refused["reason"].iloc[0].startswith("not a valid submission: ")
        and reason in refused["reason"].iloc[0]
    )
    assert list(pd.read_csv(tmp_path / "board" / "summary.csv")["entry"]) == ["s4/tiny"]
    assert "note: 1 input(s) refused" in printed
    assert main(["submission", "check", str(bad)]) == 2  # the check verb refuses it too


def test_a_truncated_submission_parquet_is_refused(
    base: Path, submitted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cut.parquet"
    pd.read_csv(submitted).to_parquet(path)
    path.write_bytes(path.read_bytes()[:300])
    status, _, _ = board([run_of(base, "s4"), path], tmp_path / "board", capsys)
    assert status == 0
    (reason,) = pd.read_csv(tmp_path / "board" / "refused.csv")["reason"]
    assert "cannot be read as a submission" in reason


def test_a_valid_submission_beside_run_folders_is_published(
    base: Path, submitted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, printed, _ = board([run_of(base, "s4"), submitted], tmp_path / "board", capsys)
    assert status == 0 and "input(s) refused" not in printed
    assert sorted(pd.read_csv(tmp_path / "board" / "summary.csv")["entry"]) == ["ecgfounder/tiny", "s4/tiny"]


# ------------------------------------------------------------------------------------ submission export
def test_export_skips_a_run_with_invalid_results(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = run_of(runs, "s4")
    edit_test_rows(victim, first_target("auroc", 7.5))
    out = tmp_path / "mine.csv"
    assert main(["submission", "export", str(runs), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    (line,) = printed.err.strip().splitlines()
    assert line.startswith(f"skipped {victim.resolve()}: not exported") and "auroc outside [0, 1]" in line
    assert set(pd.read_csv(out)["backbone"]) == {"ecgfounder"}


def test_export_of_only_invalid_runs_is_one_line_and_writes_nothing(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for backbone in ("ecgfounder", "s4"):
        edit_test_rows(run_of(runs, backbone), first_target("n_pos", 10_000))
    out = tmp_path / "mine.csv"
    line = _cli_line(["submission", "export", str(runs), "--out", str(out)], capsys)
    assert "no finished run with valid test results to export" in line and "n_pos > n" in line
    assert not out.exists()


def _cli_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    return one_error_line(capsys.readouterr().err)

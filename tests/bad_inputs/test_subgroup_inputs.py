"""Bad-input catalogue: subgroup columns a task names. A column neither the patients nor the visits table
has (or not the table named), a table other than those two, or a ``subgroups`` that is not a list of
distinct names is one line ``ecglab: error: ...`` (exit 2) when the run starts, before anything is trained or
written; a run with good subgroups writes ``subgroups.parquet``. (A column of too many values to be a
category is refused the same way: tests/bench/test_subgroup_results.py; the catalogue's store has too few
visits for one.)"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from ecglab.bench.cli import main

TASK = "bad_inputs_forecast"  # the workspaces' task (conftest), renamed per case: one registry per process


def _train(root: Path, runs: Path, task: str) -> list[str]:
    return [
        "train",
        "--task",
        task,
        "--task-spec",
        str(root / "tasks.yaml"),
        "--cohort",
        str(root / "store"),
        "--backbone",
        "tabular",
        "--runs-dir",
        str(runs),
        "--no-track",
        "--quiet",
        "--n-boot",
        "20",
    ]


def _with_subgroups(new_workspace: Callable[[str], Path], line: str, task: str) -> Path:
    """A workspace whose task (the last entry of its tasks.yaml), named ``task``, gets ``line``."""
    root = new_workspace("subgroups")
    spec = root / "tasks.yaml"
    text = spec.read_text().replace(f"name: {TASK}", f"name: {task}")
    spec.write_text(text + f"    {line}\n")
    return root


BAD_SUBGROUPS = [
    pytest.param(
        "subgroups: [sex, race]",
        ["no column 'race' in the patients or visits table", "patients: patient_id, sex", "visits: "],
        id="unknown-column",
    ),
    pytest.param(
        "subgroups: [visits.sex]", ["no column 'sex' in the visits table"], id="column-of-the-other-table"
    ),
    pytest.param(
        "subgroups: [labs.value]",
        ["'labs.value' is not patients.<column> or visits.<column>"],
        id="labs-table",
    ),
    pytest.param("subgroups: sex", ["subgroups must be a list of column names"], id="not-a-list"),
    pytest.param("subgroups: [sex, sex]", ["subgroups names a column twice"], id="twice"),
]


@pytest.mark.parametrize(("line", "words"), BAD_SUBGROUPS)
def test_bad_subgroups_are_one_line_before_anything_runs(
    new_workspace: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    line: str,
    words: list[str],
) -> None:
    task = f"subgroups_bad_{zlib.crc32(line.encode())}"
    root = _with_subgroups(new_workspace, line, task)
    runs = tmp_path / "runs"
    assert main(_train(root, runs, task)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecglab: error: ") and len(err.splitlines()) == 1, err
    assert task in err
    for word in words:
        assert word in err, (word, err)
    assert not runs.exists() or not any(runs.glob("*/run.json"))


def test_a_run_with_good_subgroups_writes_them(new_workspace: Callable[[str], Path], tmp_path: Path) -> None:
    root = _with_subgroups(new_workspace, "subgroups: [age_band, patients.sex]", "subgroups_good")
    runs = tmp_path / "runs"
    assert main(_train(root, runs, "subgroups_good")) == 0
    (run,) = [p for p in runs.iterdir() if (p / "run.json").is_file()]
    rows = pd.read_parquet(run / "subgroups.parquet")
    assert list(dict.fromkeys(rows["subgroup"])) == ["age_band", "patients.sex"]
    assert set(rows.loc[rows["subgroup"] == "patients.sex", "group"]) <= {"F", "M"}
    small = rows["n_pos_patients"].lt(10) | rows["n_neg_patients"].lt(10)
    assert rows.loc[small, "auroc"].isna().all() and rows.loc[small, "refused_reason"].str.len().gt(0).all()

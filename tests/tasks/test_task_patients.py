"""A built task stores every split patient's split (patients.parquet), including patients whose anchors all
dropped later, so that the training patients behind its thresholds are known from the task folder; a task
whose every target drops says which rule dropped them and which came closest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ecglab.cohort.store import Cohort, open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks import build as task_build
from ecglab.tasks.build import TASK_FORMAT_VERSION, TaskData, build_task, task_folder
from ecglab.tasks.errors import TaskError
from ecglab.tasks.spec import TaskSpec, spec_from_dict


def closest_spec(**panel: Any) -> TaskSpec:
    return spec_from_dict(
        {
            "name": "t_closest",
            "version": "1",
            "kind": "closest_estimation",
            "window_min": 10,
            "panel": {
                "kind": "cardiolab",
                "min_positives": 1,
                "min_negatives": 1,
                "min_positive_patients": 1,
                "min_negative_patients": 1,
                "min_lab_rows": 1,
                **panel,
            },
            "split": {"fractions": [0.5, 0.25, 0.25]},
            "eval": {"max_segments": None, "crops": 1},
            "input": {"leads": ["II"], "fs": 100, "seconds": 2.5},
        }
    )


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    config = SynthConfig(n_patients=40, seed=5, fs=100.0, bout_minutes=(0.5, 1.0))
    return open_cohort(
        build_synthetic_cohort(tmp_path_factory.mktemp("s") / "c", config, workers=1, progress=False)
    )


@pytest.fixture(scope="module")
def recorded(cohort: Cohort) -> tuple[TaskData, list[set[str] | None]]:
    """The task, and the training patients each resolve_panel call was given."""
    calls: list[set[str] | None] = []
    original = task_build.resolve_panel

    def spy(panel: Any, source: str, labs: pd.DataFrame, train_patients: Any) -> pd.DataFrame:
        calls.append(None if train_patients is None else set(train_patients))
        return original(panel, source, labs, train_patients)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(task_build, "resolve_panel", spy)
        data = build_task(closest_spec(), cohort)
    return data, calls


def test_every_split_patient_is_stored_even_without_an_anchor(recorded: tuple) -> None:
    data, _ = recorded
    patients = data.patients
    assert list(patients.columns) == ["patient_id", "split"] and not patients["patient_id"].duplicated().any()
    with_anchor = set(data.anchors["patient_id"])
    assert with_anchor < set(patients["patient_id"])  # some patients lost every anchor later
    split_of = dict(zip(patients["patient_id"], patients["split"], strict=True))
    assert all(
        split_of[p] == s for p, s in zip(data.anchors["patient_id"], data.anchors["split"], strict=True)
    )


def test_the_stored_training_patients_are_the_ones_that_set_the_thresholds(recorded: tuple) -> None:
    data, calls = recorded
    assert calls[0] is None and calls[-1] == data.train_patients  # provisional, then final thresholds
    assert data.train_patients - set(data.anchors["patient_id"])  # includes patients without an anchor


def test_the_patients_table_is_saved_and_loaded(recorded: tuple, cohort: Cohort, tmp_path: Path) -> None:
    data, _ = recorded
    folder = data.save(task_folder(tmp_path, data.spec, cohort))
    assert folder.name.endswith(f"-f{TASK_FORMAT_VERSION}") and (folder / "patients.parquet").is_file()
    loaded = TaskData.load(folder)
    pd.testing.assert_frame_equal(loaded.patients, data.patients)
    assert loaded.train_patients == data.train_patients


def test_a_task_folder_of_another_format_is_a_task_error(recorded: tuple, tmp_path: Path) -> None:
    data, _ = recorded
    folder = data.save(tmp_path / "task")
    meta = (
        (folder / "task.json")
        .read_text()
        .replace(f'"format_version": {TASK_FORMAT_VERSION}', '"format_version": 1')
    )
    (folder / "task.json").write_text(meta)
    with pytest.raises(
        TaskError, match=rf"task format 1, this ecglab reads {TASK_FORMAT_VERSION}; remove the folder"
    ):
        TaskData.load(folder)


def test_a_task_whose_every_target_drops_names_the_rule_and_the_closest(cohort: Cohort) -> None:
    with pytest.raises(TaskError) as caught:
        build_task(closest_spec(min_positives=500), cohort)
    message = str(caught.value)
    assert "\n" not in message
    assert "every target was dropped: " in message and "for fewer than 500 positives in val" in message
    closest = message.split("closest: ")[1].split(";")[0].split(", ")
    assert len(closest) == 3 and all("/500 positives in " in item for item in closest)
    assert "panel.min_positives" in message

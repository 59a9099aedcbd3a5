"""Subgroup results: age at the anchor and its bands, subgroup columns checked against the cohort, and the
rows of ``subgroups.parquet`` (counts by brute force, the clustered AUROC of the group's rows, refusals
below the patient minimum) on a small hand-made task."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecglab.bench import metrics
from ecglab.bench.engine.subgroup_results import (
    CI_METHOD,
    MIN_PATIENTS,
    SUBGROUP_FILE_COLUMNS,
    SUBGROUPS_FILE,
    subgroup_rows,
    write_subgroups,
)
from ecglab.tasks.build import TaskData
from ecglab.tasks.errors import TaskError
from ecglab.tasks.spec import TaskSpec
from ecglab.tasks.subgroups import (
    MISSING,
    age_at_anchor,
    age_bands,
    group_label,
    resolve_subgroups,
)

TARGETS = ["k_high", "na_low"]


def test_age_bands_have_stated_edges_and_missing_ages_their_own_group() -> None:
    ages = np.array([18.0, 39.9, 40.0, 64.9, 65.0, 91.0, np.nan])
    assert age_bands(ages).tolist() == ["<40", "<40", "40-64", "40-64", ">=65", ">=65", MISSING]


def test_age_at_anchor_prefers_the_visit_then_the_patient_then_mimic_anchor_age() -> None:
    anchors = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p2", "p3"],
            "visit_id": ["v1", "v9", "v2", None],
            "time": pd.to_datetime(["2150-01-01", "2150-01-01", "2150-06-01", "2153-03-01"]),
        }
    )
    visits = pd.DataFrame({"visit_id": ["v1", "v2"], "patient_id": ["p1", "p2"], "age": [50.0, np.nan]})
    patients = pd.DataFrame({"patient_id": ["p1", "p2", "p3"], "sex": ["F", "M", "F"], "age": [49, 70, 30]})
    # v9 is no visit of the table and v2 has no age: the patient's age fills them
    assert age_at_anchor(anchors, patients, visits).tolist() == [50.0, 49.0, 70.0, 30.0]
    mimic = pd.DataFrame(
        {
            "patient_id": ["p1", "p2", "p3"],
            "sex": ["F", "M", "F"],
            "anchor_age": pd.array([60, 38, None], dtype="Int64"),
            "anchor_year": pd.array([2148, 2150, 2150], dtype="Int64"),
        }
    )
    no_ages = visits.drop(columns="age")
    age = age_at_anchor(anchors, mimic, no_ages)
    assert age[:3].tolist() == [62.0, 62.0, 38.0] and np.isnan(age[3])  # anchor_age + years since then


def test_group_labels_write_whole_numbers_plainly_and_missing_values_as_one_group() -> None:
    assert [group_label(v) for v in (1.0, 2.5, 3, "F", "", " ", None, np.nan, pd.NA)] == [
        "1",
        "2.5",
        "3",
        "F",
        *[MISSING] * 5,
    ]


def _cohort(n_patients: int = 40) -> SimpleNamespace:
    ids = [f"p{i:03d}" for i in range(n_patients)]
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "sex": ["F" if i % 2 else "M" for i in range(n_patients)],
            "age": [30.0 if i < 6 else 70.0 for i in range(n_patients)],
            "mrn_like": [f"m{i}" for i in range(n_patients)],
        }
    )
    visits = pd.DataFrame(
        {
            "visit_id": [f"{p}-v" for p in ids],
            "patient_id": ids,
            "arrival_time": pd.Timestamp("2150-01-01"),
            "ed_dispo": ["Admit" if i % 4 == 0 else "" for i in range(n_patients)],
        }
    )
    return SimpleNamespace(patients=patients, visits=visits)


def _spec(subgroups: tuple[str, ...] = ("sex", "age_band")) -> TaskSpec:
    return TaskSpec(name="subgroup_task", version="1", kind="forecast", horizon_min=60, subgroups=subgroups)


def test_subgroup_columns_are_found_in_either_table_and_unknown_ones_name_the_columns() -> None:
    cohort = _cohort()
    found = resolve_subgroups(_spec(("sex", "age_band", "ed_dispo", "patients.sex")), cohort)
    assert [(s.table, s.column) for s in found] == [
        ("patients", "sex"),
        ("", "age"),
        ("visits", "ed_dispo"),
        ("patients", "sex"),
    ]
    with pytest.raises(TaskError, match=r"no column 'race' in the patients or visits table.*patients: "):
        resolve_subgroups(_spec(("race",)), cohort)
    with pytest.raises(TaskError, match="no column 'sex' in the visits table"):
        resolve_subgroups(_spec(("visits.sex",)), cohort)
    with pytest.raises(TaskError, match=r"patients\.mrn_like has 40 distinct values"):
        resolve_subgroups(_spec(("mrn_like",)), cohort)


def _task(cohort: SimpleNamespace, spec: TaskSpec) -> tuple[TaskData, np.ndarray]:
    """Two anchors per patient, every patient in test but p000-p003 (val); scores that separate
    k_high well and na_low not at all."""
    rng = np.random.default_rng(0)
    ids = cohort.patients["patient_id"].tolist()
    patient = np.repeat(ids, 2)
    anchors = pd.DataFrame(
        {
            "anchor_id": np.arange(len(patient)),
            "patient_id": patient,
            "visit_id": [f"{p}-v" for p in patient],
            "time": pd.Timestamp("2150-01-01"),
            "split": ["val" if p < "p004" else "test" for p in patient],
        }
    )
    labels = np.stack([rng.random(len(patient)) < 0.5, rng.random(len(patient)) < 0.5], axis=1).astype(
        np.int8
    )
    labels[rng.random(labels.shape) < 0.1] = -1
    scores = np.where(labels == 1, 0.7, 0.3) + rng.normal(0, 0.2, labels.shape)
    scores[:, 1] = rng.random(len(patient))
    targets = pd.DataFrame({"target": TARGETS, "kept": True})
    task = TaskData(spec, "c", "h", anchors, targets, labels, pd.DataFrame())
    return task, scores


def _brute_force(task: TaskData, scores: np.ndarray, j: int, member: np.ndarray) -> dict:
    test = (task.anchors["split"] == "test").to_numpy() & member & (task.labels[:, j] != -1)
    y, s = task.labels[test, j], scores[test, j]
    pid = task.anchors["patient_id"].to_numpy()[test]
    return {"n": len(y), "pos": set(pid[y == 1]), "neg": set(pid[y == 0]), "y": y, "s": s, "pid": pid}


def test_rows_count_patients_and_give_the_clustered_auroc_of_the_groups_rows() -> None:
    cohort = _cohort()
    task, scores = _task(cohort, _spec(("sex", "age_band")))
    rows = subgroup_rows(task, cohort, scores)
    assert list(rows.columns) == SUBGROUP_FILE_COLUMNS
    # sex: F and M in each target; age_band: <40 (p000-p005: only p004, p005 in test) and >=65
    assert rows[["subgroup", "group"]].drop_duplicates().values.tolist() == [
        ["sex", "F"],
        ["sex", "M"],
        ["age_band", "<40"],
        ["age_band", ">=65"],
    ]
    sex = task.anchors["patient_id"].map(cohort.patients.set_index("patient_id")["sex"]).to_numpy()
    for j, target in enumerate(TARGETS):
        for group in ("F", "M"):
            (row,) = rows[(rows["target"] == target) & (rows["group"] == group)].to_dict("records")
            bf = _brute_force(task, scores, j, sex == group)
            assert (row["n"], row["n_pos"]) == (bf["n"], int(bf["y"].sum()))
            assert (row["n_pos_patients"], row["n_neg_patients"]) == (len(bf["pos"]), len(bf["neg"]))
            assert row["n_patients"] == len(set(bf["pid"]))
            assert min(len(bf["pos"]), len(bf["neg"])) >= MIN_PATIENTS  # 18 patients each: all shown
            ci = metrics.auroc_ci(bf["y"], bf["s"], method="clustered", groups=bf["pid"])
            assert row["auroc"] == pytest.approx(metrics.auroc(bf["y"], bf["s"]))
            assert (row["auroc_low"], row["auroc_high"]) == pytest.approx((ci.low, ci.high))
            assert row["ci_method"] == CI_METHOD and row["refused_reason"] == ""
    k_high = rows[(rows["target"] == "k_high") & (rows["subgroup"] == "sex")]
    assert (k_high["auroc_low"] > 0.7).all()  # the planted signal, within each sex


def test_groups_below_the_patient_minimum_are_refused_with_their_counts() -> None:
    cohort = _cohort()
    task, scores = _task(cohort, _spec(("age_band",)))
    young = subgroup_rows(task, cohort, scores).query("group == '<40'")
    assert len(young) == 2  # p004 and p005, one row per target
    for row in young.to_dict("records"):
        assert np.isnan(row["auroc"]) and np.isnan(row["auroc_low"]) and row["ci_method"] == ""
        assert row["n_patients"] == 2
        assert "fewer than 10" in row["refused_reason"]
        assert f"{row['n_pos_patients']} positive patients" in row["refused_reason"]


def test_a_subgroup_without_any_value_is_one_refused_row_per_target() -> None:
    cohort = _cohort()
    cohort.patients = cohort.patients.drop(columns="age")
    task, scores = _task(cohort, _spec(("age_band", "visits.ed_dispo")))
    rows = subgroup_rows(task, cohort, scores)
    ages = rows[rows["subgroup"] == "age_band"]
    assert ages["group"].tolist() == ["", ""] and ages["auroc"].isna().all()
    assert ages["refused_reason"].str.startswith("no age in the cohort").all()
    dispo = rows[rows["subgroup"] == "visits.ed_dispo"]
    assert dispo["group"].tolist() == ["Admit", MISSING] * 2  # empty text is the missing group, listed last


def test_write_subgroups_writes_the_rows_to_the_run_folder(tmp_path: Path) -> None:
    cohort = _cohort()
    task, scores = _task(cohort, _spec())
    write_subgroups(task, cohort, scores, None, tmp_path)  # type: ignore[arg-type]
    written = pd.read_parquet(tmp_path / SUBGROUPS_FILE)
    pd.testing.assert_frame_equal(written, subgroup_rows(task, cohort, scores))
    assert [p.name for p in tmp_path.iterdir()] == [SUBGROUPS_FILE]  # no temporary file left


def test_subgroups_are_evaluation_only_and_not_in_the_digests() -> None:
    default, more = _spec(), _spec(("sex", "age_band", "visits.ed_dispo"))
    assert default.digest() == more.digest() and default.training_digest() == more.training_digest()
    assert "subgroups" not in default.to_dict()  # specs written before subgroups keep their content
    assert more.to_dict()["subgroups"] == ["sex", "age_band", "visits.ed_dispo"]

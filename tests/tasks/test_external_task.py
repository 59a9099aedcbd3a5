"""The external task: a task trained on one store, tested on another with other lab codes and a shifted
population: the training side's thresholds (converted), labels recomputed from the external store's rows,
every anchor in test, values in the training unit, tabular inputs imputed with the training medians, cached.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from external_stores import external_spec, external_store, shared_folder, source_store
from task_fixtures import bf_closest_labels

from ecglab.cohort.store import open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.build import TaskData, build_planned, build_task
from ecglab.tasks.build_plan import BuildPlan
from ecglab.tasks.errors import TaskError
from ecglab.tasks.external import build_external_task, external_folder, harmonised_targets, source_medians
from ecglab.tasks.panels import TARGET_COLUMNS

POTASSIUM = ("potassium_low", "potassium_high")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = shared_folder(tmp_path_factory)
    return source_store(root), external_store(root)


@pytest.fixture(scope="module")
def source(stores: tuple[Path, Path]) -> TaskData:
    return build_task(external_spec(tabular=True), stores[0])


@pytest.fixture(scope="module")
def external(source: TaskData, stores: tuple[Path, Path]) -> TaskData:
    return build_external_task(source, stores[1])


def test_the_shifted_mimic_coded_store_keeps_the_potassium_targets_at_the_source_thresholds(
    source: TaskData, external: TaskData, stores: tuple[Path, Path]
) -> None:
    cohort = open_cohort(stores[1])
    assert cohort.lab_coding == "mimic-iv"
    assert set(POTASSIUM) <= set(external.kept_targets)
    assert [t for t in source.kept_targets if t in external.kept_targets] == external.kept_targets
    assert external.targets["target"].tolist() == source.kept_targets  # one row per source target
    rows = external.targets.set_index("target")
    trained = source.targets.set_index("target")
    for target in POTASSIUM:
        assert rows.loc[target, "lab_codes"] == ("50971",) and rows.loc[target, "unit"] == "mEq/L"
        assert rows.loc[target, "factor"] == 1.0
        assert rows.loc[target, "threshold"] == rows.loc[target, "source_threshold"]
        assert rows.loc[target, "source_threshold"] == trained.loc[target, "threshold"]
    assert (external.anchors["split"] == "test").all()
    assert external.cohort_hash == cohort.content_hash
    notes = external.notes["external"]
    assert notes["source_cohort_hash"] == source.cohort_hash and notes["scope"] == "all"
    assert notes["unit_factors"]["potassium_high"] == 1.0 and notes["unmatched"] == {}


def test_labels_are_the_external_values_against_the_source_thresholds(
    source: TaskData, external: TaskData, stores: tuple[Path, Path]
) -> None:
    cohort = open_cohort(stores[1])
    segments = cohort.segments.set_index("segment_id").loc[external.anchors["anchor_id"]].reset_index()
    trained = source.targets.set_index("target")
    targets = pd.DataFrame(
        {
            "lab_codes": [("50971",)] * 2,
            "direction": [trained.loc[t, "direction"] for t in POTASSIUM],
            "threshold": [trained.loc[t, "threshold"] for t in POTASSIUM],
        }
    )
    expected = bf_closest_labels(cohort.labs, segments, targets, 15.0)
    columns = [external.kept_targets.index(t) for t in POTASSIUM]
    np.testing.assert_array_equal(external.labels[:, columns], expected)
    assert (expected == 1).sum() > 10  # the shifted population has hyperkalaemia to find
    values = external.values[:, columns]
    high = np.isfinite(values[:, 1])
    np.testing.assert_array_equal(
        external.labels[high, columns[1]], values[high, 1] > targets.loc[1, "threshold"]
    )


def test_scope_test_keeps_only_the_external_stores_own_test_patients(
    source: TaskData, external: TaskData, stores: tuple[Path, Path]
) -> None:
    tested = build_external_task(source, stores[1], scope="test")
    own = build_task(source.spec, stores[1])
    own_test = set(own.patients.loc[own.patients["split"] == "test", "patient_id"])
    patients = set(tested.anchors["patient_id"])
    assert patients and patients <= own_test
    assert patients < set(external.anchors["patient_id"])
    assert (tested.anchors["split"] == "test").all()
    assert set(tested.anchors["anchor_id"]) <= set(external.anchors["anchor_id"])
    assert tested.notes["external"]["scope"] == "test"


def test_a_factor_converts_thresholds_for_labelling_and_values_back_to_the_training_unit(
    source: TaskData, external: TaskData, stores: tuple[Path, Path], tmp_path: Path
) -> None:
    lab_map = tmp_path / "map.csv"  # pretend the external store's potassium unit is 2 % smaller
    lab_map.write_text("source_lab,external_lab,factor\nPOTASSIUM,50971,1.02\n")
    doubled = build_external_task(source, stores[1], lab_map=lab_map)
    rows = doubled.targets.set_index("target")
    assert rows.loc["potassium_high", "threshold"] == 1.02 * rows.loc["potassium_high", "source_threshold"]
    assert doubled.notes["external"]["lab_map_digest"] is not None
    k = doubled.kept_targets.index("potassium_high")
    values = pd.Series(doubled.values[:, k], index=doubled.anchors["anchor_id"])
    plain = pd.Series(
        external.values[:, external.kept_targets.index("potassium_high")], external.anchors["anchor_id"]
    )
    both = values.index.intersection(plain.index)
    np.testing.assert_allclose(values[both].to_numpy(), plain[both].to_numpy() / 1.02)


def test_tabular_inputs_are_imputed_with_the_source_training_medians(
    source: TaskData, external: TaskData, stores: tuple[Path, Path]
) -> None:
    assert external.tabular is not None and list(external.tabular.columns) == list(source.tabular.columns)
    assert (external.tabular["anchor_id"].to_numpy() == external.anchors["anchor_id"].to_numpy()).all()
    medians = source.notes["tabular_train_medians"]
    missing = external.tabular["triage_hr_missing"] == 1
    assert missing.any()
    assert (external.tabular.loc[missing, "triage_hr"] == medians["triage_hr"]).all()
    observed = external.tabular.loc[~missing, "triage_hr"]
    assert observed.median() != medians["triage_hr"]  # the external store's own median is not used
    without = replace(source, notes={k: v for k, v in source.notes.items() if k != "tabular_train_medians"})
    assert source_medians(without) == pytest.approx(medians)


def test_a_cached_external_task_loads_the_same_and_keys_by_scope_and_lab_map(
    source: TaskData, stores: tuple[Path, Path], tmp_path: Path
) -> None:
    built = build_external_task(source, stores[1], cache_dir=tmp_path)
    folder = external_folder(tmp_path, source, open_cohort(stores[1]), "all", None)
    assert (folder / "task.json").is_file()
    loaded = build_external_task(source, stores[1], cache_dir=tmp_path)
    pd.testing.assert_frame_equal(loaded.anchors, built.anchors)
    pd.testing.assert_frame_equal(loaded.targets, built.targets)
    pd.testing.assert_frame_equal(loaded.tabular, built.tabular)
    np.testing.assert_array_equal(loaded.labels, built.labels)
    np.testing.assert_array_equal(loaded.values, built.values)
    assert loaded.notes == built.notes and loaded.kept_targets == built.kept_targets
    lab_map = tmp_path / "map.csv"
    lab_map.write_text("source_lab,external_lab,factor\nSODIUM,,\n")
    mapped = build_external_task(source, stores[1], lab_map=lab_map, cache_dir=tmp_path)
    assert "sodium_low" not in mapped.kept_targets and "sodium_low" in built.kept_targets
    assert len({p.name for p in (tmp_path / source.spec.name).iterdir()}) == 2


def test_cardiolab_thresholds_are_the_training_ones_mapped_through_the_catalogue(
    stores: tuple[Path, Path],
) -> None:
    spec = external_spec(
        name="external_cardiolab", panel=replace(external_spec().panel, kind="cardiolab", min_lab_rows=20)
    )
    source = build_task(spec, stores[0])
    external = build_external_task(source, stores[1])
    rows = external.targets.set_index("target")
    trained = source.targets.set_index("target")
    assert rows.loc["POTASSIUM_high", "lab_codes"] == ("50971",)
    for target in external.kept_targets:
        assert rows.loc[target, "threshold"] == trained.loc[target, "threshold"]


def test_errors_are_one_line(source: TaskData, stores: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="unknown scope 'val'"):
        build_external_task(source, stores[1], scope="val")
    lead_i = build_synthetic_cohort(
        tmp_path / "lead_i",
        SynthConfig(n_patients=2, seed=1, fs=100.0, leads=("I",), bout_minutes=(0.2, 0.3)),
        workers=1,
        progress=False,
    )
    with pytest.raises(TaskError, match=r"needs leads \['II'\]"):
        build_external_task(source, lead_i)
    lab_map = tmp_path / "none.csv"
    lab_map.write_text("source_lab,external_lab\n" + "".join(f"{t},\n" for t in source.kept_targets))
    with pytest.raises(TaskError, match=r"no target matched .*potassium_high: left out by the lab map"):
        build_external_task(source, stores[1], lab_map=lab_map)
    cohort = open_cohort(stores[1])
    targets = harmonised_targets(source, cohort)[[*TARGET_COLUMNS, "drop_reason"]]
    nobody = BuildPlan(targets=targets, scope="test", test_patients=frozenset())
    with pytest.raises(TaskError, match="no test patients"):
        build_planned(source.spec, cohort, nobody)

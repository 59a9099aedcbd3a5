"""An end-to-end build of an AnyECG-Lab task (ecglab.tasks.build) on a small synthetic cohort: labels,
anchors and inputs equal the brute force (tests/task_fixtures.py), splits are by patient, evaluation inputs
are capped and seeded, and a saved task loads back equal."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from task_fixtures import bf_blood_test_labels, bf_segments_in_windows, py_times

from ecglab.cohort.store import Cohort, open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.build import TaskData, build_task
from ecglab.tasks.catalogue import anyecg_lab_panel
from ecglab.tasks.registry import get_task

# ====================================================================== end to end: build_task
E2E_CONFIG = SynthConfig(n_patients=60, seed=3, fs=100.0, bout_minutes=(1.0, 4.0))
EVAL_WINDOW, TRAIN_WINDOW, MAX_SEGMENTS = 15, 60, 5


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    path = build_synthetic_cohort(
        tmp_path_factory.mktemp("synth") / "c", E2E_CONFIG, workers=1, progress=False
    )
    return open_cohort(path)


@pytest.fixture(scope="module")
def built(synth: Cohort) -> TaskData:
    base = get_task("anyecg_lab_est_60min")
    assert base.train_window == TRAIN_WINDOW
    spec = replace(
        base,
        name="anyecg_lab_est_15min_small",
        window_min=EVAL_WINDOW,
        panel=replace(
            base.panel, min_positives=2, min_negatives=2, min_positive_patients=1, min_negative_patients=1
        ),
        eval=replace(base.eval, max_segments=MAX_SEGMENTS),
        input=replace(base.input, fs=E2E_CONFIG.fs),
    )
    return build_task(spec, synth)


def _anchor_key(anchors: pd.DataFrame) -> list[tuple[str, str | None, datetime]]:
    visits = [None if pd.isna(v) else v for v in anchors["visit_id"].astype(object)]
    return list(zip(anchors["patient_id"].tolist(), visits, py_times(anchors["time"]), strict=True))


def test_build_labels_and_anchors_equal_brute_force(built: TaskData, synth: Cohort) -> None:
    kept = built.targets[built.targets["kept"]].reset_index(drop=True)
    assert len(kept) > 0 and built.kept_targets == kept["target"].tolist()
    panel_codes = {t.mcmed_component for t in anyecg_lab_panel()} & set(synth.labs["lab"])
    labs = synth.labs[synth.labs["lab"].isin(panel_codes)].reset_index(drop=True)
    expected = bf_blood_test_labels(labs, kept)

    # labels of every kept anchor, through label_table()
    table = built.label_table()
    key_of = dict(zip(built.anchors["anchor_id"].tolist(), _anchor_key(built.anchors), strict=True))
    want = [
        expected[key_of[a]][kept["target"].tolist().index(t)]
        for a, t in zip(table["anchor_id"], table["target"], strict=True)
    ]
    assert table["label"].tolist() == want
    assert len(table) == len(built.anchors) * len(kept)

    # which blood tests are anchors: a segment of the patient within the training window (train patients) or
    # the evaluation window (val/test patients; also for patients without any anchor, whose tests would be
    # kept in any split if they met it), and at least one observed kept label
    starts = defaultdict(list)
    for patient, start in zip(
        synth.segments["patient_id"], py_times(synth.segments["start_time"]), strict=True
    ):
        starts[patient].append(start)
    split_of = dict(zip(built.anchors["patient_id"], built.anchors["split"], strict=True))
    should = set()
    for (patient, visit, time), row in expected.items():
        window = timedelta(minutes=TRAIN_WINDOW if split_of.get(patient) == "train" else EVAL_WINDOW)
        if any(abs(start - time) <= window for start in starts[patient]) and any(x != -1 for x in row):
            should.add((patient, visit, time))
    assert set(_anchor_key(built.anchors)) == should


def test_build_splits_are_by_patient(built: TaskData) -> None:
    per_patient = built.anchors.groupby("patient_id")["split"].nunique()
    assert (per_patient == 1).all()
    assert set(built.anchors["split"]) == {"train", "val", "test"}
    kept = built.targets[built.targets["kept"]]
    for split in ("val", "test"):
        rows = (built.anchors["split"] == split).to_numpy()
        assert ((built.labels[rows] == 1).sum(axis=0) >= 2).all()
        assert ((built.labels[rows] == 0).sum(axis=0) >= 2).all()
        np.testing.assert_array_equal(kept[f"positives_{split}"], (built.labels[rows] == 1).sum(axis=0))


def test_build_inputs_are_every_segment_within_each_splits_window(built: TaskData, synth: Cohort) -> None:
    anchors = built.anchors
    expected = set()
    for split, window in (("train", TRAIN_WINDOW), ("val", EVAL_WINDOW), ("test", EVAL_WINDOW)):
        mine = anchors[anchors["split"] == split]
        expected |= bf_segments_in_windows(synth.segments, mine, window)
    got = set(zip(built.inputs["anchor_id"], built.inputs["segment_id"], built.inputs["dt_s"], strict=True))
    assert len(got) == len(built.inputs)
    assert got == expected
    split = built.inputs["anchor_id"].map(dict(zip(anchors["anchor_id"], anchors["split"], strict=True)))
    dt = built.inputs["dt_s"].abs()
    assert (dt[split != "train"] <= EVAL_WINDOW * 60).all()
    assert (dt[split == "train"] <= TRAIN_WINDOW * 60).all()
    assert (dt[split == "train"] > EVAL_WINDOW * 60).any()  # the two windows differ in this cohort
    assert set(built.inputs["anchor_id"]) == set(anchors["anchor_id"])


def test_build_eval_inputs_are_capped_seeded_and_reproducible(built: TaskData) -> None:
    chosen = built.eval_inputs("test")
    pd.testing.assert_frame_equal(chosen, built.eval_inputs("test"))
    test_ids = set(built.anchors.loc[built.anchors["split"] == "test", "anchor_id"])
    assert set(chosen["anchor_id"]) == test_ids
    available = built.inputs[built.inputs["anchor_id"].isin(test_ids)].groupby("anchor_id").size()
    counts = chosen.groupby("anchor_id").size()
    pd.testing.assert_series_equal(counts, available.clip(upper=MAX_SEGMENTS), check_names=False)
    assert (available > MAX_SEGMENTS).any()  # the cap bites
    assert not chosen.duplicated(["anchor_id", "segment_id"]).any()
    merged = chosen.merge(built.inputs, on=["anchor_id", "segment_id"], suffixes=("", "_all"))
    assert len(merged) == len(chosen) and (merged["dt_s"] == merged["dt_s_all"]).all()
    reseeded = replace(built, spec=replace(built.spec, eval=replace(built.spec.eval, seed=1)))
    assert not reseeded.eval_inputs("test").equals(chosen)


def test_build_save_load_round_trip(built: TaskData, tmp_path: Path) -> None:
    loaded = TaskData.load(built.save(tmp_path / "task"))
    assert loaded.spec == built.spec
    assert (loaded.cohort_name, loaded.cohort_hash) == (built.cohort_name, built.cohort_hash)
    pd.testing.assert_frame_equal(loaded.anchors, built.anchors)
    pd.testing.assert_frame_equal(loaded.targets, built.targets)
    pd.testing.assert_frame_equal(loaded.inputs, built.inputs)
    np.testing.assert_array_equal(loaded.labels, built.labels)
    assert loaded.labels.dtype == built.labels.dtype
    assert loaded.tabular is None and built.tabular is None
    assert loaded.report.to_dict() == built.report.to_dict()
    assert loaded.notes == built.notes
    pd.testing.assert_frame_equal(loaded.label_table(), built.label_table())
    pd.testing.assert_frame_equal(loaded.eval_inputs("test"), built.eval_inputs("test"))


def test_a_second_writer_keeps_the_published_task(built: TaskData, tmp_path: Path) -> None:
    folder = built.save(tmp_path / "task")
    first = (folder / "task.json").stat().st_ino
    built.save(folder)  # another worker finishing the same build later
    assert (folder / "task.json").stat().st_ino == first  # not removed under its readers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task"]


def test_an_incomplete_leftover_folder_is_replaced(built: TaskData, tmp_path: Path) -> None:
    leftover = tmp_path / "task"
    leftover.mkdir()
    (leftover / "anchors.parquet").write_bytes(b"torn")
    TaskData.load(built.save(leftover))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task"]

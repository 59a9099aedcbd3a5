"""Patient splits: seeded, stratified so that rare targets have positives in every split, sized by the
fractions; temporal splits ordered by their key; and, on a built task, no patient on two sides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.build import TaskData, build_task
from ecglab.tasks.registry import get_task
from ecglab.tasks.spec import TaskSpec
from ecglab.tasks.splits import SPLITS, stratified_patient_split, temporal_patient_split

FRACTIONS = (0.7, 0.1, 0.2)
N_PATIENTS = 1000
POSITIVE_PATIENTS = (400, 100, 30, 12)  # a common target to a rare one


def cohort_positives(seed: int = 0) -> np.ndarray:
    """Patients x targets: target j has exactly POSITIVE_PATIENTS[j] positive patients, at random."""
    rng = np.random.default_rng(seed)
    positives = np.zeros((N_PATIENTS, len(POSITIVE_PATIENTS)), dtype=bool)
    for j, count in enumerate(POSITIVE_PATIENTS):
        positives[rng.choice(N_PATIENTS, count, replace=False), j] = True
    return positives


def split_of(seed: int, positives: np.ndarray | None = None) -> np.ndarray:
    positives = cohort_positives() if positives is None else positives
    return stratified_patient_split(np.arange(len(positives)), positives, FRACTIONS, seed)


# ------------------------------------------------------------------------------------ stratified
def test_stratified_split_names_only_train_val_test() -> None:
    split = split_of(0)
    assert len(split) == N_PATIENTS
    assert set(split) == set(SPLITS)


def test_stratified_split_is_deterministic_for_a_seed_and_changes_with_it() -> None:
    np.testing.assert_array_equal(split_of(0), split_of(0))
    assert (split_of(0) != split_of(1)).sum() > N_PATIENTS // 10


@pytest.mark.parametrize("seed", range(5))
def test_every_target_has_positive_patients_in_every_split_in_proportion(seed: int) -> None:
    positives = cohort_positives(seed)
    split = split_of(seed, positives)
    for j, total in enumerate(POSITIVE_PATIENTS):
        per_split = {s: int(positives[split == s, j].sum()) for s in SPLITS}
        for s, fraction in zip(SPLITS, FRACTIONS, strict=True):
            assert per_split[s] >= max(1, int(fraction * total) - 1), (total, per_split)
    rare = positives[:, POSITIVE_PATIENTS.index(30)]
    assert rare[split == "val"].sum() >= 2 and rare[split == "test"].sum() >= 5


@pytest.mark.parametrize("seed", range(5))
def test_stratified_split_sizes_are_close_to_the_fractions(seed: int) -> None:
    split = split_of(seed, cohort_positives(seed))
    for s, fraction in zip(SPLITS, FRACTIONS, strict=True):
        assert abs((split == s).sum() - fraction * N_PATIENTS) <= 0.01 * N_PATIENTS


def test_patients_without_positives_are_split_by_the_fractions_too() -> None:
    split = stratified_patient_split(np.arange(100), np.zeros((100, 3), dtype=bool), FRACTIONS, seed=0)
    assert [int((split == s).sum()) for s in SPLITS] == [70, 10, 20]


# ------------------------------------------------------------------------------------ temporal
KEYS = pd.Series(["2008 - 2010"] * 8 + ["2011 - 2013"] * 6 + ["2014 - 2016"] * 6)


def test_temporal_split_orders_patients_by_their_key() -> None:
    keys = KEYS.sample(frac=1.0, random_state=0).reset_index(drop=True)  # order of the table is irrelevant
    split = pd.Series(temporal_patient_split(keys, FRACTIONS, seed=0))
    assert split.value_counts().to_dict() == {"train": 14, "val": 2, "test": 4}
    assert keys[split == "train"].max() <= keys[split == "val"].min()
    assert keys[split == "val"].max() <= keys[split == "test"].min()
    assert set(keys[split == "train"]) == {"2008 - 2010", "2011 - 2013"}


def test_temporal_split_shuffles_ties_by_seed() -> None:
    # at 0.6/0.2/0.2, train is the 8 earliest and 4 of the 6 patients tied at 2011-2013: which 4 is seeded
    def tied_in_train(seed: int) -> tuple[int, ...]:
        split = temporal_patient_split(KEYS, (0.6, 0.2, 0.2), seed)
        return tuple(np.flatnonzero((KEYS == "2011 - 2013").to_numpy() & (split == "train")))

    chosen = [tied_in_train(seed) for seed in range(10)]
    assert all(len(c) == 4 for c in chosen)
    assert tied_in_train(0) == chosen[0]
    assert len(set(chosen)) > 1


# ------------------------------------------------------------------------------------ on a built task
@pytest.fixture(scope="module")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SynthConfig(n_patients=40, bout_minutes=(0.5, 1.0))
    return build_synthetic_cohort(
        tmp_path_factory.mktemp("synth") / "tiny", config, workers=1, progress=False
    )


def lenient(name: str, **changes: object) -> TaskSpec:
    """A built-in task that keeps every target with one positive and one negative (a tiny cohort)."""
    spec = get_task(name)
    return replace(
        spec,
        panel=replace(
            spec.panel, min_positives=1, min_negatives=1, min_positive_patients=1, min_negative_patients=1
        ),
        **changes,
    )


def test_built_task_puts_no_patient_in_two_splits(tiny_cohort: Path) -> None:
    task = build_task(lenient("anyecg_lab_est_60min"), tiny_cohort)
    anchors = task.anchors
    assert set(anchors["split"]) == set(SPLITS)
    assert anchors.groupby("patient_id")["split"].nunique().max() == 1
    sides = [set(anchors.loc[anchors["split"] == s, "patient_id"]) for s in SPLITS]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_built_task_gives_the_same_split_for_the_same_seed(tiny_cohort: Path) -> None:
    spec = lenient("anyecg_lab_est_60min")
    first, second = build_task(spec, tiny_cohort), build_task(spec, tiny_cohort)
    pd.testing.assert_frame_equal(first.anchors, second.anchors)
    other = build_task(replace(spec, split=replace(spec.split, seed=1)), tiny_cohort)
    assert patient_splits(other) != patient_splits(first)


def patient_splits(task: TaskData) -> dict[str, str]:
    return dict(zip(task.anchors["patient_id"], task.anchors["split"], strict=True))

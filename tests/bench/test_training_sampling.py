"""Training as AnyECG-Lab trained: ``train.sampling: pair`` visits every (blood test, segment) pair of the
training split once per epoch (across ranks too), and ``train.val_segments`` scores a seeded subset of the
validation segments between epochs while the final scoring uses all of them; the default (``anchor``, all
segments) draws exactly what it always drew."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from ecglab.bench.config import RunConfig
from ecglab.bench.data import EvalBatches, TrainBatches, input_plan, seeded_subset
from ecglab.bench.engine import evaluate, run_pairing, training
from ecglab.bench.engine.prepare import split_rows
from ecglab.bench.run_folder import read_record
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.build import TaskData, build_task
from ecglab.tasks.spec import TrainSpec, load_spec_file

TASKS = """
defaults:
  version: "1"
  kind: window_estimation
  window_min: 15
  panel: {kind: anyecg_lab, min_positives: 3, min_negatives: 3, min_positive_patients: 1,
    min_negative_patients: 1}
  input: {leads: [II], fs: 100, seconds: 5}
  eval: {max_segments: 200}
tasks:
  - name: sampling_pairs_15min
    train: {sampling: pair, val_segments: 2}
  - name: sampling_anchors_15min
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sampling")
    config = SynthConfig(n_patients=40, seed=5, fs=100.0, bout_minutes=(1.5, 3.0))
    store = build_synthetic_cohort(root / "cohort", config, workers=1, progress=False)
    spec_file = root / "tasks.yaml"
    spec_file.write_text(TASKS)
    pairs, _ = load_spec_file(spec_file)
    task = build_task(pairs, store)
    return {"root": root, "store": store, "spec": spec_file, "task": task}


def batches(setup: dict[str, Any], batch_size: int, rank: int = 0, world: int = 1, **kw: Any) -> TrainBatches:
    task: TaskData = setup["task"]
    plan = input_plan(task, 100.0)
    rows = split_rows(task, "train")
    return TrainBatches(setup["store"], plan, task, rows, batch_size, kw.get("seed", 3), None, rank, world)


def visited(shards: list[TrainBatches]) -> np.ndarray:
    """The pairs an epoch visits, over every rank's batches."""
    return np.concatenate([shard.picks(k)[1] for shard in shards for k in range(len(shard))])


def test_pair_sampling_visits_every_pair_once_per_epoch_on_one_and_two_ranks(setup: dict[str, Any]) -> None:
    task: TaskData = setup["task"]
    one = batches(setup, 16)
    n = one.epoch_size
    train_anchors = task.anchors["anchor_id"].to_numpy()[split_rows(task, "train")]
    assert n == int(task.inputs["anchor_id"].isin(train_anchors).sum()) > 2 * len(train_anchors)
    assert len(one) == -(-n // 16)
    np.testing.assert_array_equal(np.sort(visited([one])), np.arange(n))
    # a pair's label row is its anchor's; its segment is one of that anchor's inputs
    rows, which, _ = one.picks(1)
    anchor_ids = task.anchors["anchor_id"].to_numpy()[rows]
    known = set(zip(task.inputs["anchor_id"], task.inputs["segment_id"], strict=True))
    assert all(p in known for p in zip(anchor_ids, one.segment_ids[which], strict=True))
    item = one[1]
    np.testing.assert_array_equal(item["y"].numpy(), task.labels[rows])
    assert tuple(item["x"].shape) == (16, 1, 500)
    for size in (8, 13):  # two ranks: disjoint batches; each global batch is one process's batch
        shards = [batches(setup, size, rank, 2) for rank in range(2)]
        assert len(shards[0]) == len(shards[1]) == -(-n // (2 * size))
        seen = visited(shards)
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))  # every pair once, none twice
        whole = batches(setup, 2 * size)
        for k in range(len(whole)):
            step = np.concatenate([shard.picks(k)[2] for shard in shards])
            np.testing.assert_array_equal(step, whole.picks(k)[2])  # the last step too: shared out


def test_pair_order_changes_between_epochs_and_repeats_with_the_seed(setup: dict[str, Any]) -> None:
    first, again, other = batches(setup, 16), batches(setup, 16), batches(setup, 16, seed=4)
    epoch0 = visited([first])
    first.set_epoch(1)
    epoch1 = visited([first])
    again.set_epoch(1)
    assert not np.array_equal(epoch0, epoch1) and np.array_equal(np.sort(epoch0), np.sort(epoch1))
    np.testing.assert_array_equal(visited([again]), epoch1)
    other.set_epoch(1)
    assert not np.array_equal(visited([other]), epoch1)


def test_anchor_sampling_draws_what_it_always_drew(setup: dict[str, Any]) -> None:
    """The default: one random segment per anchor and epoch, by the draws of the code before pair sampling."""
    task = replace(setup["task"], spec=replace(setup["task"].spec, train=TrainSpec()))
    plan, rows = input_plan(task, 100.0), split_rows(task, "train")
    anchor = TrainBatches(setup["store"], plan, task, rows, 16, 3)
    anchor.set_epoch(2)
    assert anchor.epoch_size == len(rows) and len(anchor) == -(-len(rows) // 16)
    rng = np.random.default_rng([3, 2])
    order, picks = rng.permutation(rows), rng.random(len(rows))
    got_rows, which, chosen = anchor.picks(1)
    np.testing.assert_array_equal(got_rows, order[16:32])
    expected = anchor.first[order[16:32]] + np.floor(picks[16:32] * anchor.count[order[16:32]]).astype(int)
    np.testing.assert_array_equal(which, expected)
    np.testing.assert_array_equal(chosen, np.arange(16, 32))


def test_the_validation_subset_keeps_at_most_n_segments_per_anchor_the_same_every_time(
    setup: dict[str, Any],
) -> None:
    task: TaskData = setup["task"]
    plan = input_plan(task, 100.0)
    full = EvalBatches(setup["store"], plan, task, "val", 32)
    subset = EvalBatches(setup["store"], plan, task, "val", 32, max_segments=2, subset_seed=7)
    again = EvalBatches(setup["store"], plan, task, "val", 32, max_segments=2, subset_seed=7)
    np.testing.assert_array_equal(subset.segments, again.segments)
    full_counts = np.bincount(full.rows, minlength=len(task.anchors))
    counts = np.bincount(subset.rows, minlength=len(task.anchors))
    np.testing.assert_array_equal(counts, np.minimum(full_counts, 2))
    assert len(subset.rows) < len(full.rows)
    assert set(zip(subset.rows, subset.segments, strict=True)) <= set(
        zip(full.rows, full.segments, strict=True)
    )
    shards = [EvalBatches(setup["store"], plan, task, "val", 32, None, r, 2, 2, 7) for r in range(2)]
    np.testing.assert_array_equal(np.concatenate([s.segments for s in shards]), subset.segments)
    groups = np.repeat(np.arange(50), 6)
    masks = [seeded_subset(groups, 3, seed) for seed in (0, 1)]
    assert all((np.bincount(groups[m]) == 3).all() for m in masks) and not np.array_equal(*masks)


def test_a_tiny_run_trains_on_pairs_and_scores_the_subset_between_epochs_only(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[str, int | None, int]] = []

    class Recorded(EvalBatches):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append((args[3], kwargs.get("max_segments"), len(self.rows)))

    monkeypatch.setattr(training, "EvalBatches", Recorded)
    monkeypatch.setattr(evaluate, "EvalBatches", Recorded)
    config = RunConfig(
        backbone="transformer",
        task="sampling_pairs_15min",
        cohort=str(setup["store"]),
        preset="tiny",
        epochs=2,
        batch_size=128,
        n_boot=20,
        task_specs=(str(setup["spec"]),),
    )
    run = run_pairing(config, setup["root"] / "runs", progress=False, track=False)
    record = read_record(run)
    assert record.status == "finished" and record.task.digest == setup["task"].spec.digest()
    n_val = len(setup["task"].eval_inputs("val"))
    assert built[0][:2] == ("val", 2) and built[0][2] < n_val  # between epochs: the subset
    n_test = len(setup["task"].eval_inputs("test"))
    assert built[1:] == [("val", None, n_val), ("test", None, n_test)]  # the final scoring: every segment
    history = [line for line in (run / "history.jsonl").read_text().splitlines() if line]
    assert len(history) == 2 and record.best_epoch in (0, 1)

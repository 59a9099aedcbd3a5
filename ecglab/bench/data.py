"""Batches for training and evaluation, read from the cohort store by memory map.

Training (the task's ``train.sampling``): ``anchor``, one item per labelled anchor and epoch, each epoch
drawing one of the anchor's segments; or ``pair``, every (anchor, segment) pair once per epoch; either way a
random crop of the task's length, seeded by (seed, epoch) so a resumed run sees the same data. Evaluation:
every (anchor, segment) the task scores, cut into the task's crops (``eval.crops``) or its first crop, or a
seeded subset of at most N segments per anchor (validation between epochs, ``train.val_segments``); under
several processes each rank takes its contiguous shard of these inputs (:func:`shard_of`).
Signals are resampled to the task's rate with a polyphase anti-aliasing filter (scipy.signal.resample_poly).
A dataset item is a whole batch (one gather per shard), so loader workers never loop per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from scipy.signal import resample_poly

from ecglab.cohort.store import Cohort, open_cohort
from ecglab.tasks.build import TaskData


@dataclass(frozen=True)
class InputPlan:
    """How to cut model inputs from stored segments."""

    leads: tuple[str, ...]
    store_fs: float
    fs: float
    seconds: float
    zscore: bool = False  # one mean and standard deviation per record, over all its leads (as ECGFounder)

    @property
    def store_samples(self) -> int:
        return round(self.seconds * self.store_fs)

    def prepare(self, batch: np.ndarray) -> np.ndarray:
        """Resample to the task's rate (polyphase anti-aliasing filter), then normalise if asked."""
        if self.fs != self.store_fs:
            ratio = Fraction(self.fs / self.store_fs).limit_denominator(1000)
            batch = resample_poly(batch, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
        if self.zscore:
            mean = batch.mean(axis=(1, 2), keepdims=True)
            std = batch.std(axis=(1, 2), keepdims=True)
            batch = ((batch - mean) / (std + 1e-8)).astype(np.float32)
        return batch


def input_plan(task: TaskData, store_fs: float, normalisation: str = "none") -> InputPlan:
    """The task decides leads, rate and length; the backbone's contract decides the normalisation."""
    if normalisation not in ("none", "zscore"):
        raise ValueError(f"unknown input normalisation {normalisation!r} (none | zscore)")
    spec = task.spec.input
    return InputPlan(
        leads=tuple(spec.leads),
        store_fs=store_fs,
        fs=spec.fs,
        seconds=spec.seconds,
        zscore=normalisation == "zscore",
    )


def shard_of(n: int, rank: int, world: int) -> slice:
    """Rank ``rank``'s share of ``n`` items in order: the shares of ranks 0 .. world-1 are contiguous, cover
    every item exactly once and differ in size by at most one (deterministic: n, rank and world decide)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not one of {world} ranks")
    return slice(n * rank // world, n * (rank + 1) // world)


def seeded_subset(groups: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """A mask keeping at most ``limit`` items of each group (integer labels, e.g. the anchor row of each
    input), chosen at random and seeded by ``seed`` (the same subset every call)."""
    key = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).random(len(groups))
    order = np.lexsort((key, groups))
    ordered = groups[order]
    rank = np.arange(len(groups)) - np.searchsorted(ordered, ordered, side="left")
    keep = np.zeros(len(groups), dtype=bool)
    keep[order[rank < limit]] = True
    return keep


class _StoreBatches(torch.utils.data.Dataset):
    """Base: opens the store lazily in each loader worker."""

    def __init__(self, store: Path, plan: InputPlan) -> None:
        self.store, self.plan = Path(store), plan
        self._cohort = None

    @property
    def cohort(self) -> Cohort:
        if self._cohort is None:
            self._cohort = open_cohort(self.store)
        return self._cohort

    def _read(self, segments: np.ndarray, starts: np.ndarray) -> torch.Tensor:
        batch = self.cohort.waveforms(
            segments, leads=self.plan.leads, start=starts, length=self.plan.store_samples
        )
        return torch.from_numpy(np.ascontiguousarray(self.plan.prepare(batch)))


class TrainBatches(_StoreBatches):
    """Item k of an epoch: the k-th batch of the epoch's inputs with a random crop each, their anchors' label
    rows, tabular rows and (a regression objective) standardised value rows ``v``. The epoch's inputs
    (``task.spec.train.sampling``): ``anchor``, the anchors shuffled
    by seed and epoch with one random segment each; ``pair``, every (anchor, segment) pair of the training
    anchors, shuffled by seed and epoch. Rank ``rank`` of ``world`` takes the epoch's batches rank, rank +
    world, ...; under several processes the last step is filled up from the start of the epoch's order, so
    that every rank steps with a full batch (one process: the last batch is shorter)."""

    def __init__(
        self,
        store: Path,
        plan: InputPlan,
        task: TaskData,
        rows: np.ndarray,
        batch_size: int,
        seed: int,
        tabular: np.ndarray | None = None,
        rank: int = 0,
        world: int = 1,
        values: np.ndarray | None = None,
    ) -> None:
        super().__init__(store, plan)
        self.rows, self.batch_size, self.seed = rows, batch_size, seed
        self.labels = task.labels
        self.values = None if values is None else np.asarray(values, dtype=np.float32)  # "v": NaN unmeasured
        self.tabular = tabular
        self.rank, self.world = rank, world
        anchors = task.anchors["anchor_id"].to_numpy()
        pairs = task.inputs[task.inputs["anchor_id"].isin(anchors[rows])]
        self.segment_ids = pairs["segment_id"].to_numpy()
        position = {a: i for i, a in enumerate(anchors)}
        order = np.argsort(pairs["anchor_id"].map(position).to_numpy(), kind="stable")
        self.segment_ids = self.segment_ids[order]
        self.owners = pairs["anchor_id"].map(position).to_numpy()[order]  # anchor row of each pair
        self.first = np.searchsorted(self.owners, np.arange(len(anchors)), side="left")
        self.count = np.searchsorted(self.owners, np.arange(len(anchors)), side="right") - self.first
        seg = self.cohort.segments.set_index("segment_id")["length"]
        self.segment_length = seg.reindex(self.segment_ids).to_numpy()
        self.sampling = task.spec.train.sampling
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's order, segment choices and crop positions (seeded by seed and epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        self.epoch = epoch
        if self.sampling == "pair":
            self._order = rng.permutation(len(self.segment_ids))
            self._crops = rng.random(len(self.segment_ids))
            return
        self._order = rng.permutation(self.rows)
        self._picks = rng.random(len(self.rows))
        self._crops = rng.random(len(self.rows))

    @property
    def epoch_size(self) -> int:
        """How many inputs an epoch visits: the training anchors, or their (anchor, segment) pairs."""
        return len(self.segment_ids) if self.sampling == "pair" else len(self.rows)

    def __len__(self) -> int:
        return -(-self.epoch_size // (self.batch_size * self.world))

    def picks(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Batch k of this rank: its anchor rows, its pairs (indices into ``segment_ids``) and their
        positions in the epoch's order."""
        n = self.epoch_size
        start = (k * self.world + self.rank) * self.batch_size
        chosen = np.arange(start, start + self.batch_size)
        step_start = k * self.world * self.batch_size
        if step_start + self.world * self.batch_size > n:  # the last step: what is left of the epoch
            # shared out among the ranks, so that the step's global batch is one process's last batch (the
            # loss is normalised by the global batch's counts); a rank left without any (fewer positions
            # than ranks) takes one from the start of the epoch's order
            left = np.arange(step_start, n)
            chosen = left[shard_of(len(left), self.rank, self.world)]
            if len(chosen) == 0:
                chosen = np.array([self.rank % n])
        if self.sampling == "pair":
            which = self._order[chosen]
            return self.owners[which], which, chosen
        rows = self._order[chosen]
        which = self.first[rows] + np.floor(self._picks[chosen] * self.count[rows]).astype(np.int64)
        return rows, which, chosen

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        rows, which, chosen = self.picks(k)
        room = self.segment_length[which] - self.plan.store_samples
        offsets = np.floor(self._crops[chosen] * (room + 1)).astype(np.int64)
        batch = {
            "x": self._read(self.segment_ids[which], offsets),
            "y": torch.from_numpy(self.labels[rows]),
            "row": torch.from_numpy(rows),
        }
        if self.tabular is not None:
            batch["tabular"] = torch.from_numpy(self.tabular[rows])
        if self.values is not None:
            batch["v"] = torch.from_numpy(self.values[rows])
        return batch


class EvalBatches(_StoreBatches):
    """Fixed batches of (anchor row, segment, crop start): crops are non-overlapping and evenly spaced. With
    ``max_segments``, only a seeded subset (``subset_seed``) of at most that many of each anchor's segments.
    With ``world`` > 1, only rank ``rank``'s shard of these inputs, in batches of ``batch_size``."""

    def __init__(
        self,
        store: Path,
        plan: InputPlan,
        task: TaskData,
        split: str,
        batch_size: int,
        tabular: np.ndarray | None = None,
        rank: int = 0,
        world: int = 1,
        max_segments: int | None = None,
        subset_seed: int = 0,
    ) -> None:
        super().__init__(store, plan)
        pairs = task.eval_inputs(split)
        position = {a: i for i, a in enumerate(task.anchors["anchor_id"].to_numpy())}
        rows = pairs["anchor_id"].map(position).to_numpy()
        segments = pairs["segment_id"].to_numpy()
        if max_segments is not None:
            keep = seeded_subset(rows, max_segments, subset_seed)
            rows, segments = rows[keep], segments[keep]
        lengths = self.cohort.segments.set_index("segment_id")["length"].reindex(segments).to_numpy()
        crops = task.spec.eval.crops or 1
        span = self.plan.store_samples
        if (lengths < crops * span).any():
            raise ValueError(f"segments too short for {crops} non-overlapping crops of {plan.seconds:g} s")
        step = np.where(crops > 1, (lengths - span) // max(crops - 1, 1), 0)
        starts = (np.repeat(step, crops) * np.tile(np.arange(crops), len(rows))).astype(np.int64)
        part = shard_of(len(starts), rank, world)
        self.rows = np.repeat(rows, crops)[part]
        self.segments = np.repeat(segments, crops)[part]
        self.starts = starts[part]
        self.batch_size, self.tabular = batch_size, tabular

    def __len__(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        chosen = slice(k * self.batch_size, (k + 1) * self.batch_size)
        rows = self.rows[chosen]
        batch = {"x": self._read(self.segments[chosen], self.starts[chosen]), "row": torch.from_numpy(rows)}
        if self.tabular is not None:
            batch["tabular"] = torch.from_numpy(self.tabular[rows])
        return batch


def loader(dataset: torch.utils.data.Dataset, workers: int) -> torch.utils.data.DataLoader:
    """Each dataset item is already a batch."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=workers, persistent_workers=False
    )

"""A run's per-resample test AUROCs (``test_resamples.npz`` in its run folder), computed once when the run is
scored so that a leaderboard over many runs reads them instead of recomputing every run's bootstrap.

The file holds the AUROC of every target on every stored resample (targets x resamples, NaN for a target
with one class among its observed test labels, exactly what :func:`resample_aurocs` gives), the resample
file it was computed on, and a digest of the test set (anchor ids in order and the label matrix), with which
a leaderboard pairs runs without loading their predictions. A leaderboard uses the file only when every one
of these matches; otherwise it recomputes from ``predictions.parquet``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecglab.bench.metrics import auroc_ci_and_resamples

RESAMPLE_FILE = "test_resamples.npz"
FILE_VERSION = 1


def masked(labels: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    """Labels with rows whose score (of any of ``scores``) is not finite marked unobserved (-1), as the engine
    does when it computes results."""
    keep = np.ones(labels.shape, dtype=bool)
    for s in scores:
        keep &= np.isfinite(s)
    return np.where(keep, labels, -1).astype(np.int8)


def resample_aurocs(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """targets x resamples AUROCs of (anchors x targets) labels in {1, 0, -1} and scores on ``counts``
    (resamples x anchors). Rows whose score is not finite count as unobserved; a target with one class among
    its observed rows gets NaN on every resample."""
    return auroc_ci_and_resamples(masked(labels, scores), scores, counts)[1]


def digest_of_test_set(anchors: np.ndarray, labels: np.ndarray) -> str:
    """A digest of a test set: its anchor ids in order and its (anchors x targets) labels."""
    digest = hashlib.sha256()
    digest.update("\n".join(str(a) for a in anchors).encode())
    digest.update(f"|{labels.shape}|".encode())
    digest.update(np.ascontiguousarray(labels, dtype=np.int8).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ResampleAurocs:
    """What ``test_resamples.npz`` holds."""

    aurocs: np.ndarray  # targets x resamples
    bootstrap_file: str  # relative to the runs folder, as in run.json
    n_boot: int
    seed: int
    test_digest: str
    n_anchors: int
    targets: tuple[str, ...]


def write_resample_file(run_dir: Path, data: ResampleAurocs) -> None:
    """Written to a temporary file and renamed into place."""
    meta = {
        "version": FILE_VERSION,
        "bootstrap_file": data.bootstrap_file,
        "n_boot": data.n_boot,
        "seed": data.seed,
        "test_digest": data.test_digest,
        "n_anchors": data.n_anchors,
        "targets": list(data.targets),
    }
    tmp = run_dir / (RESAMPLE_FILE + ".tmp.npz")
    np.savez(tmp, aurocs=data.aurocs, meta=np.array(json.dumps(meta)))
    os.replace(tmp, run_dir / RESAMPLE_FILE)


def read_resample_file(run_dir: Path) -> ResampleAurocs | None:
    """The file's content, or None when it is absent, unreadable or of another version (then recompute)."""
    path = Path(run_dir) / RESAMPLE_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            aurocs = np.asarray(stored["aurocs"], dtype=np.float64)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if not isinstance(meta, dict) or meta.get("version") != FILE_VERSION:
        return None
    targets = tuple(meta.get("targets", ()))
    if aurocs.shape != (len(targets), int(meta.get("n_boot", -1))):
        return None
    return ResampleAurocs(
        aurocs=aurocs,
        bootstrap_file=str(meta["bootstrap_file"]),
        n_boot=int(meta["n_boot"]),
        seed=int(meta["seed"]),
        test_digest=str(meta["test_digest"]),
        n_anchors=int(meta["n_anchors"]),
        targets=targets,
    )

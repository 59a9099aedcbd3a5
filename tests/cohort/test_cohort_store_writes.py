"""The cohort store's writes are atomic: a failing or interrupted write leaves nothing at the target (and
open reports it), writing over a store needs overwrite, and an overwrite leaves no trash or, when it fails,
the old store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from store_checks import raises_naming
from store_fixtures import default_recordings, fill, write_store

from ecglab.cohort.errors import CohortError
from ecglab.cohort.store import open_cohort
from ecglab.cohort.writer import CohortWriter


def siblings(path: Path) -> list[str]:
    """Everything next to ``path`` in its folder, ``path`` itself included (staging and trash folders too)."""
    return sorted(p.name for p in path.parent.iterdir())


# ===================================================================== atomic writes


def test_an_exception_inside_the_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    with (
        pytest.raises(RuntimeError, match="reader failed"),
        CohortWriter(target, name="x", source="y") as writer,
    ):
        fill(writer, default_recordings()[:2])
        raise RuntimeError("reader failed")
    assert list(tmp_path.iterdir()) == []  # neither the store nor a .cohort.partial folder


def test_a_failed_commit_inside_the_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "cohort"
    with pytest.raises(CohortError), CohortWriter(target, name="x", source="y") as writer:
        fill(writer, default_recordings()[:1])
        writer.commit()  # no tables set
    assert list(tmp_path.iterdir()) == []


def test_an_uncommitted_writer_leaves_nothing_at_the_target_and_open_reports_the_interrupted_write(
    tmp_path: Path,
) -> None:
    target = tmp_path / "cohort"
    writer = CohortWriter(target, name="x", source="y")
    fill(writer, default_recordings()[:2])
    # the process "dies" here: no commit, no abort
    assert not target.exists()
    (partial,) = siblings(target)
    assert partial == ".cohort.partial"
    with raises_naming(target, "interrupted write", partial):
        open_cohort(target)
    writer.abort()
    assert siblings(target) == []


def test_open_reports_a_lone_partial_folder_as_an_interrupted_write(tmp_path: Path) -> None:
    (tmp_path / ".cohort.partial" / "waveforms").mkdir(parents=True)
    with raises_naming(tmp_path / "cohort", "interrupted write", ".cohort.partial"):
        open_cohort(tmp_path / "cohort")


def test_writing_over_a_store_needs_overwrite(tmp_path: Path) -> None:
    store = write_store(tmp_path / "cohort")
    before = open_cohort(store.path).content_hash
    with raises_naming(store.path, "already holds a cohort store"):
        CohortWriter(store.path, name="x", source="y")
    assert siblings(store.path) == ["cohort"]  # nothing staged
    assert open_cohort(store.path).content_hash == before


def test_overwrite_replaces_the_store_and_leaves_no_trash(tmp_path: Path) -> None:
    old = write_store(tmp_path / "cohort")
    old_hash = open_cohort(old.path).content_hash
    new = write_store(tmp_path / "cohort", default_recordings()[:1], overwrite=True, name="replaced")
    cohort = open_cohort(new.path)
    assert cohort.name == "replaced" and cohort.content_hash != old_hash
    assert cohort.meta["row_counts"]["recordings"] == 1
    assert len(list((new.path / "waveforms").iterdir())) == 1  # no shard of the old store is left
    np.testing.assert_array_equal(cohort.digital(0), new.segments[0].digital)
    cohort.verify()
    assert siblings(new.path) == ["cohort"]  # no .cohort.old-* or .cohort.partial folder


def test_a_failed_overwrite_keeps_the_old_store(tmp_path: Path) -> None:
    old = write_store(tmp_path / "cohort")
    old_hash = open_cohort(old.path).content_hash
    with pytest.raises(RuntimeError), CohortWriter(old.path, name="x", source="y", overwrite=True) as writer:
        fill(writer, default_recordings()[:1])
        raise RuntimeError("reader failed")
    assert siblings(old.path) == ["cohort"]
    cohort = open_cohort(old.path)
    assert cohort.content_hash == old_hash
    cohort.verify()

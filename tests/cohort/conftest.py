"""Fixtures of the cohort store's tests: the default tiny store, written once per module and only read."""

from __future__ import annotations

import pytest
from store_fixtures import Written, write_store

from ecglab.cohort.store import Cohort, open_cohort


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The default tiny store, written once; tests that use it only read it."""
    return write_store(
        tmp_path_factory.mktemp("shared") / "cohort",
        drops=[
            ("read", "no usable leads", 3, ["rec-7", "rec-9"]),
            ("labs", "unknown unit", 2, ["K+ in mg"]),
            ("read", "no usable leads", 1, ["rec-11"]),
        ],
    )


@pytest.fixture(scope="module")
def cohort(written: Written) -> Cohort:
    return open_cohort(written.path)

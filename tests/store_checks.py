"""Checks shared by the cohort store's tests: a CohortError that names the file at fault."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecglab.cohort.errors import CohortError


def raises_naming(file: Path, *words: str) -> pytest.RaisesExc[CohortError]:
    """pytest.raises(CohortError) whose message names ``file`` (and contains ``words``, in any order)."""
    pattern = "".join(f"(?=.*{re.escape(word)})" for word in (str(file), *words))
    return pytest.raises(CohortError, match=re.compile(pattern, re.DOTALL))

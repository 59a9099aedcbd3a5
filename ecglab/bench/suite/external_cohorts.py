"""A suite's external cohorts: stores every finished pairing is also scored on (external validation).

::

    external:                             # optional: one entry per external cohort store
      - cohort: /data/mcmed_store         # required: a cohort store other than the suite's
        scope: all                        # optional: all (default) of its patients are test patients, or
                                          # test: those its own split of the task puts in test
        lab_map: my_lab_map.csv           # optional: equivalences beyond the built-in catalogue
                                          # (ecglab.tasks.harmonise)

Paths follow the suite's rules (relative to the data folder; ``~`` and ``$VARS`` expanded); the runner
checks them before the first pairing runs (:func:`ecglab.bench.suite.runner.check_paths`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXTERNAL_KEYS = ("cohort", "scope", "lab_map")
EXTERNAL_SCOPES = ("all", "test")


@dataclass(frozen=True)
class ExternalCohort:
    """One external cohort store of a suite, the scope of its test patients and an optional lab map."""

    cohort: str
    scope: str = "all"
    lab_map: str | None = None

    @property
    def label(self) -> str:
        return f"{Path(self.cohort).name} ({self.scope})"


def parse_external(
    raw: Any, expand: Callable[[str], str], fail: Callable[[str, str], Exception]
) -> tuple[ExternalCohort, ...]:
    """The ``external:`` section (None: no external cohorts); ``expand`` makes a written path the suite's
    (:func:`ecglab.bench.suite.schema.expand_path`), ``fail(where, message)`` makes the error."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("external", f"expected a list of {{cohort: PATH, scope: all|test}}, got {raw!r}")
    out = []
    for i, entry in enumerate(raw):
        where = f"external[{i}]"
        if not isinstance(entry, Mapping):
            raise fail(where, f"expected a mapping with cohort (and scope, lab_map), got {entry!r}")
        unknown = [key for key in entry if key not in EXTERNAL_KEYS]
        if unknown:
            raise fail(where, f"unknown keys {unknown}; allowed: {', '.join(EXTERNAL_KEYS)}")
        cohort, scope, lab_map = entry.get("cohort"), entry.get("scope", "all"), entry.get("lab_map")
        if not isinstance(cohort, str) or not cohort:
            raise fail(where, "cohort: expected the path of a cohort store")
        if scope not in EXTERNAL_SCOPES:
            raise fail(where, f"scope: expected one of {', '.join(EXTERNAL_SCOPES)}, got {scope!r}")
        if lab_map is not None and not isinstance(lab_map, str):
            raise fail(where, f"lab_map: expected the path of a CSV file, got {lab_map!r}")
        out.append(ExternalCohort(expand(cohort), scope, None if lab_map is None else expand(lab_map)))
    if len(set(out)) < len(out):
        raise fail("external", "an external cohort is named twice with the same scope and lab map")
    return tuple(out)

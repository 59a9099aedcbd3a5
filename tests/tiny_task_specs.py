"""One task-spec file maker for the tests that train a tiny run on a tiny synthetic store: lead II, 5-s crops
at 100 Hz, one crop per anchor, AnyECG-Lab thresholds with small anchor and patient minimums, and a
closest-estimation default that each task may override (e.g. a forecast)."""

from __future__ import annotations

DEFAULTS = """defaults:
  version: "1"
  kind: closest_estimation
  window_min: 15
  panel: {{kind: anyecg_lab, min_positives: 3, min_negatives: 3, min_positive_patients: {patients},
    min_negative_patients: {patients}}}
  input: {{leads: [II], fs: 100, seconds: 5}}
  eval: {{max_segments: null, crops: 1}}
tasks:
"""


def tiny_task_specs(*tasks: str, min_patients: int = 1) -> str:
    """The YAML of a task-spec file: the tiny defaults and ``tasks``, each a task's YAML lines (the first
    ``name: ...``), indented as list items; ``min_patients``: the positive and negative patient minimums."""
    items = []
    for task in tasks:
        first, *rest = task.strip("\n").splitlines()
        items.append("  - " + first + "".join("\n    " + line for line in rest))
    return DEFAULTS.format(patients=min_patients) + "\n".join(items) + "\n"

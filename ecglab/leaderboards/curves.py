"""Curves: macro AUROC against the task's window or horizon (minutes) for tasks of one family: tasks sharing
a training digest, or one name pattern and kind such as ``cardiolab_forecast_{m}min``."""

from __future__ import annotations

import pandas as pd

from ecglab.leaderboards.tables import CURVE_COLUMNS
from ecglab.leaderboards.task_info import TaskInfo
from ecglab.tasks.lead_ablation import ABLATION_TAG


def families(summary: pd.DataFrame, infos: dict[str, TaskInfo]) -> dict[tuple[str, str], str]:
    """(task, cohort hash) -> family name, for tasks sharing a training digest or a name pattern and kind.
    A lead-ablation variant belongs to no family (``anyecg_lab_est_60min_lead_II`` trains as its base does,
    but is no other window)."""
    own = summary[summary["source"] == "ecglab"]
    keys = sorted(
        {
            (t, c)
            for t, c in zip(own["task"], own["cohort_hash"], strict=True)
            if t in infos and ABLATION_TAG not in infos[t].tags
        }
    )
    parent = {k: k for k in keys}

    def find(k: tuple[str, str]) -> tuple[str, str]:
        while parent[k] != k:
            k = parent[k]
        return k

    def join(a: tuple[str, str], b: tuple[str, str]) -> None:
        parent[find(b)] = find(a)

    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            ia, ib = infos[a[0]], infos[b[0]]
            if a[1] != b[1] or ia.axis != ib.axis:
                continue
            shared_training = ia.training_digest and ia.training_digest == ib.training_digest
            same_pattern = ia.template and ia.template == ib.template and ia.kind == ib.kind
            if shared_training or (same_pattern and ia.tags == ib.tags):
                join(a, b)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for k in keys:
        groups.setdefault(find(k), []).append(k)
    out = {}
    for members in groups.values():
        minutes = {infos[t].minutes for t, _ in members if infos[t].minutes is not None}
        if len(minutes) < 2:
            continue
        templates = sorted({infos[t].template or t for t, _ in members})
        name = " / ".join(templates)
        for k in members:
            out[k] = name
    return out


def curves(summary: pd.DataFrame) -> pd.DataFrame:
    own = summary[summary["source"] == "ecglab"]
    rows = []
    for _, row in own.iterrows():
        if row["family"]:
            rows.append({c: row.get(c) for c in CURVE_COLUMNS})
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return frame.sort_values(["family", "cohort_hash", "entry", "minutes"], ignore_index=True)

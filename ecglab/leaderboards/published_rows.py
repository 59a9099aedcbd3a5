"""The published reference rows of a leaderboard (AnyECG-Lab Table 2, CardioLab Tables 1-2) in ``summary`` and
``targets`` with ``source == "published"``: the studies' numbers as published, not re-run, attached to the
project tasks they correspond to. An inverted published interval is flagged with a note, never swapped.
Loading and validating the published tables is :mod:`ecglab.leaderboards.published`'s job."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ecglab.bench import metrics
from ecglab.leaderboards.published import load_published
from ecglab.leaderboards.tables import SUMMARY_COLUMNS, TARGET_COLUMNS, TIER_COLUMNS, TIER_KEYS

STUDIES = ("anyecg_lab", "cardiolab")
PUBLISHED_TASKS = {
    ("anyecg_lab", "estimation_60min"): "anyecg_lab_est_60min",
    ("cardiolab", "estimation_60min"): "cardiolab_est_60min",
    ("cardiolab", "forecast_30min"): "cardiolab_forecast_30min",
    ("cardiolab", "forecast_60min"): "cardiolab_forecast_60min",
    ("cardiolab", "forecast_120min"): "cardiolab_forecast_120min",
}
PUBLISHED_ENTRY = {
    "anyecg_lab": "AnyECG-Lab (published, not re-run)",
    "cardiolab": "CardioLab (published, not re-run)",
}
PUBLISHED_BACKBONE = {"anyecg_lab": "ECGFounder (AnyECG-Lab Table 2)", "cardiolab": "CardioLab (Tables 1-2)"}
PUBLISHED_COHORT = {"anyecg_lab": "MC-MED (published)", "cardiolab": "MIMIC-IV (published)"}
PUBLISHED_LABEL = "published, not re-run"


def _published_target_id(study: str, lab: str, direction: str) -> str:
    if study == "anyecg_lab":
        from ecglab.tasks.catalogue import anyecg_lab_panel

        for t in anyecg_lab_panel():
            if t.lab == lab and t.direction == direction:
                return t.target
    return re.sub(r"[^a-z0-9]+", "_", lab.lower()).strip("_") + "_" + direction


def published_rows(tasks: Iterable[str] | None = None) -> tuple[list[dict], list[dict], list[str]]:
    """Summary rows, target rows and notes for the published reference tables, for the project tasks given
    (all published tables when ``tasks`` is None)."""
    wanted = None if tasks is None else set(tasks)
    summary, targets, notes = [], [], []
    for study in STUDIES:
        table = load_published(study)
        for published_task, rows in table.groupby("task", sort=False):
            task = PUBLISHED_TASKS.get((study, str(published_task)))
            if task is None or (wanted is not None and task not in wanted):
                continue
            for row in rows.itertuples():
                targets.append(_target_row(study, task, str(published_task), row))
                if row.ci_inverted:
                    notes.append(_inversion_note(study, task, str(published_task), row))
            summary.append(_summary_row(study, task, str(published_task), rows))
    return summary, targets, notes


def _target_row(study: str, task: str, published_task: str, row: Any) -> dict[str, Any]:
    """One published target of a study's table, as a row of ``targets``."""
    return {
        **dict.fromkeys(TARGET_COLUMNS, float("nan")),
        "task": task,
        "task_version": "",
        "cohort_hash": "",
        "source": "published",
        "study": study,
        "published_task": published_task,
        "entry": PUBLISHED_ENTRY[study],
        "backbone": PUBLISHED_BACKBONE[study],
        "preset": "",
        "label": PUBLISHED_LABEL,
        "target": _published_target_id(study, str(row.lab), str(row.direction)),
        "lab": str(row.lab),
        "direction": str(row.direction),
        "n": row.n_tests if pd.notna(row.n_tests) else float("nan"),
        "n_pos": row.n_positive if pd.notna(row.n_positive) else float("nan"),
        "n_seeds": float("nan"),
        "auroc": row.auroc,
        "auroc_low": row.ci_low,
        "auroc_high": row.ci_high,
        "ci_method": "published",
        "n_boot_used": float("nan"),
        "ci_note": "as published (not re-run)",
        "best_entry": "",
        "tied_with_best": pd.NA,
        "ci_inverted": bool(row.ci_inverted),
        "issues": str(row.issues),
    }


def _inversion_note(study: str, task: str, published_task: str, row: Any) -> str:
    return (
        f"{PUBLISHED_ENTRY[study]}, {task} ({published_task}), {row.lab} {row.direction}: {row.issues}: "
        f"AUROC {row.auroc:.3f} with interval [{row.ci_low:.3f}-{row.ci_high:.3f}] as printed"
    )


def _summary_row(study: str, task: str, published_task: str, rows: pd.DataFrame) -> dict[str, Any]:
    """A study's table of one task as a row of ``summary``: tier counts of the published AUROCs, and a
    macro AUROC only for a full panel (CardioLab publishes its top targets only)."""
    aurocs = rows["auroc"].to_numpy(dtype=float)
    tiers = metrics.tier_counts(aurocs)
    full_panel = study == "anyecg_lab"
    return {
        **dict.fromkeys(SUMMARY_COLUMNS, float("nan")),
        "task": task,
        "task_version": "",
        "task_digest": "",
        "training_digest": "",
        "cohort_name": PUBLISHED_COHORT[study],
        "cohort_hash": "",
        "source": "published",
        "study": study,
        "published_task": published_task,
        "entry": PUBLISHED_ENTRY[study],
        "backbone": PUBLISHED_BACKBONE[study],
        "backbone_kind": "published",
        "preset": "",
        "label": PUBLISHED_LABEL,
        "config_key": "",
        "rank": pd.NA,
        "n_targets": len(rows),
        "n_targets_defined": len(rows),
        "n_seeds": pd.NA,
        "seeds": "",
        "macro_auroc": float(aurocs.mean()) if full_panel else float("nan"),
        "macro_ci_method": "",
        "macro_n_boot_used": pd.NA,
        "macro_ci_note": (
            "published: per-target intervals only, no resamples to combine"
            if full_panel
            else "published tables hold only targets whose AUROC lower bound exceeds 0.70: a "
            "macro AUROC over them is not comparable"
        ),
        "best_entry": "",
        "tied_with_best": pd.NA,
        "comparison_note": "published numbers: no predictions, not compared",
        "n_ci_inverted": int(rows["ci_inverted"].sum()),
        "task_kind": "",
        "axis": "",
        "family": "",
        "bootstrap_file": "",
        "run_ids": "",
        "note": "numbers as published by the study, not re-run by ecglab; cohort and code differ",
        **dict(zip(TIER_COLUMNS, (tiers[k] for k in TIER_KEYS), strict=True)),
    }


COMMON_COLUMNS = [
    "task",
    "entry",
    "published_entry",
    "n_common",
    "n_entry",
    "n_published",
    "macro_entry",
    "macro_published",
    "diff",
]


def common_target_macros(targets: pd.DataFrame) -> pd.DataFrame:
    """Each project entry of a task against each published row of the same task, over only the targets
    both evaluate (a defined AUROC in both): how many (``n_common``, beside each row's own count), both
    macro AUROCs over them and their difference (entry minus published; NaN without a common target). A
    published macro over its full panel is never set beside a project macro over a few targets."""
    rows = []
    for task, part in targets.groupby("task", sort=False):
        defined = part[part["auroc"].notna()]
        own = defined[defined["source"] == "ecglab"]
        pub = defined[defined["source"] == "published"]
        for published_entry, prows in pub.groupby("entry", sort=False):
            reference = prows.groupby("target")["auroc"].mean()
            for entry, erows in own.groupby("entry", sort=False):
                values = erows.groupby("target")["auroc"].mean()
                common = values.index.intersection(reference.index)
                a = float(values[common].mean()) if len(common) else float("nan")
                b = float(reference[common].mean()) if len(common) else float("nan")
                rows.append(
                    {
                        "task": task,
                        "entry": entry,
                        "published_entry": published_entry,
                        "n_common": len(common),
                        "n_entry": len(values),
                        "n_published": len(reference),
                        "macro_entry": a,
                        "macro_published": b,
                        "diff": a - b,
                    }
                )
    return pd.DataFrame(rows, columns=COMMON_COLUMNS)

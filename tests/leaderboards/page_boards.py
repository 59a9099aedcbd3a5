"""Synthetic leaderboards for the page tests: a realistic board (several entries with long names, 108 targets
with AUROC 1.0, 0.0 and NaN among them, the published AnyECG-Lab and CardioLab rows, a curve family, and
calibration, reliability, subgroup and regression tables) built directly as frames, without run folders,
so the page's layout can be checked on the sizes a real board reaches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecglab.leaderboards.published_rows import published_rows
from ecglab.leaderboards.tables import (
    CALIBRATION_COLUMNS,
    COMPARISON_COLUMNS,
    CURVE_COLUMNS,
    REFUSED_COLUMNS,
    REGRESSION_COLUMNS,
    RELIABILITY_COLUMNS,
    SUBGROUP_COLUMNS,
    SUMMARY_COLUMNS,
    TARGET_COLUMNS,
    TIER_COLUMNS,
    Leaderboard,
    table_frame,
)
from ecglab.tasks.catalogue import anyecg_lab_panel

TASK = "anyecg_lab_est_60min"
FORECAST = "cardiolab_forecast_30min"
LONG = "ecgfounder/base-finetuned-all-leads (tuned: lr 3e-4, batch 256, 12 leads, 40 epochs)"
ENTRIES = {LONG: 108, "s4/tiny": 108, "transformer/small-with-a-long-preset-name": 108, "ecg_features": 1}
COHORT = "c0ffee" * 10 + "abcd"
NO_CALIBRATION = (
    "run 0123456789abcdef (seed 0): no calibration.parquet (a run folder from before calibration)"
)
NO_SUBGROUPS = "no subgroups.parquet: the run was evaluated before subgroup results"


def _target_rows(task: str, targets: list[str], rng: np.random.Generator) -> list[dict[str, Any]]:
    rows = []
    for k, (entry, count) in enumerate(ENTRIES.items()):
        for j, target in enumerate(targets[:count]):
            auroc = float(np.clip(rng.normal(0.62 + 0.05 * (k == 0), 0.12), 0.02, 0.98))
            half = float(rng.uniform(0.01, 0.08))
            low, high = max(0.0, auroc - half), min(1.0, auroc + half)
            if k == 0 and j == 0:
                auroc, low, high = 1.0, 0.991, 1.0
            elif k == 1 and j == 1:
                auroc, low, high = 0.0, 0.0, 0.012
            elif k == 2 and j == 2:
                auroc = low = high = float("nan")
            rows.append(
                {
                    **dict.fromkeys(TARGET_COLUMNS, float("nan")),
                    "task": task,
                    "task_version": "3",
                    "cohort_hash": COHORT,
                    "source": "ecglab",
                    "entry": entry,
                    "backbone": entry.split("/")[0],
                    "target": target,
                    "n": 1200 + j,
                    "n_pos": 40 + j,
                    "n_seeds": 1,
                    "auroc": auroc,
                    "auroc_low": low,
                    "auroc_high": high,
                    "n_patients": 300 + j,
                    "n_pos_patients": 12 + j,
                    "label": "",
                    "ci_method": "bootstrap by patient (stored)",
                    "clustered_low": max(0.0, low - 0.01),
                    "clustered_high": min(1.0, high + 0.01),
                    "clustered_method": "clustered DeLong by patient (Obuchowski 1997) (stored)",
                    "paired_p": 0.04,
                    "paired_p_method": "clustered paired DeLong test by patient (Obuchowski 1997)",
                    "ci_note": "" if np.isfinite(auroc) else "a single class in the test set",
                    "tied_with_best": k == 0,
                    "diff_vs_best": 0.0 if k == 0 else -0.05,
                    "diff_low": 0.0 if k == 0 else -0.09,
                    "diff_high": 0.0 if k == 0 else -0.01,
                    "delong_p": 0.03,
                    "ci_inverted": False,
                    "issues": "",
                }
            )
    return rows


def _summary_rows(task: str, targets: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for rank, (entry, part) in enumerate(targets.groupby("entry", sort=False), start=1):
        macro = float(part["auroc"].mean())
        rows.append(
            {
                **dict.fromkeys(SUMMARY_COLUMNS, float("nan")),
                "task": task,
                "task_version": "3",
                "task_digest": "d" * 16,
                "training_digest": "t" * 16,
                "cohort_name": "synthetic demo cohort",
                "cohort_hash": COHORT,
                "source": "ecglab",
                "entry": entry,
                "backbone": entry.split("/")[0],
                "rank": rank,
                "n_targets": len(part),
                "n_targets_defined": int(part["auroc"].notna().sum()),
                "n_seeds": 1,
                "macro_auroc": macro,
                "macro_auroc_low": macro - 0.02,
                "macro_auroc_high": macro + 0.02,
                "macro_ci_method": "bootstrap by patient: mean over targets of per-resample AUROCs",
                "macro_ci_note": "",
                "seeds": "0",
                "run_ids": "",
                "label": "",
                **dict.fromkeys(TIER_COLUMNS, 1),
                "tied_with_best": rank == 1,
                "macro_diff_vs_best": 0.0 if rank == 1 else -0.03,
                "n_ci_inverted": 0,
                "axis": "horizon" if task == FORECAST else "",
                "minutes": 30.0 if task == FORECAST else float("nan"),
                "note": "",
            }
        )
    return rows


def _curves(entries: list[str]) -> pd.DataFrame:
    rows = []
    for k, entry in enumerate(entries):
        for m, value in zip((30.0, 60.0, 120.0), (0.97, 0.9, 0.8), strict=True):
            high = 1.0 if m == 30.0 else value + 0.02
            rows.append(
                {
                    "family": "cardiolab_forecast_{m}min",
                    "axis": "horizon",
                    "minutes": m,
                    "task": f"cardiolab_forecast_{m:g}min",
                    "cohort_hash": COHORT,
                    "entry": entry,
                    "macro_auroc": value - 0.03 * k,
                    "macro_auroc_low": value - 0.03 * k - 0.02,
                    "macro_auroc_high": min(1.0, high - 0.03 * k) if k else high,
                    "n_seeds": 1,
                }
            )
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


REFUSED = "9 positive patients, below the minimum of 10"
GROUPS = (("sex", "F", ""), ("sex", "M", ""), ("age", "18-39", ""), ("age", "80+", REFUSED))


def _calibration_rows(key: dict[str, str], rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """One target's calibration rows (none, temperature) and their 10 reliability bins each."""
    cal, rel = [], []
    for calibration in ("none", "temperature"):
        brier, ece = float(rng.uniform(0.02, 0.2)), float(rng.uniform(0, 0.1))
        cal.append(
            dict(
                **key,
                calibration=calibration,
                n=900,
                n_pos=30,
                brier=brier,
                ece=ece,
                ece_bins=10,
                ece_binning="equal-width, 10 bins",
                note="",
            )
        )
        for b in range(10):
            rate = 1.0 if b == 9 else float(np.clip(b / 10 + 0.05 + rng.normal(0, 0.05), 0, 1))
            rel.append(
                dict(
                    **key,
                    calibration=calibration,
                    bin=b,
                    bin_low=b / 10,
                    bin_high=(b + 1) / 10,
                    n=90,
                    mean_score=b / 10 + 0.05,
                    observed_rate=rate,
                )
            )
    return cal, rel


def _subgroup_rows(key: dict[str, str], rng: np.random.Generator) -> list[dict]:
    """One target's subgroup rows: three scored groups and one refused below the patient minimum."""
    rows = []
    for subgroup, group, refused in GROUPS:
        auroc = float("nan") if refused else float(rng.uniform(0.5, 1.0))
        rows.append(
            dict(
                **key,
                subgroup=subgroup,
                group=group,
                n=300,
                n_pos=20,
                n_patients=120,
                n_pos_patients=9 if refused else 15,
                auroc=auroc,
                auroc_low=auroc - 0.05,
                auroc_high=min(1.0, auroc + 0.05),
                ci_method="" if refused else "bootstrap by patient",
                refused_reason=refused,
            )
        )
    return rows


def _regression_row(key: dict[str, str], rng: np.random.Generator) -> dict:
    """One target's regression row, with the AUROC of the predicted values at each threshold."""
    auroc = [float(v) for v in rng.uniform(0.5, 0.9, size=3)]
    return dict(
        **key,
        lab=key["target"].rsplit("_", 1)[0],
        n=900,
        n_patients=300,
        mae=float(rng.uniform(0.1, 2)),
        spearman=float(rng.uniform(-0.1, 0.6)),
        unit="mmol/L",
        transform="log",
        objective="gaussian_nll",
        n_seeds=1,
        auroc_task=auroc[0],
        threshold_anyecg_lab=5.0,
        auroc_anyecg_lab=auroc[1],
        threshold_cardiolab=5.1,
        auroc_cardiolab=auroc[2],
        note="",
    )


def new_tables(task: str, entries: list[str], targets: list[str]) -> dict[str, pd.DataFrame]:
    """Calibration, reliability, subgroup and regression frames of the columns in tables.py."""
    rng = np.random.default_rng(5)
    cal, rel, sub, reg = [], [], [], []
    for entry in entries:
        for target in targets:
            key = dict(task=task, entry=entry, target=target)
            c, r = _calibration_rows(key, rng)
            cal += c
            rel += r
            sub += _subgroup_rows(key, rng)
            reg.append(_regression_row(key, rng))
    older = "ecg_features"  # an entry whose run folder predates the new files: one row with the reason
    cal.append(dict(task=task, entry=older, target="", calibration="", note=NO_CALIBRATION))
    sub.append(dict(task=task, entry=older, target="", subgroup="", group="", refused_reason=NO_SUBGROUPS))
    return {
        "calibration": pd.DataFrame(cal, columns=CALIBRATION_COLUMNS),
        "reliability": pd.DataFrame(rel, columns=RELIABILITY_COLUMNS),
        "subgroups": pd.DataFrame(sub, columns=SUBGROUP_COLUMNS),
        "regression": pd.DataFrame(reg, columns=REGRESSION_COLUMNS),
    }


def realistic_board(extra_tables: bool = True) -> Leaderboard:
    """Two tasks: AnyECG-Lab's 108 targets (three entries on all, one on a single target) and CardioLab's
    30-minute forecast (five targets), each beside its published rows; a horizon curve family."""
    rng = np.random.default_rng(11)
    panel = [t.target for t in anyecg_lab_panel()]
    forecast_targets = ["potassium_high", "sodium_low", "troponin_t_high", "lactate_high", "bicarbonate_high"]
    target_rows = _target_rows(TASK, panel, rng) + _target_rows(FORECAST, forecast_targets, rng)
    targets = table_frame(target_rows, TARGET_COLUMNS)
    summary_rows = _summary_rows(TASK, targets[targets["task"] == TASK])
    summary_rows += _summary_rows(FORECAST, targets[targets["task"] == FORECAST])
    ps, pt, pn = published_rows([TASK, FORECAST])
    tables = new_tables(TASK, list(ENTRIES)[:3], panel[:40]) if extra_tables else {}
    return Leaderboard(
        title="synthetic board",
        summary=table_frame(summary_rows + ps, SUMMARY_COLUMNS),
        targets=table_frame(target_rows + pt, TARGET_COLUMNS),
        comparisons=table_frame([], COMPARISON_COLUMNS),
        curves=_curves(list(ENTRIES)),
        refused=pd.DataFrame(
            [
                {
                    "origin": "runs/" + "very_long_run_folder_name_" * 4,
                    "run_id": "r" * 32,
                    "backbone": "s4",
                    "task": TASK,
                    "cohort_hash": COHORT,
                    "reason": "results.parquet: column auroc_low is not numeric; " * 6,
                }
            ],
            columns=REFUSED_COLUMNS,
        ),
        notes=[*pn, "a note that is long enough to wrap on a narrow page: " + "words " * 60],
        **tables,
    )

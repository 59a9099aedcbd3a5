"""Scoring the entries of one task: runs grouped into entries (one backbone configuration, its seeds), per
target the AUROC (the mean over seeds, their SD, min and max) with its bootstrap and clustered intervals,
and the macro AUROC (mean over targets) with its interval from the per-resample AUROCs of the stored
resamples."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglab.bench.run_selection import entry_name
from ecglab.leaderboards.clustered_stats import entry_clustered
from ecglab.leaderboards.inputs import RunResult
from ecglab.leaderboards.resamples import TaskData, interval


# ------------------------------------------------------------------------------------------------ entries
@dataclass
class Entry:
    """One backbone configuration on one task: its runs, one per seed."""

    name: str
    runs: list[RunResult]

    @property
    def first(self) -> RunResult:
        return self.runs[0]

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]


def entry_key(run: RunResult) -> tuple[str, str, str, str]:
    return (run.backbone, run.preset, run.label, run.config_key)


def entry_names(runs: list[RunResult]) -> dict[tuple[str, str, str, str], str]:
    """Display names: ``backbone/preset``, `` [label]`` when labelled, `` [objective]`` when trained on the
    lab values and `` [calibration]`` when recalibrated (unless the label says it already), and a
    configuration hash where two configurations would otherwise share a name."""
    keys = sorted({entry_key(r) for r in runs})
    objective = {entry_key(r): r.objective for r in runs if r.objective != "classification"}
    calibration = {entry_key(r): r.calibration for r in runs if r.calibration != "none"}
    base = {k: entry_name(*k[:3], objective.get(k, ""), calibration.get(k, "")) for k in keys}  # as runs list
    counts = Counter(base.values())
    return {k: base[k] + (f" #{k[3][:6]}" if counts[base[k]] > 1 else "") for k in keys}


# ------------------------------------------------------------------------------------------------ scoring
@dataclass
class Scored:
    """An entry's per-target and macro AUROCs, and its seed-mean per-resample AUROCs where they exist."""

    entry: Entry
    per_target: pd.DataFrame  # indexed by target
    macro: float
    macro_seeds: list[float]
    vectors: np.ndarray | None  # targets x resamples: seed-mean per-resample AUROCs
    reason: str  # why vectors is None


def score_entry(entry: Entry, data: TaskData, alpha: float) -> Scored:
    """Per-target AUROC over the entry's seeds with its interval: the stored one for a single seed, else
    from the shared resamples (NaN with the reason where some seed has none); its clustered interval and
    DeLong's where valid (:func:`~ecglab.leaderboards.clustered_stats.entry_clustered`)."""
    parts = [r.results.assign(seed=r.seed) for r in entry.runs]
    stacked = pd.concat(parts, ignore_index=True)
    targets = entry.first.targets
    grouped = stacked.groupby("target", sort=False)
    per = pd.DataFrame(index=pd.Index(targets, name="target"))
    per["n"] = grouped["n"].first()
    per["n_pos"] = grouped["n_pos"].first()
    per["n_seeds"] = grouped["auroc"].count()
    per["auroc"] = grouped["auroc"].mean()
    per["auroc_sd"] = grouped["auroc"].std(ddof=1) if len(entry.runs) > 1 else np.nan
    per["auroc_min"] = grouped["auroc"].min()
    per["auroc_max"] = grouped["auroc"].max()
    per["auprc"] = grouped["auprc"].mean()
    vectors, reason = None, ""
    if all(r.run_id in data.vectors for r in entry.runs):
        vectors = np.mean([data.vectors[r.run_id] for r in entry.runs], axis=0)
    else:
        missing = next(r for r in entry.runs if r.run_id not in data.vectors)
        reason = f"run {missing.run_id[:16]}: {data.why(missing)}"
    if len(entry.runs) == 1:
        first = entry.first.results.set_index("target")
        for column in ("auroc_low", "auroc_high", "n_boot_used", "delong_low", "delong_high"):
            per[column] = first[column]
        per["ci_method"] = "bootstrap by patient (stored)"
        per["ci_note"] = ""
    else:
        per["delong_low"] = per["delong_high"] = np.nan
        intervals = [
            interval(vectors[j], alpha)
            if vectors is not None and np.isfinite(per.at[target, "auroc"])
            else (np.nan, np.nan, 0)
            for j, target in enumerate(targets)
        ]
        per["auroc_low"] = [i[0] for i in intervals]
        per["auroc_high"] = [i[1] for i in intervals]
        per["n_boot_used"] = [i[2] for i in intervals]
        per["ci_method"] = (
            "" if vectors is None else "bootstrap by patient (stored resamples, mean over seeds)"
        )
        per["ci_note"] = (
            f"no interval for {len(entry.runs)} seeds without resamples ({reason})" if vectors is None else ""
        )
    entry_clustered(entry.runs, data, per, alpha)
    per_seed = [float(r.results["auroc"].mean()) for r in entry.runs]
    macro = float(per["auroc"].mean()) if per["auroc"].notna().any() else float("nan")
    return Scored(entry, per, macro, per_seed, vectors, reason)


def macro_vector(scored: Scored) -> np.ndarray | None:
    if scored.vectors is None:
        return None
    defined = scored.per_target["auroc"].notna().to_numpy()
    if not defined.any():
        return None
    return scored.vectors[defined].mean(axis=0)  # NaN where any defined target has a single-class resample


def macro_interval(scored: Scored, alpha: float) -> tuple[float, float, int, str, str]:
    """The interval of an entry's macro AUROC over the stored resamples: low, high, resamples used, method,
    and a note (why there is none, or how many resamples were skipped)."""
    macro_vec = macro_vector(scored)
    if macro_vec is None:
        return float("nan"), float("nan"), 0, "", scored.reason or "no target with a defined AUROC"
    low, high, used = interval(macro_vec, alpha)
    method, note = "bootstrap by patient: mean over targets of per-resample AUROCs", ""
    if used < 0.95 * macro_vec.size:
        note = (
            f"{macro_vec.size - used} of {macro_vec.size} resamples skipped (a target with a single "
            "class in the resample)"
        )
    return low, high, used, method, note

"""Paired comparisons with the best entry of a task (macro) and of each target: the difference with its
bootstrap interval over the task's shared resamples (``metrics.paired_bootstrap_diff`` for single-seed
entries), the clustered paired test by patient (Obuchowski 1997; of the means over seeds for entries with
several) and DeLong's independent-rows paired test only where every patient holds one anchor; an entry is
tied with the best when the bootstrap interval of its difference includes 0. Also the ranks and the
per-target rows of the project's entries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.bench.resample_file import masked
from ecglab.leaderboards.clustered_stats import paired_clustered
from ecglab.leaderboards.errors import RunRefused
from ecglab.leaderboards.resamples import TaskData, interval
from ecglab.leaderboards.scoring import Scored, macro_vector
from ecglab.leaderboards.tables import MACRO, PER_TARGET_STATS


def compare(
    task: str, scored: dict[str, Scored], data: TaskData, alpha: float
) -> tuple[list[dict], list[dict], list[dict]]:
    """Ranks, macro and per-target comparisons with the best entry; per-target rows."""
    order = sorted(scored, key=lambda n: (-scored[n].macro if np.isfinite(scored[n].macro) else np.inf, n))
    best = order[0] if np.isfinite(scored[order[0]].macro) else None
    cohort = next(iter(scored.values())).entry.first.cohort_hash
    summary, targets, comparisons = [], [], []
    best_vec = macro_vector(scored[best]) if best else None
    for rank, name in enumerate(order, start=1):
        s = scored[name]
        row: dict[str, Any] = {"task": task, "entry": name, "rank": rank if np.isfinite(s.macro) else pd.NA}
        comp = _macro_comparison(s, scored[best] if best else None, best_vec, alpha)
        row.update(
            best_entry=best or "",
            macro_diff_vs_best=comp["diff"],
            macro_diff_low=comp["diff_low"],
            macro_diff_high=comp["diff_high"],
            tied_with_best=comp["tied_with_best"],
            comparison_note=comp["note"],
        )
        summary.append(row)
        comparisons.append(
            {"task": task, "cohort_hash": cohort, "level": "macro", "target": MACRO, "entry": name, **comp}
        )
    all_targets = list(dict.fromkeys(t for s in scored.values() for t in s.per_target.index))
    for target in all_targets:
        holders = [n for n in order if target in scored[n].per_target.index]
        values = {n: scored[n].per_target.at[target, "auroc"] for n in holders}
        defined = [n for n in holders if np.isfinite(values[n])]
        target_best = max(defined, key=lambda n: values[n]) if defined else None
        for name in holders:
            s = scored[name]
            per = s.per_target.loc[target]
            comp = _target_comparison(s, scored[target_best] if target_best else None, target, data, alpha)
            comparisons.append(
                {
                    "task": task,
                    "cohort_hash": cohort,
                    "level": "target",
                    "target": target,
                    "entry": name,
                    **comp,
                }
            )
            targets.append(
                {
                    "task": task,
                    "study": "",
                    "published_task": "",
                    "entry": name,
                    "target": target,
                    "lab": "",
                    "direction": _direction(target),
                    **{c: per[c] for c in PER_TARGET_STATS},
                    "best_entry": target_best or "",
                    "diff_vs_best": comp["diff"],
                    "diff_low": comp["diff_low"],
                    "diff_high": comp["diff_high"],
                    "diff_method": comp["method"],
                    "tied_with_best": comp["tied_with_best"],
                    "paired_p": comp["clustered_p"],
                    "paired_p_method": comp["clustered_method"],
                    "delong_p": comp["delong_p"],
                    "ci_inverted": False,
                    "issues": "",
                }
            )
    return summary, targets, comparisons


def _direction(target: str) -> str:
    for direction in ("low", "high"):
        if target.endswith("_" + direction):
            return direction
    return ""


def _empty_comparison(**values: Any) -> dict[str, Any]:
    out = {
        "best_entry": "",
        "auroc": float("nan"),
        "best_auroc": float("nan"),
        "diff": float("nan"),
        "diff_low": float("nan"),
        "diff_high": float("nan"),
        "n_boot_used": 0,
        "method": "",
        "tied_with_best": pd.NA,
        "clustered_se": float("nan"),
        "clustered_p": float("nan"),
        "clustered_low": float("nan"),
        "clustered_high": float("nan"),
        "clustered_method": "",
        "delong_diff": float("nan"),
        "delong_se": float("nan"),
        "delong_p": float("nan"),
        "delong_low": float("nan"),
        "delong_high": float("nan"),
        "delong_method": "",
        "note": "",
    }
    out.update(values)
    return out


def _tied(low: float, high: float) -> Any:
    return bool(low <= 0.0 <= high) if np.isfinite(low) and np.isfinite(high) else pd.NA


def _macro_comparison(
    s: Scored, best: Scored | None, best_vec: np.ndarray | None, alpha: float
) -> dict[str, Any]:
    if best is None or not np.isfinite(s.macro):
        return _empty_comparison(auroc=s.macro, note="no defined macro AUROC")
    base = {"best_entry": best.entry.name, "auroc": s.macro, "best_auroc": best.macro}
    if s is best:
        return _empty_comparison(
            **base, diff=0.0, diff_low=0.0, diff_high=0.0, tied_with_best=True, method="best"
        )
    vec = macro_vector(s)
    if vec is None or best_vec is None:
        why = s.reason if vec is None else f"best entry: {best.reason}"
        return _empty_comparison(
            **base, diff=s.macro - best.macro, note=f"no paired interval: {why or 'no resamples'}"
        )
    low, high, used = interval(vec - best_vec, alpha)
    return _empty_comparison(
        **base,
        diff=s.macro - best.macro,
        diff_low=low,
        diff_high=high,
        n_boot_used=used,
        method="paired bootstrap by patient (stored resamples): macro AUROC difference",
        tied_with_best=_tied(low, high),
    )


def _target_comparison(
    s: Scored, best: Scored | None, target: str, data: TaskData, alpha: float
) -> dict[str, Any]:
    auroc = float(s.per_target.at[target, "auroc"])
    if best is None or not np.isfinite(auroc):
        return _empty_comparison(auroc=auroc, note="AUROC undefined (a single class among the test labels)")
    best_auroc = float(best.per_target.at[target, "auroc"])
    base = {"best_entry": best.entry.name, "auroc": auroc, "best_auroc": best_auroc}
    if s is best:
        return _empty_comparison(
            **base, diff=0.0, diff_low=0.0, diff_high=0.0, tied_with_best=True, method="best"
        )
    if s.vectors is None or best.vectors is None:
        why = s.reason if s.vectors is None else f"best entry: {best.reason}"
        return _empty_comparison(**base, diff=auroc - best_auroc, note=f"no paired interval: {why}")
    j_a = s.entry.first.targets.index(target)
    j_b = best.entry.first.targets.index(target)
    used = int(np.sum(~np.isnan(s.vectors[j_a] - best.vectors[j_b])))
    if len(s.entry.runs) == 1 and len(best.entry.runs) == 1:
        try:
            a = data.prediction(s.entry.first.run_id)
            b = data.prediction(best.entry.first.run_id)
        except (RunRefused, KeyError, ValueError, OSError) as err:
            return _empty_comparison(**base, diff=auroc - best_auroc, note=f"no paired test: {err}")
        labels = masked(a.labels[:, j_a], a.scores[:, j_a], b.scores[:, j_b])
        scores_a = np.nan_to_num(a.scores[:, j_a])
        scores_b = np.nan_to_num(b.scores[:, j_b])
        paired = metrics.paired_bootstrap_diff(labels, scores_a, scores_b, data.counts, alpha=alpha)
        tests = paired_clustered(s.entry.runs, best.entry.runs, target, data, alpha)
        note = tests.pop("clustered_note")
        return _empty_comparison(
            **base,
            diff=paired.diff,
            diff_low=paired.low,
            diff_high=paired.high,
            n_boot_used=used,
            method="paired bootstrap by patient (stored resamples)",
            tied_with_best=_tied(paired.low, paired.high),
            note=note,
            **tests,
        )
    low, high, used = interval(s.vectors[j_a] - best.vectors[j_b], alpha)
    tests = paired_clustered(s.entry.runs, best.entry.runs, target, data, alpha)
    seeds_note = "DeLong's test compares two single-seed models: not computed for seed means"
    note = "; ".join(n for n in (tests.pop("clustered_note"), seeds_note) if n)
    return _empty_comparison(
        **base,
        diff=auroc - best_auroc,
        diff_low=low,
        diff_high=high,
        n_boot_used=used,
        method="paired bootstrap by patient (stored resamples, mean over seeds)",
        tied_with_best=_tied(low, high),
        note=note,
        **tests,
    )

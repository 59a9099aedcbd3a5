"""Assembling a leaderboard from result files only (run folders and checked submission files), never from
MLflow; and writing it out as CSV tables, Markdown and an HTML page.

``build_leaderboard(inputs)`` reads run folders (``run.json``, ``results.parquet``, ``predictions.parquet``
and the stored bootstrap resamples named in ``run.json``) and submission files, and returns a
``Leaderboard`` of plain data frames (floats stay floats; formatting happens only when rendering):

- ``summary``: one row per backbone configuration ("entry") x task: macro AUROC (mean over targets of the
  test AUROC; with several seeds the mean over seeds, their SD, min and max) with a confidence interval,
  AnyECG-Lab tier counts (>= 0.65, 0.55-0.65, < 0.55; of the seed-mean AUROCs), number of targets and
  seeds, rank, and whether the entry is tied with the best;
- ``targets``: one row per entry x task x target: AUROC with its interval, seed spread, and the paired
  comparison with the target's best entry;
- ``comparisons``: paired comparisons with the best entry of each task (macro) and target
  (:mod:`ecglab.leaderboards.comparisons`);
- ``curves``: macro AUROC against the task's window or horizon (:mod:`ecglab.leaderboards.curves`);
- ``refused``: runs and submission files left out, each with its reason (results are checked before they
  are published: :mod:`ecglab.leaderboards.validation`; a submission file by its own check), counted in a
  note; when every input is refused, LeaderboardError instead;
- published reference rows in ``summary`` and ``targets`` with ``source == "published"``
  (:mod:`ecglab.leaderboards.published_rows`).

Rows are comparable only when task version, task digest and cohort hash match
(:mod:`ecglab.leaderboards.comparability`).

Intervals. A single-seed target interval is the stored percentile bootstrap by patient from
``results.parquet``. Every other interval is computed from the task's stored resamples (a count matrix,
rows = test anchors in task order, the order of the test rows of ``predictions.parquet``; its row count is
verified): per resample the AUROC of each target (``metrics.bootstrap_aurocs``), averaged over seeds, and
for the macro AUROC over targets; resamples where a target has a single class are skipped and counted.
One resample file serves all runs of a task (the most common one), so every entry is scored on the same
resamples. Where predictions or resamples are missing (submissions carry aggregates only) the interval is
NaN with the reason; it is never invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.leaderboards.calibration_tables import calibration_tables
from ecglab.leaderboards.comparability import comparable_runs
from ecglab.leaderboards.comparisons import compare
from ecglab.leaderboards.curves import curves, families
from ecglab.leaderboards.errors import LeaderboardError
from ecglab.leaderboards.external_table import external_table
from ecglab.leaderboards.html_export import write_figures
from ecglab.leaderboards.inputs import RunResult, load_results
from ecglab.leaderboards.lead_table import lead_table
from ecglab.leaderboards.published_rows import published_rows
from ecglab.leaderboards.regression_table import regression_table
from ecglab.leaderboards.render_html import render_html
from ecglab.leaderboards.render_markdown import render_markdown
from ecglab.leaderboards.resamples import TaskData, task_data
from ecglab.leaderboards.scoring import Entry, Scored, entry_key, entry_names, macro_interval, score_entry
from ecglab.leaderboards.subgroup_table import subgroup_table
from ecglab.leaderboards.tables import (
    ALPHA,
    COMPARISON_COLUMNS,
    REFUSED_COLUMNS,
    SUMMARY_COLUMNS,
    TARGET_COLUMNS,
    TIER_COLUMNS,
    TIER_KEYS,
    Leaderboard,
    table_frame,
)
from ecglab.leaderboards.task_info import TaskInfo, task_info

OUTPUT_FILES = {
    "summary": "summary.csv",
    "targets": "targets.csv",
    "comparisons": "comparisons.csv",
    "curves": "curves.csv",
    "refused": "refused.csv",
    "calibration": "calibration.csv",
    "reliability": "reliability.csv",
    "subgroups": "subgroups.csv",
    "regression": "regression.csv",
    "leads": "leads.csv",
    "external": "external.csv",
    "markdown": "leaderboard.md",
    "html": "index.html",
}


def build_leaderboard(
    inputs: Sequence[str | Path],
    *,
    published: bool = True,
    cohort_hash: str | None = None,
    alpha: float = ALPHA,
    title: str = "ecglab leaderboard",
) -> Leaderboard:
    """Build the leaderboard of run folders, folders of run folders and checked submission files.
    ``published`` adds the published reference rows of the tasks present (all published tables when there
    are no inputs). Raises ComparabilityError when a task mixes cohorts or task versions (see the module
    docstring)."""
    if not 0 < alpha < 1:
        raise LeaderboardError(f"alpha must lie in (0, 1); got {alpha}")
    runs, refused = load_results(inputs)
    notes: list[str] = []
    by_task = comparable_runs(runs, cohort_hash, refused)
    if refused and not by_task:
        raise LeaderboardError(all_refused(refused))
    names = entry_names([r for rs in by_task.values() for r in rs])
    summary_rows: list[dict] = []
    target_rows: list[dict] = []
    comparison_rows: list[dict] = []
    infos: dict[str, TaskInfo] = {}
    named: dict[str, list[tuple[str, RunResult]]] = {}  # per task, (entry name, run) of every run scored
    for task, task_runs in by_task.items():
        infos[task] = task_info(task_runs[0])
        named[task] = [(names[entry_key(r)], r) for r in _unique_runs(task_runs, []).values()]
        s, t, c = score_task(task, task_runs, names, alpha, notes)
        summary_rows += s
        target_rows += t
        comparison_rows += c
    if published:
        ps, pt, pn = published_rows(None if not runs and not refused else list(by_task))
        summary_rows += ps
        target_rows += pt
        notes += pn
        if by_task and not ps:
            notes.append("no published reference table for these tasks")
    summary = table_frame(summary_rows, SUMMARY_COLUMNS)
    family_of = families(summary, infos)
    summary["family"] = [
        family_of.get((t, c), "") for t, c in zip(summary["task"], summary["cohort_hash"], strict=True)
    ]
    for entry in refused:
        notes.append(f"refused {entry['origin']}: {entry['reason']}")
    if refused:
        notes.append(
            f"{len(refused)} input(s) refused, not published (listed with the reason in refused.csv)"
        )
    calibration, reliability = calibration_tables(named)
    targets = table_frame(target_rows, TARGET_COLUMNS)
    return Leaderboard(
        title=title,
        summary=summary,
        targets=targets,
        comparisons=table_frame(comparison_rows, COMPARISON_COLUMNS),
        curves=curves(summary),
        refused=pd.DataFrame(refused, columns=REFUSED_COLUMNS),
        notes=notes,
        alpha=alpha,
        calibration=calibration,
        reliability=reliability,
        subgroups=subgroup_table(named),
        regression=regression_table(named),
        leads=lead_table(targets, infos),
        external=external_table(named),
    )


def all_refused(refused: list[dict[str, Any]], shown: int = 2) -> str:
    """The one-line error when every input was refused: how many, and the first reasons."""
    first = "; ".join(f"{r['origin']}: {r['reason']}" for r in refused[:shown])
    more = f"; and {len(refused) - shown} more" if len(refused) > shown else ""
    return f"every input was refused ({len(refused)}), nothing to publish: {first}{more}"


def score_task(
    task: str, task_runs: list[RunResult], names: dict, alpha: float, notes: list[str]
) -> tuple[list[dict], list[dict], list[dict]]:
    """The summary, target and comparison rows of one task's runs (each run once, grouped into entries)."""
    unique = _unique_runs(task_runs, notes)
    entries: dict[str, Entry] = {}
    for run in sorted(unique.values(), key=lambda r: (names[entry_key(r)], r.seed)):
        name = names[entry_key(run)]
        entries.setdefault(name, Entry(name, [])).runs.append(run)
    target_sets = {tuple(sorted(r.targets)) for r in unique.values()}
    if len(target_sets) > 1:
        notes.append(f"task {task}: runs evaluate different target sets; macro AUROCs cover each run's own")
    data = task_data(list(unique.values()))
    scored = {name: score_entry(entry, data, alpha) for name, entry in entries.items()}
    info = task_info(next(iter(unique.values())))
    summary, targets, comparisons = compare(task, scored, data, alpha)
    first = next(iter(unique.values()))
    for row in summary:
        row.update(_summary_values(scored[row["entry"]], first, info, data, alpha))
    for row in targets:
        row.update(task_version=first.task_version, cohort_hash=first.cohort_hash, source="ecglab")
        s = scored[row["entry"]]
        row.update(backbone=s.entry.first.backbone, preset=s.entry.first.preset, label=s.entry.first.label)
    return summary, targets, comparisons


def _unique_runs(task_runs: list[RunResult], notes: list[str]) -> dict[str, RunResult]:
    """Each run once, by run id: a run given twice counts once (a run folder, with predictions, first)."""
    unique: dict[str, RunResult] = {}
    for run in sorted(task_runs, key=lambda r: r.run_dir is None):  # run folders (with predictions) first
        if run.run_id in unique:
            notes.append(
                f"run {run.run_id[:16]} given twice ({unique[run.run_id].origin}, {run.origin}): "
                f"the first is used"
            )
            continue
        unique[run.run_id] = run
    return unique


def _summary_values(
    s: Scored, first: RunResult, info: TaskInfo, data: TaskData, alpha: float
) -> dict[str, Any]:
    """The summary columns of one entry beyond its rank and comparison: identity, macro AUROC with its
    interval and seed spread, tier counts, the task's window or horizon."""
    tiers = metrics.tier_counts(s.per_target["auroc"].to_numpy())
    low, high, used, method, note = macro_interval(s, alpha)
    seeds = s.entry.seeds
    return dict(
        task_version=first.task_version,
        task_digest=first.task_digest,
        training_digest=first.training_digest,
        cohort_name=first.cohort_name,
        cohort_hash=first.cohort_hash,
        source="ecglab",
        study="",
        published_task="",
        backbone=s.entry.first.backbone,
        backbone_kind=s.entry.first.backbone_kind,
        preset=s.entry.first.preset,
        label=s.entry.first.label,
        config_key=s.entry.first.config_key,
        n_targets=len(s.per_target),
        n_targets_defined=int(s.per_target["auroc"].notna().sum()),
        n_seeds=len(seeds),
        seeds=";".join(str(x) for x in seeds),
        macro_auroc=s.macro,
        macro_auroc_low=low,
        macro_auroc_high=high,
        macro_ci_method=method,
        macro_n_boot_used=used,
        macro_ci_note=note,
        macro_auroc_sd=float(np.std(s.macro_seeds, ddof=1)) if len(seeds) > 1 else float("nan"),
        macro_auroc_min=float(np.min(s.macro_seeds)),
        macro_auroc_max=float(np.max(s.macro_seeds)),
        n_ci_inverted=0,
        task_kind=info.kind,
        axis=info.axis or "",
        minutes=info.minutes if info.minutes is not None else float("nan"),
        family="",
        bootstrap_file=str(data.counts_file) if data.counts_file else "",
        run_ids=";".join(r.run_id for r in s.entry.runs),
        note="",
        **dict(zip(TIER_COLUMNS, (tiers[k] for k in TIER_KEYS), strict=True)),
    )


def write_leaderboard(board: Leaderboard, out: str | Path) -> dict[str, Path]:
    """Write the CSV tables, the Markdown, the HTML page and each figure as an SVG file into ``out``;
    returns the paths by kind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / name for kind, name in OUTPUT_FILES.items()}
    board.summary.to_csv(paths["summary"], index=False)
    board.targets.to_csv(paths["targets"], index=False)
    board.comparisons.to_csv(paths["comparisons"], index=False)
    board.curves.to_csv(paths["curves"], index=False)
    board.refused.to_csv(paths["refused"], index=False)
    for kind in ("calibration", "reliability", "subgroups", "regression", "leads", "external"):
        getattr(board, kind).to_csv(paths[kind], index=False)
    paths["markdown"].write_text(render_markdown(board), encoding="utf-8")
    paths["html"].write_text(render_html(board), encoding="utf-8")
    paths.update(write_figures(board, out))
    return paths

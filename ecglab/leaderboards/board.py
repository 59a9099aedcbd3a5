"""Leaderboards built only from result files (run folders and checked submission files), never from MLflow.

``build_leaderboard(inputs)`` reads run folders (``run.json``, ``results.parquet``, ``predictions.parquet``
and the stored bootstrap resamples named in ``run.json``) and submission files, and returns a
``Leaderboard`` of plain data frames (floats stay floats; formatting happens only when rendering):

- ``summary``: one row per backbone configuration ("entry") x task: macro AUROC (mean over targets of the
  test AUROC; with several seeds the mean over seeds, their SD, min and max) with a confidence interval,
  AnyECG-Lab tier counts (>= 0.65, 0.55-0.65, < 0.55; of the seed-mean AUROCs), number of targets and
  seeds, rank, and whether the entry is tied with the best;
- ``targets``: one row per entry x task x target: AUROC with its interval, seed spread, and the paired
  comparison with the target's best entry;
- ``comparisons``: paired comparisons with the best entry of each task (macro) and target: the difference
  with its bootstrap interval over the stored resamples shared by all runs of the task
  (``metrics.paired_bootstrap_diff`` for single-seed entries), and DeLong's paired test; an entry is tied
  with the best when the interval of its difference includes 0;
- ``curves``: macro AUROC against the task's window or horizon (minutes) for tasks of one family (tasks
  sharing a training digest, or one name pattern and kind such as ``cardiolab_forecast_{m}min``);
- ``refused``: runs left out, each with its reason; and published reference rows (AnyECG-Lab Table 2,
  CardioLab Tables 1-2) in ``summary`` and ``targets`` with ``source == "published"``: the studies' numbers
  as published, not re-run, validated on load (an inverted published interval is flagged, never swapped).

Rows are comparable only when task version, task digest and cohort hash match: mixing results of one task
from two cohorts (or task versions) raises ``ComparabilityError`` naming both, unless a cohort hash is
chosen (``cohort_hash=``), in which case the others are refused with the reason.

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

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.bench import metrics
from ecglab.errors import EcglabError
from ecglab.leaderboards.submission import config_key, find_run_folders, load_submission

ALPHA = 0.05
MACRO = "(macro)"
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
TIER_COLUMNS = ("n_auroc_ge_065", "n_auroc_055_065", "n_auroc_lt_055", "n_auroc_undefined")
TIER_KEYS = (">=0.65", "0.55-0.65", "<0.55", "undefined")

SUMMARY_COLUMNS = [
    "task",
    "task_version",
    "task_digest",
    "training_digest",
    "cohort_name",
    "cohort_hash",
    "source",
    "study",
    "published_task",
    "entry",
    "backbone",
    "backbone_kind",
    "preset",
    "label",
    "config_key",
    "rank",
    "n_targets",
    "n_targets_defined",
    "n_seeds",
    "seeds",
    "macro_auroc",
    "macro_auroc_low",
    "macro_auroc_high",
    "macro_ci_method",
    "macro_n_boot_used",
    "macro_ci_note",
    "macro_auroc_sd",
    "macro_auroc_min",
    "macro_auroc_max",
    *TIER_COLUMNS,
    "best_entry",
    "macro_diff_vs_best",
    "macro_diff_low",
    "macro_diff_high",
    "tied_with_best",
    "comparison_note",
    "n_ci_inverted",
    "task_kind",
    "axis",
    "minutes",
    "family",
    "bootstrap_file",
    "run_ids",
    "note",
]
TARGET_COLUMNS = [
    "task",
    "task_version",
    "cohort_hash",
    "source",
    "study",
    "published_task",
    "entry",
    "backbone",
    "preset",
    "label",
    "target",
    "lab",
    "direction",
    "n",
    "n_pos",
    "n_seeds",
    "auroc",
    "auroc_low",
    "auroc_high",
    "ci_method",
    "n_boot_used",
    "ci_note",
    "auroc_sd",
    "auroc_min",
    "auroc_max",
    "delong_low",
    "delong_high",
    "auprc",
    "best_entry",
    "diff_vs_best",
    "diff_low",
    "diff_high",
    "tied_with_best",
    "delong_p",
    "ci_inverted",
    "issues",
]
COMPARISON_COLUMNS = [
    "task",
    "cohort_hash",
    "level",
    "target",
    "entry",
    "best_entry",
    "auroc",
    "best_auroc",
    "diff",
    "diff_low",
    "diff_high",
    "n_boot_used",
    "method",
    "tied_with_best",
    "delong_diff",
    "delong_se",
    "delong_p",
    "delong_low",
    "delong_high",
    "note",
]
CURVE_COLUMNS = [
    "family",
    "axis",
    "minutes",
    "task",
    "cohort_hash",
    "entry",
    "macro_auroc",
    "macro_auroc_low",
    "macro_auroc_high",
    "n_seeds",
]
REFUSED_COLUMNS = ["origin", "run_id", "backbone", "task", "cohort_hash", "reason"]
# the per-target statistics of a target row: the TARGET_COLUMNS from "n" to "auprc"
PER_TARGET_STATS = tuple(TARGET_COLUMNS[TARGET_COLUMNS.index("n") : TARGET_COLUMNS.index("auprc") + 1])
FLOAT_INT = ("n", "n_pos", "n_seeds", "n_boot_used", "rank", "macro_n_boot_used", "n_ci_inverted")


class LeaderboardError(EcglabError):
    """A leaderboard cannot be built from these inputs."""


class ComparabilityError(LeaderboardError):
    """Results of one task come from different cohorts or task versions: they cannot share a table."""


class RunRefused(LeaderboardError):
    """A run left out of the leaderboard, or of its resampling (the reason is reported)."""


class SearchTrial(RunRefused):
    """A validation-only run of a hyperparameter search: never a leaderboard row, and not worth a refusal."""


# ------------------------------------------------------------------------------------------------ inputs
@dataclass
class RunResult:
    """One run's test results, from a run folder or a submission file."""

    run_id: str
    origin: str
    source: str  # "run folder" or "submission"
    backbone: str
    backbone_kind: str
    preset: str
    label: str
    config_key: str
    seed: int
    task: str
    task_version: str
    task_digest: str
    training_digest: str
    cohort_name: str
    cohort_hash: str
    results: pd.DataFrame  # test rows, one per target
    run_dir: Path | None = None
    bootstrap_file: Path | None = None
    task_specs: tuple[str, ...] = ()

    @property
    def targets(self) -> list[str]:
        return list(self.results["target"])


def load_run_folder(run_dir: str | Path) -> RunResult:
    """A finished run folder's test results. Raises RunRefused when the run is not finished, lacks results,
    or has no test split."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    config = record.get("config", {})
    if record.get("status") != "finished":
        error = f" ({record['error']})" if record.get("error") else ""
        raise RunRefused(f"status {record.get('status')!r}, not finished{error}")
    if not (run_dir / "results.parquet").is_file():
        raise RunRefused("no results.parquet")
    results = pd.read_parquet(run_dir / "results.parquet")
    test = results[results["split"] == "test"].reset_index(drop=True)
    if test.empty:
        if config.get("evaluate_test") is False:
            raise SearchTrial("a validation-only run of a hyperparameter search")
        raise RunRefused("no test results")
    bootstrap = record.get("bootstrap") or {}
    return RunResult(
        run_id=record["run_id"],
        origin=str(run_dir),
        source="run folder",
        backbone=config["backbone"],
        backbone_kind=record.get("backbone", {}).get("kind", ""),
        preset=config.get("preset", ""),
        label=config.get("label", "") or "",
        config_key=config_key(config),
        seed=int(config.get("seed", 0)),
        task=record["task"]["name"],
        task_version=str(record["task"]["version"]),
        task_digest=record["task"]["digest"],
        training_digest=record["task"].get("training_digest", ""),
        cohort_name=record["cohort"].get("name", ""),
        cohort_hash=record["cohort"]["hash"],
        results=_test_columns(test),
        run_dir=run_dir,
        bootstrap_file=(run_dir.parent / bootstrap["file"]) if bootstrap.get("file") else None,
        task_specs=tuple(config.get("task_specs", ())),
    )


def _test_columns(test: pd.DataFrame) -> pd.DataFrame:
    wanted = ["target", "n", "n_pos", "auroc", "auroc_low", "auroc_high", "n_boot_used"]
    wanted += ["delong_low", "delong_high", "auprc"]
    out = pd.DataFrame({"target": test["target"].astype(str)})
    for column in wanted[1:]:
        out[column] = pd.to_numeric(test[column]).astype("float64") if column in test else np.nan
    return out


def submission_runs(path: str | Path) -> list[RunResult]:
    """The runs of a submission file (checked first: an invalid file raises SubmissionError)."""
    frame = load_submission(path)
    runs = []
    for run_id, rows in frame.groupby("run_id", sort=False):
        first = rows.iloc[0]
        test = rows[rows["split"] == "test"].reset_index(drop=True)
        runs.append(
            RunResult(
                run_id=str(run_id),
                origin=f"{path} (submission)",
                source="submission",
                backbone=first["backbone"],
                backbone_kind=first["backbone_kind"],
                preset=first["preset"],
                label=first["label"],
                config_key=first["config_key"],
                seed=int(first["seed"]),
                task=first["task"],
                task_version=first["task_version"],
                task_digest=first["task_digest"],
                training_digest=first["training_digest"],
                cohort_name=first["cohort_name"],
                cohort_hash=first["cohort_hash"],
                results=_test_columns(test),
            )
        )
    return runs


def load_results(inputs: Iterable[str | Path]) -> tuple[list[RunResult], list[dict[str, Any]]]:
    """Runs of run folders, folders of run folders and submission files (``.csv``/``.parquet``), and the
    refused run folders with their reasons."""
    runs: list[RunResult] = []
    refused: list[dict[str, Any]] = []
    for raw in inputs:
        path = Path(raw)
        if path.name == "run.json" and path.is_file():
            path = path.parent
        if path.is_file():
            runs.extend(submission_runs(path))
            continue
        try:
            folders = find_run_folders([path])
        except EcglabError as err:
            raise LeaderboardError(str(err)) from err
        for run_dir in folders:
            try:
                runs.append(load_run_folder(run_dir))
            except SearchTrial:
                continue  # search trials live beside benchmark runs; their tuned re-run is the row
            except (RunRefused, KeyError, ValueError, OSError) as err:
                reason = str(err) if isinstance(err, RunRefused) else f"unreadable run folder: {err!r}"
                refused.append(_refusal(str(run_dir), reason, _record_or_empty(run_dir)))
    return runs, refused


def _record_or_empty(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def _refusal(origin: str, reason: str, record: dict[str, Any] | None = None, run: RunResult | None = None):
    if run is not None:
        return {
            "origin": run.origin,
            "run_id": run.run_id,
            "backbone": run.backbone,
            "task": run.task,
            "cohort_hash": run.cohort_hash,
            "reason": reason,
        }
    record = record or {}
    return {
        "origin": origin,
        "run_id": record.get("run_id", ""),
        "backbone": record.get("config", {}).get("backbone", ""),
        "task": record.get("task", {}).get("name", record.get("config", {}).get("task", "")),
        "cohort_hash": record.get("cohort", {}).get("hash", ""),
        "reason": reason,
    }


# ------------------------------------------------------------------------------------------------ tasks
@dataclass(frozen=True)
class TaskInfo:
    """What a task's name and registered spec say about its window or horizon."""

    name: str
    kind: str
    axis: str | None  # "window" | "horizon"
    minutes: float | None
    template: str | None  # the name with its minutes replaced, e.g. "anyecg_lab_est_{m}min"
    tags: tuple[str, ...]
    training_digest: str


_MINUTES = re.compile(r"(\d+(?:\.\d+)?)min")


def task_info(run: RunResult) -> TaskInfo:
    """Window or horizon of a run's task: from the registered spec when its digest matches the run's,
    else read from the task name (``..._15min``; ``forecast`` in the name means a horizon)."""
    from ecglab.leaderboards.submission import _register_specs
    from ecglab.tasks.registry import get_task

    _register_specs(run.task_specs)
    matches = list(_MINUTES.finditer(run.task))
    template = _MINUTES.sub("{m}min", run.task) if matches else None
    try:
        spec = get_task(run.task)
    except KeyError:
        spec = None
    if spec is not None and spec.digest() == run.task_digest:
        forecast = spec.kind == "forecast"
        minutes = spec.horizon_min if forecast else spec.window_min
        return TaskInfo(
            run.task,
            spec.kind,
            "horizon" if forecast else "window",
            float(minutes) if minutes else None,
            template,
            tuple(spec.tags),
            run.training_digest,
        )
    forecast = "forecast" in run.task
    minutes = float(matches[-1].group(1)) if matches else None
    return TaskInfo(
        run.task,
        "forecast" if forecast else "estimation",
        "horizon" if forecast else "window",
        minutes,
        template,
        (),
        run.training_digest,
    )


def _comparable(
    runs: list[RunResult], cohort_hash: str | None, refused: list[dict[str, Any]]
) -> dict[str, list[RunResult]]:
    """Runs per task; raises ComparabilityError when one task mixes cohorts or task versions."""
    by_task: dict[str, list[RunResult]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    kept: dict[str, list[RunResult]] = {}
    for task, task_runs in sorted(by_task.items()):
        if cohort_hash:
            chosen = [r for r in task_runs if r.cohort_hash.startswith(cohort_hash)]
            for run in task_runs:
                if not run.cohort_hash.startswith(cohort_hash):
                    refused.append(
                        _refusal(
                            run.origin,
                            f"cohort hash {run.cohort_hash[:12]} is not the chosen cohort {cohort_hash}",
                            run=run,
                        )
                    )
            task_runs = chosen
        groups: dict[tuple[str, str, str], list[RunResult]] = {}
        for run in task_runs:
            groups.setdefault((run.task_version, run.task_digest, run.cohort_hash), []).append(run)
        if len(groups) > 1:
            raise ComparabilityError(_mixing_message(task, groups))
        if task_runs:
            kept[task] = task_runs
    return kept


def _mixing_message(task: str, groups: dict[tuple[str, str, str], list[RunResult]]) -> str:
    keys = list(groups)
    differ = []
    if len({k[0] for k in keys}) > 1:
        differ.append("task version")
    if len({k[2] for k in keys}) > 1:
        differ.append("cohort hash")
    if len({k[1] for k in keys}) > 1 and len({k[0] for k in keys}) == 1:
        differ.append("task digest (the spec changed without a new version)")
    lines = [
        f"task {task}: results come from {len(groups)} different task versions or cohorts, and rows are "
        f"comparable only when task version and cohort hash match (they differ in {', '.join(differ)}):"
    ]
    for (version, digest, cohort), runs in groups.items():
        names = sorted({r.cohort_name for r in runs if r.cohort_name})
        origins = ", ".join(r.origin for r in runs[:3]) + (" ..." if len(runs) > 3 else "")
        lines.append(
            f"  - v{version}, task digest {digest[:12]}, cohort {'/'.join(names) or '?'} hash {cohort[:12]}: "
            f"{len(runs)} run(s): {origins}"
        )
    lines.append(
        "Build one leaderboard per cohort and task version: pass only one cohort's results, or choose one "
        "with --cohort-hash PREFIX (the others are then refused and listed)."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ entries
@dataclass
class _Entry:
    name: str
    runs: list[RunResult]

    @property
    def first(self) -> RunResult:
        return self.runs[0]

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]


def _entry_key(run: RunResult) -> tuple[str, str, str, str]:
    return (run.backbone, run.preset, run.label, run.config_key)


def _entry_names(runs: list[RunResult]) -> dict[tuple[str, str, str, str], str]:
    """Display names: ``backbone/preset``, `` [label]`` when labelled, and a configuration hash where two
    configurations would otherwise share a name."""
    keys = sorted({_entry_key(r) for r in runs})
    base = {k: f"{k[0]}/{k[1]}" + (f" [{k[2]}]" if k[2] else "") for k in keys}
    counts = Counter(base.values())
    return {k: base[k] + (f" #{k[3][:6]}" if counts[base[k]] > 1 else "") for k in keys}


@dataclass
class _Predictions:
    anchors: np.ndarray
    labels: np.ndarray  # anchors x targets, int8 in {1, 0, -1}
    scores: np.ndarray  # anchors x targets, float64


def _load_predictions(run: RunResult) -> _Predictions:
    """The test predictions as (anchors x targets) matrices, anchors in task order (the order of the test
    rows of predictions.parquet), targets in the order of the run's results."""
    if run.run_dir is None:
        raise RunRefused("submitted aggregates: no predictions to resample")
    path = run.run_dir / "predictions.parquet"
    if not path.is_file():
        raise RunRefused(f"{path} is missing")
    frame = pd.read_parquet(
        path, columns=["anchor_id", "split", "target", "label", "score"], filters=[("split", "==", "test")]
    )
    anchors = pd.unique(frame["anchor_id"].to_numpy())
    targets = pd.Index(run.targets)
    target_pos = targets.get_indexer(frame["target"].astype(str).to_numpy())
    if (target_pos < 0).any() or len(frame) != len(anchors) * len(targets):
        raise RunRefused(
            f"{path}: the test predictions do not hold one row per test anchor and target of results.parquet"
        )
    anchor_pos = pd.Index(anchors).get_indexer(frame["anchor_id"].to_numpy())
    labels = np.full((len(anchors), len(targets)), -1, dtype=np.int8)
    scores = np.full((len(anchors), len(targets)), np.nan)
    labels[anchor_pos, target_pos] = frame["label"].to_numpy()
    scores[anchor_pos, target_pos] = frame["score"].to_numpy(dtype=np.float64)
    return _Predictions(np.asarray(anchors), labels, scores)


def _masked(labels: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    """Labels with rows whose score (of any of ``scores``) is not finite marked unobserved, as the engine
    does when it computes results."""
    keep = np.ones(labels.shape, dtype=bool)
    for s in scores:
        keep &= np.isfinite(s)
    return np.where(keep, labels, -1).astype(np.int8)


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float, int]:
    used = values[~np.isnan(values)]
    if used.size == 0:
        return float("nan"), float("nan"), 0
    low, high = np.quantile(used, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), int(used.size)


@dataclass
class _TaskData:
    """The shared resamples of one task and, per run, its predictions and per-resample AUROCs."""

    counts: np.ndarray | None = None
    counts_file: Path | None = None
    reason: str = ""
    predictions: dict[str, _Predictions] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # run id -> why no resampling
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # run id -> targets x resamples

    def why(self, run: RunResult) -> str:
        return self.unavailable.get(run.run_id, self.reason)


def _task_data(runs: list[RunResult]) -> _TaskData:
    data = _TaskData()
    for run in runs:
        try:
            data.predictions[run.run_id] = _load_predictions(run)
        except RunRefused as err:
            data.unavailable[run.run_id] = str(err)
        except (KeyError, ValueError, OSError) as err:
            data.unavailable[run.run_id] = f"predictions.parquet unreadable: {err!r}"
    loaded = [r for r in runs if r.run_id in data.predictions]
    if not loaded:
        data.reason = "no run of this task has predictions"
        return data
    reference = data.predictions[loaded[0].run_id]
    for run in loaded[1:]:
        pred = data.predictions[run.run_id]
        if not np.array_equal(pred.anchors, reference.anchors) or not np.array_equal(
            pred.labels, reference.labels
        ):
            del data.predictions[run.run_id]
            data.unavailable[run.run_id] = (
                "its test anchors or labels differ from the other runs of this task: no paired resampling"
            )
    files = Counter(
        r.bootstrap_file
        for r in loaded
        if r.run_id in data.predictions and r.bootstrap_file is not None and r.bootstrap_file.is_file()
    )
    if not files:
        data.reason = "no stored bootstrap resamples (the file named in run.json is missing)"
        return data
    seed_of = {r.bootstrap_file: r.seed for r in loaded}
    best = max(files.values())
    chosen = min((f for f, c in files.items() if c == best), key=lambda f: (seed_of[f], str(f)))
    try:
        counts = np.load(chosen)
    except (OSError, ValueError) as err:
        data.reason = f"{chosen}: unreadable bootstrap resamples ({err!r})"
        return data
    n = len(reference.anchors)
    if counts.ndim != 2 or counts.shape[1] != n:
        data.reason = (
            f"{chosen}: {counts.shape[1] if counts.ndim == 2 else '?'} resample columns, but {n} test "
            "anchors in predictions.parquet: the resamples do not belong to these predictions"
        )
        return data
    data.counts, data.counts_file = counts, chosen
    for run_id, pred in data.predictions.items():
        labels = _masked(pred.labels, pred.scores)
        vectors = np.full((labels.shape[1], counts.shape[0]), np.nan)
        for j in range(labels.shape[1]):
            observed = labels[:, j] != -1
            n_pos = int((labels[observed, j] == 1).sum())
            if 0 < n_pos < int(observed.sum()):
                vectors[j] = metrics.bootstrap_aurocs(labels[:, j], pred.scores[:, j], counts)
        data.vectors[run_id] = vectors
    return data


# ------------------------------------------------------------------------------------------------ scoring
@dataclass
class _Scored:
    entry: _Entry
    per_target: pd.DataFrame  # indexed by target
    macro: float
    macro_seeds: list[float]
    vectors: np.ndarray | None  # targets x resamples: seed-mean per-resample AUROCs
    reason: str  # why vectors is None


def _score_entry(entry: _Entry, data: _TaskData, alpha: float) -> _Scored:
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
            _interval(vectors[j], alpha)
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
    per_seed = [float(r.results["auroc"].mean()) for r in entry.runs]
    macro = float(per["auroc"].mean()) if per["auroc"].notna().any() else float("nan")
    return _Scored(entry, per, macro, per_seed, vectors, reason)


def _macro_vector(scored: _Scored) -> np.ndarray | None:
    if scored.vectors is None:
        return None
    defined = scored.per_target["auroc"].notna().to_numpy()
    if not defined.any():
        return None
    return scored.vectors[defined].mean(axis=0)  # NaN where any defined target has a single-class resample


def _score_task(
    task: str, task_runs: list[RunResult], names: dict, alpha: float, notes: list[str]
) -> tuple[list[dict], list[dict], list[dict]]:
    unique: dict[str, RunResult] = {}
    for run in sorted(task_runs, key=lambda r: r.run_dir is None):  # run folders (with predictions) first
        if run.run_id in unique:
            notes.append(
                f"run {run.run_id[:16]} given twice ({unique[run.run_id].origin}, {run.origin}): "
                f"the first is used"
            )
            continue
        unique[run.run_id] = run
    entries: dict[str, _Entry] = {}
    for run in sorted(unique.values(), key=lambda r: (names[_entry_key(r)], r.seed)):
        name = names[_entry_key(run)]
        entries.setdefault(name, _Entry(name, [])).runs.append(run)
    target_sets = {tuple(sorted(r.targets)) for r in unique.values()}
    if len(target_sets) > 1:
        notes.append(f"task {task}: runs evaluate different target sets; macro AUROCs cover each run's own")
    data = _task_data(list(unique.values()))
    scored = {name: _score_entry(entry, data, alpha) for name, entry in entries.items()}
    info = task_info(next(iter(unique.values())))
    summary, targets, comparisons = _compare(task, scored, data, alpha)
    first = next(iter(unique.values()))
    for row in summary:
        s = scored[row["entry"]]
        tiers = metrics.tier_counts(s.per_target["auroc"].to_numpy())
        macro_vec = _macro_vector(s)
        if macro_vec is not None:
            low, high, used = _interval(macro_vec, alpha)
            method, note = "bootstrap by patient: mean over targets of per-resample AUROCs", ""
            if used < 0.95 * macro_vec.size:
                note = (
                    f"{macro_vec.size - used} of {macro_vec.size} resamples skipped (a target with a single "
                    "class in the resample)"
                )
        else:
            low = high = float("nan")
            used, method = 0, ""
            note = s.reason or "no target with a defined AUROC"
        seeds = s.entry.seeds
        row.update(
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
    for row in targets:
        row.update(task_version=first.task_version, cohort_hash=first.cohort_hash, source="ecglab")
        s = scored[row["entry"]]
        row.update(backbone=s.entry.first.backbone, preset=s.entry.first.preset, label=s.entry.first.label)
    return summary, targets, comparisons


def _compare(
    task: str, scored: dict[str, _Scored], data: _TaskData, alpha: float
) -> tuple[list[dict], list[dict], list[dict]]:
    """Ranks, macro and per-target comparisons with the best entry; per-target rows."""
    order = sorted(scored, key=lambda n: (-scored[n].macro if np.isfinite(scored[n].macro) else np.inf, n))
    best = order[0] if np.isfinite(scored[order[0]].macro) else None
    cohort = next(iter(scored.values())).entry.first.cohort_hash
    summary, targets, comparisons = [], [], []
    best_vec = _macro_vector(scored[best]) if best else None
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
                    "tied_with_best": comp["tied_with_best"],
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
        "delong_diff": float("nan"),
        "delong_se": float("nan"),
        "delong_p": float("nan"),
        "delong_low": float("nan"),
        "delong_high": float("nan"),
        "note": "",
    }
    out.update(values)
    return out


def _tied(low: float, high: float) -> Any:
    return bool(low <= 0.0 <= high) if np.isfinite(low) and np.isfinite(high) else pd.NA


def _macro_comparison(
    s: _Scored, best: _Scored | None, best_vec: np.ndarray | None, alpha: float
) -> dict[str, Any]:
    if best is None or not np.isfinite(s.macro):
        return _empty_comparison(auroc=s.macro, note="no defined macro AUROC")
    base = {"best_entry": best.entry.name, "auroc": s.macro, "best_auroc": best.macro}
    if s is best:
        return _empty_comparison(
            **base, diff=0.0, diff_low=0.0, diff_high=0.0, tied_with_best=True, method="best"
        )
    vec = _macro_vector(s)
    if vec is None or best_vec is None:
        why = s.reason if vec is None else f"best entry: {best.reason}"
        return _empty_comparison(
            **base, diff=s.macro - best.macro, note=f"no paired interval: {why or 'no resamples'}"
        )
    low, high, used = _interval(vec - best_vec, alpha)
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
    s: _Scored, best: _Scored | None, target: str, data: _TaskData, alpha: float
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
        a = data.predictions[s.entry.first.run_id]
        b = data.predictions[best.entry.first.run_id]
        labels = _masked(a.labels[:, j_a], a.scores[:, j_a], b.scores[:, j_b])
        scores_a = np.nan_to_num(a.scores[:, j_a])
        scores_b = np.nan_to_num(b.scores[:, j_b])
        paired = metrics.paired_bootstrap_diff(labels, scores_a, scores_b, data.counts, alpha=alpha)
        delong = metrics.delong_test(labels, scores_a, scores_b, alpha=alpha)
        return _empty_comparison(
            **base,
            diff=paired.diff,
            diff_low=paired.low,
            diff_high=paired.high,
            n_boot_used=used,
            method="paired bootstrap by patient (stored resamples)",
            tied_with_best=_tied(paired.low, paired.high),
            delong_diff=delong.diff,
            delong_se=delong.se,
            delong_p=delong.p_value,
            delong_low=delong.ci[0],
            delong_high=delong.ci[1],
        )
    low, high, used = _interval(s.vectors[j_a] - best.vectors[j_b], alpha)
    return _empty_comparison(
        **base,
        diff=auroc - best_auroc,
        diff_low=low,
        diff_high=high,
        n_boot_used=used,
        method="paired bootstrap by patient (stored resamples, mean over seeds)",
        tied_with_best=_tied(low, high),
        note="DeLong's test compares two single-seed models: not computed for seed means",
    )


# ------------------------------------------------------------------------------------------------ published
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
    from ecglab.leaderboards.published import load_published

    wanted = None if tasks is None else set(tasks)
    summary, targets, notes = [], [], []
    for study in ("anyecg_lab", "cardiolab"):
        table = load_published(study)
        for published_task, rows in table.groupby("task", sort=False):
            task = PUBLISHED_TASKS.get((study, str(published_task)))
            if task is None or (wanted is not None and task not in wanted):
                continue
            entry = PUBLISHED_ENTRY[study]
            for row in rows.itertuples():
                target = _published_target_id(study, str(row.lab), str(row.direction))
                targets.append(
                    {
                        **dict.fromkeys(TARGET_COLUMNS, float("nan")),
                        "task": task,
                        "task_version": "",
                        "cohort_hash": "",
                        "source": "published",
                        "study": study,
                        "published_task": str(published_task),
                        "entry": entry,
                        "backbone": PUBLISHED_BACKBONE[study],
                        "preset": "",
                        "label": "published, not re-run",
                        "target": target,
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
                )
                if row.ci_inverted:
                    notes.append(
                        f"{entry}, {task} ({published_task}), {row.lab} {row.direction}: {row.issues}: "
                        f"AUROC {row.auroc:.3f} with interval [{row.ci_low:.3f}-{row.ci_high:.3f}] as printed"
                    )
            aurocs = rows["auroc"].to_numpy(dtype=float)
            tiers = metrics.tier_counts(aurocs)
            full_panel = study == "anyecg_lab"
            summary.append(
                {
                    **dict.fromkeys(SUMMARY_COLUMNS, float("nan")),
                    "task": task,
                    "task_version": "",
                    "task_digest": "",
                    "training_digest": "",
                    "cohort_name": "MC-MED (published)" if study == "anyecg_lab" else "MIMIC-IV (published)",
                    "cohort_hash": "",
                    "source": "published",
                    "study": study,
                    "published_task": str(published_task),
                    "entry": entry,
                    "backbone": PUBLISHED_BACKBONE[study],
                    "backbone_kind": "published",
                    "preset": "",
                    "label": "published, not re-run",
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
            )
    return summary, targets, notes


# ------------------------------------------------------------------------------------------------ curves
def _families(summary: pd.DataFrame, infos: dict[str, TaskInfo]) -> dict[tuple[str, str], str]:
    """(task, cohort hash) -> family name, for tasks sharing a training digest or a name pattern and kind."""
    own = summary[summary["source"] == "ecglab"]
    keys = sorted({(t, c) for t, c in zip(own["task"], own["cohort_hash"], strict=True) if t in infos})
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


def _curves(summary: pd.DataFrame) -> pd.DataFrame:
    own = summary[summary["source"] == "ecglab"]
    rows = []
    for _, row in own.iterrows():
        if row["family"]:
            rows.append({c: row.get(c) for c in CURVE_COLUMNS})
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return frame.sort_values(["family", "cohort_hash", "entry", "minutes"], ignore_index=True)


# ------------------------------------------------------------------------------------------------ build
@dataclass
class Leaderboard:
    """The tables of a leaderboard (floats as floats) and its notes."""

    title: str
    summary: pd.DataFrame
    targets: pd.DataFrame
    comparisons: pd.DataFrame
    curves: pd.DataFrame
    refused: pd.DataFrame
    notes: list[str]
    alpha: float = ALPHA

    def task_names(self) -> list[str]:
        return list(dict.fromkeys(self.summary["task"]))


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
    by_task = _comparable(runs, cohort_hash, refused)
    names = _entry_names([r for rs in by_task.values() for r in rs])
    summary_rows: list[dict] = []
    target_rows: list[dict] = []
    comparison_rows: list[dict] = []
    infos: dict[str, TaskInfo] = {}
    for task, task_runs in by_task.items():
        infos[task] = task_info(task_runs[0])
        s, t, c = _score_task(task, task_runs, names, alpha, notes)
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
    summary = _frame(summary_rows, SUMMARY_COLUMNS)
    families = _families(summary, infos)
    summary["family"] = [
        families.get((t, c), "") for t, c in zip(summary["task"], summary["cohort_hash"], strict=True)
    ]
    for entry in refused:
        notes.append(f"refused {entry['origin']}: {entry['reason']}")
    return Leaderboard(
        title=title,
        summary=summary,
        targets=_frame(target_rows, TARGET_COLUMNS),
        comparisons=_frame(comparison_rows, COMPARISON_COLUMNS),
        curves=_curves(summary),
        refused=pd.DataFrame(refused, columns=REFUSED_COLUMNS),
        notes=notes,
        alpha=alpha,
    )


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in FLOAT_INT or column in TIER_COLUMNS:
            frame[column] = pd.to_numeric(frame[column]).astype("Float64").round().astype("Int64")
        elif column in ("tied_with_best", "ci_inverted"):
            frame[column] = frame[column].astype("boolean")
        elif column in ("seeds", "run_ids", "label", "note", "issues", "ci_note", "macro_ci_note"):
            frame[column] = frame[column].fillna("").astype(str)
        elif frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, str)).all():
            frame[column] = frame[column].astype(str)
    return frame


# ------------------------------------------------------------------------------------------------ render
def fmt_auroc(value: Any, low: Any = None, high: Any = None) -> str:
    """ "0.812 [0.801-0.823]"; the interval is left out when missing; "n/a" for an undefined AUROC. An
    interval is shown as given, even inverted (published values are never swapped)."""
    if value is None or pd.isna(value):
        return "n/a"
    text = f"{float(value):.3f}"
    if low is not None and high is not None and not pd.isna(low) and not pd.isna(high):
        text += f" [{float(low):.3f}-{float(high):.3f}]"
    return text


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _count(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))


def _tie_text(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return "yes" if bool(value) else "no"


def render_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: per task, the summary table and a per-target table, then the curves and
    notes. AUROCs read "0.812 [0.801-0.823]" (95% intervals unless alpha says otherwise)."""
    level = round(100 * (1 - board.alpha))
    lines = [
        f"# {board.title}",
        "",
        f"Built from result files by ecglab. AUROC with {level}% confidence interval: `0.812 [0.801-0.823]`. "
        "Rows are comparable only within a task with one task version and cohort hash. Rows marked "
        "*published* are the reference studies' numbers as published, not re-run by ecglab (other cohort "
        "and code). Tiers follow AnyECG-Lab: AUROC >= 0.65, 0.55-0.65, < 0.55.",
        "",
    ]
    summary, targets = board.summary, board.targets
    for task in board.task_names():
        rows = summary[summary["task"] == task]
        own = rows[rows["source"] == "ecglab"]
        lines.append(f"## {_md(task)}")
        lines.append("")
        if not own.empty:
            first = own.iloc[0]
            lines.append(
                f"Task version {first['task_version']}, cohort {_md(first['cohort_name'])} "
                f"(`{first['cohort_hash'][:12]}`)."
            )
            lines.append("")
        lines.append(
            "| Rank | Backbone | Source | Macro AUROC | Seed SD | Seeds | Targets | >= 0.65 | 0.55-0.65 | "
            "< 0.55 | Tied with best |"
        )
        lines.append("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|")
        for _, r in rows.iterrows():
            published = r["source"] == "published"
            macro = fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"])
            if published and pd.isna(r["macro_auroc"]):
                macro = "n/a (subset)"
            sd = "" if pd.isna(r["macro_auroc_sd"]) else f"{r['macro_auroc_sd']:.3f}"
            lines.append(
                f"| {_count(r['rank'])} | {_md(r['entry'])} | {'*published*' if published else 'ecglab'} | "
                f"{macro} | {sd} | {_count(r['n_seeds'])} | {_count(r['n_targets'])} | "
                f"{_count(r['n_auroc_ge_065'])} | {_count(r['n_auroc_055_065'])} | "
                f"{_count(r['n_auroc_lt_055'])} | {_tie_text(r['tied_with_best'])} |"
            )
        lines.append("")
        for _, r in rows[rows["source"] == "published"].iterrows():
            lines.append(f"*{_md(r['entry'])}*: {_md(r['note'])}; macro AUROC: {_md(r['macro_ci_note'])}.")
            lines.append("")
        lines += _markdown_targets(targets[targets["task"] == task])
    if not board.curves.empty:
        lines += _markdown_curves(board.curves)
    if board.notes:
        lines += ["## Notes", ""] + [f"- {_md(n)}" for n in board.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def shown_targets(rows: pd.DataFrame) -> tuple[list[str], int]:
    """Targets to draw for one task's target rows: those the project's runs evaluate, best first (all
    targets, by published AUROC, when there are only published rows); and how many published-only targets
    are left out."""
    own = rows[rows["source"] == "ecglab"]
    ranked = own if not own.empty else rows
    order = ranked.groupby("target", sort=False)["auroc"].max().sort_values(ascending=False).index
    targets = list(dict.fromkeys([*order, *ranked["target"]]))
    return targets, int(rows["target"].nunique() - len(targets))


def _markdown_targets(rows: pd.DataFrame) -> list[str]:
    if rows.empty:
        return []
    entries = list(dict.fromkeys(rows["entry"]))
    targets, left_out = shown_targets(rows)
    cells = {(r["target"], r["entry"]): r for _, r in rows.iterrows()}
    omitted = (
        f" {left_out} published targets that no run here evaluates are in targets.csv." if left_out else ""
    )
    lines = [
        "Per target (AUROC [CI]; * tied with the target's best; ! published interval inverted, kept as "
        f"published).{omitted}",
        "",
        "| Target | " + " | ".join(_md(e) for e in entries) + " |",
        "|---|" + "---|" * len(entries),
    ]
    for target in targets:
        parts = []
        for entry in entries:
            r = cells.get((target, entry))
            if r is None:
                parts.append("")
                continue
            text = fmt_auroc(r["auroc"], r["auroc_low"], r["auroc_high"])
            if r["source"] == "ecglab" and not pd.isna(r["tied_with_best"]) and bool(r["tied_with_best"]):
                text += " *"
            if not pd.isna(r["ci_inverted"]) and bool(r["ci_inverted"]):
                text += " !"
            parts.append(text)
        lines.append(f"| {_md(target)} | " + " | ".join(parts) + " |")
    lines.append("")
    return lines


def _markdown_curves(curves: pd.DataFrame) -> list[str]:
    lines = ["## Macro AUROC by window and horizon", ""]
    for (family, axis), rows in curves.groupby(["family", "axis"], sort=False):
        minutes = sorted(rows["minutes"].unique())
        lines.append(f"{_md(family)} (by {axis}, minutes):")
        lines.append("")
        lines.append("| Backbone | " + " | ".join(f"{m:g} min" for m in minutes) + " |")
        lines.append("|---|" + "---|" * len(minutes))
        for entry, part in rows.groupby("entry", sort=False):
            by_minute = {m: r for m, r in zip(part["minutes"], part.to_dict("records"), strict=True)}
            cells = [
                fmt_auroc(r["macro_auroc"], r["macro_auroc_low"], r["macro_auroc_high"]) if r else ""
                for r in (by_minute.get(m) for m in minutes)
            ]
            lines.append(f"| {_md(entry)} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_leaderboard(board: Leaderboard, out: str | Path) -> dict[str, Path]:
    """Write the CSV tables, the Markdown and the HTML page into ``out``; returns the paths by kind."""
    from ecglab.leaderboards.render_html import render_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": out / "summary.csv",
        "targets": out / "targets.csv",
        "comparisons": out / "comparisons.csv",
        "curves": out / "curves.csv",
        "refused": out / "refused.csv",
        "markdown": out / "leaderboard.md",
        "html": out / "index.html",
    }
    board.summary.to_csv(paths["summary"], index=False)
    board.targets.to_csv(paths["targets"], index=False)
    board.comparisons.to_csv(paths["comparisons"], index=False)
    board.curves.to_csv(paths["curves"], index=False)
    board.refused.to_csv(paths["refused"], index=False)
    paths["markdown"].write_text(render_markdown(board), encoding="utf-8")
    paths["html"].write_text(render_html(board), encoding="utf-8")
    return paths

"""One trial: sample its configuration, train it with :func:`ecglab.bench.engine.run_pairing` on a
``RunConfig`` with ``evaluate_test=False`` (the engine then never scores the test split), and return the
validation macro AUROC read from the run's ``results.parquet`` (rows with ``split == "val"``; a results
file holding test rows is refused).

After every epoch the engine's ``epoch_callback`` reports the validation macro AUROC to the trial; when the
pruner says so the callback raises :class:`~ecglab.bench.engine.PrunedRun` (the run folder is marked
``pruned``) and the trial ends as pruned (``optuna.TrialPruned``). Trial run folders sit in the runs folder
like any run (each labelled ``optuna:STUDY:UID:N``, so two trials never share a folder), without checkpoints
unless ``keep_checkpoints``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecglab.bench.config import RunConfig, derive_config, launched_world_size, run_id
from ecglab.bench.run_folder import is_run_folder, run_folder
from ecglab.bench.tracking import log_run
from ecglab.bench.tune.mlflow_runs import log_trial, log_unfinished
from ecglab.bench.tune.settings import METRIC, TRIAL_OPTIONS, TRIAL_OVERRIDES, TuneError
from ecglab.bench.tune.space import sample_options
from ecglab.bench.tune.study import TuneStudy, as_json
from ecglab.errors import EcglabError

INHERITED_ATTRS = ("ecglab.error", "ecglab.error_kind", "ecglab.tracking_error", "ecglab.mlflow_run_id")


def pruning_callback(
    trial: Any, scores: list[tuple[int, float]] | None = None
) -> Callable[[int, float], None]:
    """The engine's epoch callback for a trial: report the validation macro AUROC, raise PrunedRun when the
    pruner says so. Epochs with no finite score are not reported (and cannot prune)."""
    from ecglab.bench.engine import PrunedRun

    def report(epoch: int, score: float) -> None:
        if scores is not None:
            scores.append((epoch, score))
        if not math.isfinite(score):
            return
        trial.report(score, epoch)
        if trial.should_prune():
            raise PrunedRun(f"trial {trial.number} pruned after epoch {epoch} ({METRIC} {score:.4f})")

    return report


def validation_macro_auroc(run_dir: str | Path) -> float:
    """The mean validation AUROC over targets (targets without both classes left out). A results file with
    test rows is refused: a search must never see the test split."""
    import pandas as pd

    results = pd.read_parquet(Path(run_dir) / "results.parquet", columns=["split", "auroc"])
    if (results["split"] == "test").any():
        raise TuneError(f"{run_dir}/results.parquet holds test rows; a search must use validation only")
    values = results.loc[results["split"] == "val", "auroc"].astype("float64").dropna()
    if values.empty:
        raise TuneError(f"{run_dir}: no target has both classes in the validation split (no AUROC)")
    return float(values.mean())


def drop_checkpoints(run_dir: Path) -> None:
    for name in ("best.pt", "last.pt"):
        (run_dir / name).unlink(missing_ok=True)


@dataclass
class Objective:
    """The study's objective for this worker: ``objective(trial)`` runs one trial and returns its value.
    ``uri``, ``experiment`` and ``parent`` are the MLflow view (None: no tracking)."""

    tuned: TuneStudy
    runs_dir: Path
    space: Callable[[Any], Mapping[str, Any]] | None
    spec: Any  # the task's TaskSpec
    keep_checkpoints: bool = False
    progress: bool = False
    uri: str | None = None
    experiment: str | None = None
    parent: str | None = None
    row_level: bool = False  # also log the trials' predictions (patient and anchor ids) to MLflow
    errors: list[str] = field(default_factory=list)  # "trial N: error" of the trials that failed

    def trial_config(self, trial: Any) -> RunConfig:
        """The trial's run configuration: the study's, with the sampled options, on validation only."""
        base, tuned = self.tuned.base, self.tuned
        options, overrides = sample_options(trial, base.backbone, self.space)
        trial.set_user_attr(TRIAL_OPTIONS, as_json(options))
        trial.set_user_attr(TRIAL_OVERRIDES, as_json(overrides))
        changes = {
            "backbone_options": {**base.backbone_options, **options},
            "evaluate_test": False,
            "label": f"optuna:{tuned.name}:{tuned.uid[:8]}:{trial.number}",
            **overrides,
        }
        return derive_config(base, changes, source=f"trial {trial.number} of study {tuned.name!r}")

    def __call__(self, trial: Any) -> float:
        import optuna

        from ecglab.bench import engine

        for name in INHERITED_ATTRS:  # a retried trial carries its failed original's
            if trial.user_attrs.get(name):
                trial.set_user_attr(name, "")
        config = self.trial_config(trial)
        identifier = run_id(
            config, self.spec.version, self.spec.digest(), self.tuned.cohort_hash, launched_world_size()
        )
        run_dir = run_folder(self.runs_dir, identifier)
        trial.set_user_attr("ecglab.run_dir", str(run_dir))
        trial.set_user_attr("ecglab.run_id", identifier)
        scores: list[tuple[int, float]] = []
        tags = {"ecglab.study": self.tuned.name, "ecglab.trial": str(trial.number)}
        uri, experiment, parent = self.uri, self.experiment or "ecglab", self.parent
        try:
            engine.run_pairing(
                config,
                self.runs_dir,
                progress=self.progress,
                track=False,
                epoch_callback=pruning_callback(trial, scores),
            )
        except engine.PrunedRun as err:
            if not self.keep_checkpoints:
                drop_checkpoints(run_dir)
            if uri is not None and parent is not None:
                self._track(lambda: log_unfinished(run_dir, scores, uri, experiment, parent, tags), trial)
            raise optuna.TrialPruned(str(err)) from None
        except Exception as err:
            message = f"{type(err).__name__}: {err}"
            self.errors.append(f"trial {trial.number}: {message}")
            trial.set_user_attr("ecglab.error", message[:2000])
            trial.set_user_attr("ecglab.error_kind", "user" if isinstance(err, EcglabError) else "crash")
            if is_run_folder(run_dir) and uri is not None:
                self._track(
                    lambda: log_run(
                        run_dir, uri, experiment, parent_run_id=parent, tags=tags, row_level=self.row_level
                    ),
                    trial,
                )
            raise
        value = validation_macro_auroc(run_dir)
        if not self.keep_checkpoints:
            drop_checkpoints(run_dir)
        if uri is not None:
            self._track(
                lambda: log_trial(run_dir, uri, experiment, parent, tags, value, self.row_level), trial
            )
        return value

    def _track(self, log: Callable[[], str], trial: Any) -> None:
        try:
            trial.set_user_attr("ecglab.mlflow_run_id", log())
        except Exception as err:  # MLflow is a view: the trial's result stands
            trial.set_user_attr("ecglab.tracking_error", str(err)[:2000])
            print(f"ecglab: warning: trial {trial.number}: not logged to MLflow: {err}", file=sys.stderr)

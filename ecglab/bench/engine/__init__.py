"""Train and evaluate one (backbone, task) pairing; write the run folder; then track it in MLflow.

The run folder (``RUNS/<run id>/``, named by :func:`ecglab.bench.run_folder.run_folder`) is the data of
record: ``run.json`` (the typed :class:`~ecglab.bench.run_folder.RunRecord`: configuration, status,
timings, provenance), ``history.jsonl`` (per epoch), ``results.parquet`` (one row per target and split),
``predictions.parquet`` (anchor, patient, split, target, label, score), ``best.pt`` and ``last.pt``.
Each file is written atomically; ``last.pt`` after every epoch lets ``resume`` continue an interrupted run
exactly (data order and dropout are seeded by seed and epoch). Under ``torchrun`` the same command trains
with DistributedDataParallel (on one machine or several); every rank scores its shard of the evaluation
inputs and rank 0 gathers them, computes the metrics and writes.

Modules: ``distributed`` (ranks), ``prepare`` (task data, run id, model), ``training`` (epochs and
checkpoints), ``evaluate`` (scores, results and predictions), ``baselines`` (scikit-learn models) and
``run`` (a pairing from start to end), ``reevaluate`` (a finished run scored again, from its folder),
``external`` and ``external_results`` (a finished run scored on another cohort store) and
``predict_records`` (WFDB records scored with a run's model).
"""

from __future__ import annotations

from ecglab.bench.engine.prepare import RunError
from ecglab.bench.engine.reevaluate import evaluate_run
from ecglab.bench.engine.run import run_pairing
from ecglab.bench.engine.training import EpochCallback, PrunedRun

__all__ = ["EpochCallback", "PrunedRun", "RunError", "evaluate_run", "run_pairing"]

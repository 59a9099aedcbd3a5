"""Hyperparameter search with Optuna, on the validation split only.

A study tunes one (backbone, task) pairing. Each trial samples the backbone's declared search space plus the
framework's ``lr`` and ``weight_decay`` (:mod:`~ecglab.bench.tune.space`), trains it on validation only and
returns the validation macro AUROC, pruned after any epoch when the pruner says so
(:mod:`~ecglab.bench.tune.objective`). The study stores what every worker must share, written once when it
is created (as study user attributes, ``ecglab.*``): the sampler, pruner, their seed and options and the
search space (:mod:`~ecglab.bench.tune.settings`), the run configuration and the cohort's content hash
(:mod:`~ecglab.bench.tune.study`), and the MLflow parent run whose child runs the trials are
(:mod:`~ecglab.bench.tune.mlflow_runs`). Studies live in any SQLAlchemy storage or a journal file shared
without a server (:mod:`~ecglab.bench.tune.storage`, :mod:`~ecglab.bench.tune.journal`), named by
``--storage`` or ``$ECGLAB_OPTUNA_STORAGE``; every storage fails and retries a killed worker's trials. A
study of a preset searches that preset's space (:mod:`~ecglab.bench.tune.space`). A worker runs its trials
with :func:`tune` (:mod:`~ecglab.bench.tune.search`), and :func:`run_best` runs the best trial on the test
split, labelled ``tuned`` (:mod:`~ecglab.bench.tune.best`). The public functions and classes are
re-exported here.
"""

from ecglab.bench.tune.best import best_config, run_best
from ecglab.bench.tune.mlflow_runs import ensure_parent_run
from ecglab.bench.tune.objective import pruning_callback, validation_macro_auroc
from ecglab.bench.tune.search import TuneResult, tune
from ecglab.bench.tune.settings import StudySettings, TuneError, trial_seeded_sampler
from ecglab.bench.tune.space import sample_options
from ecglab.bench.tune.storage import default_storage, open_storage, resolve_storage
from ecglab.bench.tune.study import TuneStudy, open_study

__all__ = [
    "StudySettings",
    "TuneError",
    "TuneResult",
    "TuneStudy",
    "best_config",
    "default_storage",
    "ensure_parent_run",
    "open_storage",
    "open_study",
    "pruning_callback",
    "resolve_storage",
    "run_best",
    "sample_options",
    "trial_seeded_sampler",
    "tune",
    "validation_macro_auroc",
]

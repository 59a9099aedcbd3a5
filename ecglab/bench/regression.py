"""Lab values as regression targets (RunConfig ``objective``: ``gaussian_nll`` or ``mse``).

The task's values (:mod:`ecglab.tasks.values`) are transformed (``value_transform``: ``log``, ``none``, or
``auto``: log where every training value and the threshold are > 0) and standardised with the training
split's mean and SD per target (:class:`ValueScaling`, stored with the model as a buffer, so ``best.pt``
holds what evaluation inverts). ``gaussian_nll`` predicts a mean and a log-variance per target, ``mse`` a
mean. An anchor's prediction pools its inputs: the mean of the means, and (gaussian) the mean of the
variances plus the variance of the means. Its score for a target is P(abnormal) under the predicted
Gaussian, P(value > threshold) for ``high`` and P(value < threshold) for ``low``, in the transformed space;
with ``mse`` the variance is 1 (in SDs of the training values), a monotone map of the predicted value. So the
classification files (results, resamples, calibration) hold the same kind of numbers for either objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr

from ecglab.errors import EcglabError
from ecglab.tasks.build import TaskData

CLASSIFICATION = "classification"
REGRESSION_OBJECTIVES = ("gaussian_nll", "mse")
LOG_VARIANCE_RANGE = (-9.0, 9.0)  # the predicted log-variance (in training SDs squared) is clamped to this
MIN_VARIANCE = 1e-6


class RegressionError(EcglabError):
    """A regression objective cannot train on this task (no values, a log transform of values <= 0)."""


@dataclass(frozen=True)
class ValueScaling:
    """Per target: whether values are logged, the training mean and SD of the transformed values, the
    threshold in standardised units and the direction's sign (+1 high, -1 low)."""

    log: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    threshold_z: np.ndarray
    sign: np.ndarray

    def as_array(self) -> np.ndarray:
        """The five rows (targets as columns), as the model's ``value_scaling`` buffer holds them."""
        return np.stack([self.log.astype(np.float64), self.center, self.scale, self.threshold_z, self.sign])

    @classmethod
    def from_array(cls, array: np.ndarray) -> ValueScaling:
        """The scaling a :meth:`as_array` array (or a model's buffer) holds."""
        array = np.asarray(array, dtype=np.float64)
        return cls(array[0] > 0.5, array[1], array[2], array[3], array[4])

    def transformed(self, values: np.ndarray) -> np.ndarray:
        """Values (anchors x targets, lab units) in the transformed space, not standardised."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.log, np.log(values), values)

    def standardise(self, values: np.ndarray) -> np.ndarray:
        """Values in lab units -> standardised transformed values (NaN stays NaN)."""
        return (self.transformed(values) - self.center) / self.scale

    def invert(self, z: np.ndarray) -> np.ndarray:
        """Standardised transformed values -> lab units (for a logged lab: the predicted median)."""
        raw = z * self.scale + self.center
        with np.errstate(over="ignore"):
            return np.where(self.log, np.exp(raw), raw)

    def threshold_in_z(self, thresholds: np.ndarray) -> np.ndarray:
        """Thresholds (lab units, one per target) in standardised units (NaN where a logged lab's is <= 0)."""
        thresholds = np.asarray(thresholds, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (
                np.where(self.log, np.log(np.where(thresholds > 0, thresholds, np.nan)), thresholds)
                - self.center
            ) / self.scale


def fit_scaling(task: TaskData, transform: str) -> ValueScaling:
    """The transform, training mean and SD per kept target; RegressionError for a task without values, a
    target without a training value, or a ``log`` transform of a value or threshold <= 0."""
    if task.values is None:
        raise RegressionError(f"task {task.spec.name} holds no lab values (built by an older ecglab?)")
    if transform not in ("auto", "log", "none"):
        raise RegressionError(f"value_transform must be auto, log or none, got {transform!r}")
    kept = task.targets[task.targets["kept"]].reset_index(drop=True)
    train = (task.anchors["split"] == "train").to_numpy()
    thresholds = kept["threshold"].to_numpy(np.float64)
    k = len(kept)
    log, center, scale = np.zeros(k, bool), np.zeros(k), np.ones(k)
    for j, target in enumerate(kept["target"]):
        observed = task.values[train, j][np.isfinite(task.values[train, j])]
        if not len(observed):
            raise RegressionError(
                f"task {task.spec.name}: target {target} has no value in the training split"
            )
        positive = bool((observed > 0).all() and thresholds[j] > 0)
        if transform == "log" and not positive:
            raise RegressionError(
                f"task {task.spec.name}: target {target} has values or a threshold <= 0; value_transform "
                "log needs positive ones (use auto or none)"
            )
        log[j] = positive and transform in ("auto", "log")
        t = np.log(observed) if log[j] else observed
        center[j] = float(t.mean())
        scale[j] = float(t.std()) if t.std() > 0 else 1.0
    sign = np.where(kept["direction"].to_numpy() == "high", 1.0, -1.0)
    partial = ValueScaling(log, center, scale, np.zeros(k), sign)
    return ValueScaling(log, center, scale, partial.threshold_in_z(thresholds), sign)


# ------------------------------------------------------------------------------------------------ the head
def head_width(objective: str) -> int:
    """Head outputs per target: a mean and a log-variance (gaussian_nll), else one."""
    return 2 if objective == "gaussian_nll" else 1


def pool_width(objective: str, n_targets: int) -> int:
    """Columns pooled per input: probabilities (classification), the mean (mse), or mean, variance and
    squared mean (gaussian_nll: the pooled variance is the mean variance plus the variance of the means)."""
    return 3 * n_targets if objective == "gaussian_nll" else n_targets


def split_outputs(outputs: torch.Tensor, n_targets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A gaussian head's outputs as (mean, clamped log-variance), per target."""
    return outputs[:, :n_targets], outputs[:, n_targets:].clamp(*LOG_VARIANCE_RANGE)


def pool_outputs(objective: str, outputs: torch.Tensor, n_targets: int) -> torch.Tensor:
    """What is averaged over an anchor's inputs (see :func:`pool_width`)."""
    if objective == CLASSIFICATION:
        return torch.sigmoid(outputs)
    if objective == "mse":
        return outputs
    mean, log_variance = split_outputs(outputs, n_targets)
    return torch.cat([mean, torch.exp(log_variance), mean * mean], dim=1)


def pooled_distribution(pooled: np.ndarray, objective: str, n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor and target: the predicted mean and variance (standardised) from the pooled columns."""
    mean = pooled[:, :n_targets]
    if objective == "mse":
        return mean, np.ones_like(mean)
    variance = pooled[:, n_targets : 2 * n_targets] + pooled[:, 2 * n_targets :] - mean * mean
    return mean, np.maximum(variance, MIN_VARIANCE)


def abnormal_probability(
    mean: np.ndarray, variance: np.ndarray, threshold_z: np.ndarray, sign: np.ndarray
) -> np.ndarray:
    """P(value > threshold) (sign +1) or P(value < threshold) (sign -1) under N(mean, variance)."""
    return ndtr(sign * (mean - threshold_z) / np.sqrt(variance))


@dataclass(frozen=True)
class ValuePredictions:
    """A regression model's pooled predictions (anchors x targets, standardised; NaN where not scored)."""

    objective: str
    mean: np.ndarray
    variance: np.ndarray
    scaling: ValueScaling

    def scores(self) -> np.ndarray:
        """P(abnormal) at each target's own threshold."""
        s = self.scaling
        return abnormal_probability(self.mean, self.variance, s.threshold_z, s.sign)


def value_predictions(pooled: np.ndarray, objective: str, scaling: ValueScaling) -> ValuePredictions:
    """The pooled columns of a regression model as predictions."""
    mean, variance = pooled_distribution(pooled, objective, len(scaling.center))
    return ValuePredictions(objective, mean, variance, scaling)

"""Losses over a label matrix in {1, 0, -1}: -1 (not measured) is masked, never treated as a negative; and
the regression losses over standardised lab values, NaN (no value) masked the same way."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ecglab.bench.regression import LOG_VARIANCE_RANGE

EPSILON = 1e-8


def observed_counts(labels: torch.Tensor) -> torch.Tensor:
    """Per label (column), how many rows of the batch observe it (a value matrix: how many are finite)."""
    observed = torch.isfinite(labels) if labels.is_floating_point() else labels != -1
    return observed.sum(dim=0).to(torch.float32)


def masked_bce(
    logits: torch.Tensor, labels: torch.Tensor, counts: torch.Tensor | None = None
) -> torch.Tensor:
    """AnyECG-Lab's masked binary cross-entropy: sum over observed labels / (their count + 1e-8).
    ``counts`` (per label, default this batch's :func:`observed_counts`) sets the denominator: under DDP the
    counts of the global batch, so that the ranks' gradients average to the global batch's."""
    mask = (labels != -1).to(logits.dtype)
    targets = labels.clamp(min=0).to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    count = mask.sum() if counts is None else counts.sum().to(logits.dtype)
    return (losses * mask).sum() / (count + EPSILON)


def masked_focal(
    logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0, counts: torch.Tensor | None = None
) -> torch.Tensor:
    """CardioLab's variant: focal binary cross-entropy averaged per label over its observed rows, summed over
    labels (a label with no observed row in the batch adds nothing). ``counts`` as for :func:`masked_bce`."""
    mask = (labels != -1).to(logits.dtype)
    targets = labels.clamp(min=0).to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = torch.exp(-losses)  # probability given to the true class
    focal = (1 - p_true) ** gamma * losses
    per_count = mask.sum(dim=0) if counts is None else counts.to(logits.dtype)
    per_label = (focal * mask).sum(dim=0) / (per_count + EPSILON)
    return per_label.sum()


def _observed(values: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The mask of finite values and the values with every other one set to 0 (no NaN reaches a loss)."""
    mask = torch.isfinite(values)
    return mask, torch.where(mask, values, torch.zeros_like(values)).to(dtype)


def masked_gaussian_nll(
    outputs: torch.Tensor, values: torch.Tensor, counts: torch.Tensor | None = None
) -> torch.Tensor:
    """Gaussian negative log-likelihood of the observed values: ``outputs`` holds a mean per target, then a
    log-variance per target (clamped to ``LOG_VARIANCE_RANGE``); sum over observed values / (their count +
    1e-8), as :func:`masked_bce` (``counts``: the global batch's under DDP)."""
    k = values.shape[1]
    mean, log_variance = outputs[:, :k], outputs[:, k:].clamp(*LOG_VARIANCE_RANGE)
    mask, target = _observed(values, outputs.dtype)
    nll = 0.5 * (log_variance + (target - mean) ** 2 * torch.exp(-log_variance) + math.log(2 * math.pi))
    count = mask.sum() if counts is None else counts.sum().to(outputs.dtype)
    return torch.where(mask, nll, torch.zeros_like(nll)).sum() / (count + EPSILON)


def masked_mse(
    outputs: torch.Tensor, values: torch.Tensor, counts: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error over the observed values (sum / (count + 1e-8), as :func:`masked_bce`)."""
    mask, target = _observed(values, outputs.dtype)
    squared = (target - outputs) ** 2
    count = mask.sum() if counts is None else counts.sum().to(outputs.dtype)
    return torch.where(mask, squared, torch.zeros_like(squared)).sum() / (count + EPSILON)


LOSSES = {"masked_bce": masked_bce, "focal": masked_focal}
REGRESSION_LOSSES = {"gaussian_nll": masked_gaussian_nll, "mse": masked_mse}

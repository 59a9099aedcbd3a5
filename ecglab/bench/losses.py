"""Losses over a label matrix in {1, 0, -1}: -1 (not measured) is masked, never treated as a negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPSILON = 1e-8


def observed_counts(labels: torch.Tensor) -> torch.Tensor:
    """Per label (column), how many rows of the batch observe it."""
    return (labels != -1).sum(dim=0).to(torch.float32)


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


LOSSES = {"masked_bce": masked_bce, "focal": masked_focal}

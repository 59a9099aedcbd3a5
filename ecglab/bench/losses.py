"""Losses over a label matrix in {1, 0, -1}: -1 (not measured) is masked, never treated as a negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPSILON = 1e-8


def masked_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """AnyECG-Lab's masked binary cross-entropy: sum over observed labels / (their count + 1e-8)."""
    mask = (labels != -1).to(logits.dtype)
    targets = labels.clamp(min=0).to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (losses * mask).sum() / (mask.sum() + EPSILON)


def masked_focal(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """CardioLab's variant: focal binary cross-entropy averaged per label over its observed rows, summed over
    labels (a label with no observed row in the batch adds nothing)."""
    mask = (labels != -1).to(logits.dtype)
    targets = labels.clamp(min=0).to(logits.dtype)
    losses = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = torch.exp(-losses)  # probability given to the true class
    focal = (1 - p_true) ** gamma * losses
    per_label = (focal * mask).sum(dim=0) / (mask.sum(dim=0) + EPSILON)
    return per_label.sum()


LOSSES = {"masked_bce": masked_bce, "focal": masked_focal}

"""Late fusion (CardioLab): an ECG backbone's features concatenated with an MLP's features of the tabular
side inputs; the framework's single linear head sits on top of the concatenation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class LateFusion(nn.Module):
    def __init__(
        self,
        backbone: nn.Module,
        n_tabular: int,
        hidden: Sequence[int] = (128, 128, 128),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if n_tabular < 1:
            raise ValueError("late fusion needs at least one tabular feature")
        self.backbone = backbone
        layers: list[nn.Module] = []
        width = n_tabular
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.tabular = nn.Sequential(*layers)
        self.feature_dim = int(backbone.feature_dim) + width

    def forward_features(self, x: torch.Tensor, tabular: torch.Tensor | None = None) -> torch.Tensor:
        if tabular is None:
            raise ValueError("late fusion needs the tabular side inputs of the batch")
        return torch.cat([self.backbone.forward_features(x), self.tabular(tabular)], dim=1)

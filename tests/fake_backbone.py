"""A minimal third-party backbone, registered in tests through the ``ecglab.backbones`` entry-point group."""

from __future__ import annotations

import torch
from torch import nn

from ecglab.backbones.info import BackboneInfo, InputContract


class MeanStd(nn.Module):
    """Per-lead mean and standard deviation, then a linear layer: tiny, but a real backbone."""

    def __init__(self, in_channels: int = 1, width: int = 8) -> None:
        super().__init__()
        self.linear = nn.Linear(2 * in_channels, width)
        self.feature_dim = width

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.cat([x.mean(dim=2), x.std(dim=2)], dim=1))


class Broken(MeanStd):
    """Says it has 8 features but returns NaN features of another size: the checks must say so."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 3), float("nan"))


def build(in_channels: int = 1, width: int = 8) -> MeanStd:
    return MeanStd(in_channels, width)


def build_broken(in_channels: int = 1, width: int = 8) -> Broken:
    return Broken(in_channels, width)


def search_space(trial: object) -> dict[str, int]:
    return {"width": trial.suggest_int("width", 4, 16)}


CONTRACT = InputContract(leads=("II",), fs=100.0, seconds=2.0)
INFO = [
    BackboneInfo(
        name="meanstd",
        factory="fake_backbone:build",
        summary="per-lead mean and std",
        input=CONTRACT,
        presets={"full": {"width": 16}, "tiny": {"width": 8}},
        search_space="fake_backbone:search_space",
    ),
    BackboneInfo(
        name="broken",
        factory="fake_backbone:build_broken",
        summary="fails its checks",
        input=CONTRACT,
        presets={"full": {}, "tiny": {}},
        n_parameters={"full": 1, "tiny": 1},  # deprecated and ignored: the suite says so
    ),
]

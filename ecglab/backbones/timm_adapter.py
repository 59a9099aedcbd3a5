"""Optional adapter (``pip install ecglab[timm]``): any timm 2D image model run on the (leads x time) grid.

The ECG batch (batch, leads, samples) becomes a one-channel image of height ``leads`` and width
``samples``; ``timm.create_model(name, pretrained=False, in_chans=1, num_classes=0)`` returns pooled
features. Nothing is downloaded: pretrained weights come only from a local ``checkpoint`` file the user gives,
read safely and loaded strictly (:mod:`ecglab.backbones.weights`). timm is imported when an adapter is built,
never at ecglab's import time.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from ecglab.backbones.weights import load_strictly, read_weights, state_dict_of


def _timm():  # returns the timm module
    try:
        return importlib.import_module("timm")
    except ImportError as err:
        raise ImportError(
            "the timm backbone needs the optional extra: pip install 'ecglab[timm]' (timm needs torchvision "
            f"built for this torch; here it fails with: {err})"
        ) from err


class TimmBackbone(nn.Module):
    def __init__(self, model_name: str, checkpoint: str | None = None, **timm_options: object) -> None:
        super().__init__()
        timm = _timm()
        self.model = timm.create_model(
            model_name, pretrained=False, in_chans=1, num_classes=0, **timm_options
        )
        if checkpoint is not None:
            state = state_dict_of(checkpoint, read_weights(Path(checkpoint)))
            load_strictly(self.model, state, checkpoint)
        self.feature_dim = int(self.model.num_features)
        self.model_name = model_name

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        features = self.model(x.unsqueeze(1))  # batch x 1 x leads x samples
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise RuntimeError(
                f"timm model {self.model_name} gave features of shape {tuple(features.shape)}, "
                f"expected (batch, {self.feature_dim})"
            )
        return features


def build(
    model_name: str = "resnet18",
    checkpoint: str | None = None,
    in_channels: int | None = None,
    **timm_options: object,
) -> TimmBackbone:
    """``in_channels`` is accepted for a uniform factory signature; leads are the image height."""
    return TimmBackbone(model_name, checkpoint=checkpoint, **timm_options)

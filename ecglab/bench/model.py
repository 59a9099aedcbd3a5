"""The framework's side of a model: a backbone's features, optional late fusion, one linear head; the
fine-tuning modes and the optimizer's parameter groups (per-parameter hints such as S4's A and dt)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ecglab.backbones.fusion import LateFusion
from ecglab.backbones.info import FineTuneLayout
from ecglab.bench.regression import CLASSIFICATION, ValueScaling, head_width, pool_outputs, pool_width


class LabModel(nn.Module):
    """A backbone (with late fusion) and one linear head: a logit per target (``classification``), or for
    a regression ``objective`` the standardised value's mean (and log-variance, ``gaussian_nll``) per
    target, with the ``scaling`` of the values kept as the ``value_scaling`` buffer (saved with it)."""

    def __init__(
        self,
        backbone: nn.Module,
        n_targets: int,
        n_tabular: int = 0,
        objective: str = CLASSIFICATION,
        scaling: ValueScaling | None = None,
    ) -> None:
        super().__init__()
        self.fusion = n_tabular > 0
        self.objective, self.n_targets = objective, n_targets
        self.encoder = LateFusion(backbone, n_tabular) if self.fusion else backbone
        self.head = nn.Linear(int(self.encoder.feature_dim), n_targets * head_width(objective))
        if objective != CLASSIFICATION:
            if scaling is None:
                raise ValueError(f"objective {objective} needs the value scaling")
            self.register_buffer("value_scaling", torch.from_numpy(scaling.as_array()))
        # parameters the backbone itself never trains (e.g. ECGFounder's BatchNorm, unused by the release)
        self.never_trained = frozenset(n for n, p in backbone.named_parameters() if not p.requires_grad)

    @property
    def backbone(self) -> nn.Module:
        return self.encoder.backbone if self.fusion else self.encoder

    def forward(self, x: torch.Tensor, tabular: torch.Tensor | None = None) -> torch.Tensor:
        features = (
            self.encoder.forward_features(x, tabular) if self.fusion else self.encoder.forward_features(x)
        )
        return self.head(features)

    @property
    def pool_width(self) -> int:
        """Columns an input contributes to its anchor's pooled prediction."""
        return pool_width(self.objective, self.n_targets)

    def pool_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        """What is averaged over an anchor's inputs: probabilities, or the regression head's moments."""
        return pool_outputs(self.objective, outputs, self.n_targets)

    @property
    def scaling(self) -> ValueScaling | None:
        """The value scaling of a regression model (None for classification)."""
        if self.objective == CLASSIFICATION:
            return None
        return ValueScaling.from_array(np.asarray(self.value_scaling.detach().cpu().numpy()))


def set_backbone_trainable(
    model: LabModel,
    mode: str,
    epoch: int,
    probe_epochs: int,
    frozen_stages: int,
    layout: FineTuneLayout | None = None,
) -> None:
    """``full``: everything trains; ``linear_probe``: the backbone is frozen (head and fusion MLP train);
    ``probe_then_full``: frozen for the first ``probe_epochs`` epochs, then full; ``frozen_stages``: the stem
    and the first ``frozen_stages`` stages stay frozen, as the backbone's declared ``layout`` names them."""
    if mode == "frozen_stages" and layout is None:
        raise ValueError(
            "fine_tune=frozen_stages needs a backbone that declares its stem and stages "
            "(BackboneInfo.layout), e.g. ecgfounder"
        )
    frozen = mode == "linear_probe" or (mode == "probe_then_full" and epoch < probe_epochs)
    for name, parameter in model.backbone.named_parameters():
        trainable = not frozen and name not in model.never_trained
        if mode == "frozen_stages" and layout is not None:
            stage = layout.stage_of(name)
            if stage is not None and (stage < frozen_stages if stage >= 0 else frozen_stages > 0):
                trainable = False
        parameter.requires_grad_(trainable)


def _hints(model: nn.Module) -> dict[int, dict[str, Any]]:
    """Per-parameter optimizer hints: ``param._optim`` or a module's ``optim_hints`` {name: hints}."""
    hints: dict[int, dict[str, Any]] = {}
    for module in model.modules():
        for name, value in getattr(module, "optim_hints", {}).items():
            parameter = getattr(module, name, None)
            if isinstance(parameter, nn.Parameter):
                hints[id(parameter)] = dict(value)
    for parameter in model.parameters():
        if hasattr(parameter, "_optim"):
            hints[id(parameter)] = dict(parameter._optim)
    return hints


def optimizer_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups, every parameter once; hinted ones (no weight decay, own lr) in groups of their own."""
    hints = _hints(model)
    groups: dict[str, dict[str, Any]] = {}
    for parameter in model.parameters():
        settings = {"lr": lr, "weight_decay": weight_decay, **hints.get(id(parameter), {})}
        key = repr(sorted(settings.items()))
        groups.setdefault(key, {**settings, "params": []})["params"].append(parameter)
    return list(groups.values())

"""The registry's ECGFounder: :class:`Net1D` pooled into features, its factory, search space and lead order.

``build`` is the registry factory (``ecglab.backbones.builtin``); ``search_space`` and ``released_leads`` are
the metadata's ``search_space`` and ``expected_leads``. Input: 500 Hz, 10 s, leads in :func:`released_leads`
order (by name; the 1-lead release is lead I). With ``preprocess=True`` every input record goes through
:func:`~ecglab.backbones.ecgfounder.preprocess.ecgfounder_preprocess` in ``forward_features`` (on the CPU,
with SciPy, per record).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecglab.backbones.ecgfounder.checkpoint import LoadReport, load_checkpoint
from ecglab.backbones.ecgfounder.net1d import Net1D
from ecglab.backbones.ecgfounder.preprocess import ecgfounder_preprocess
from ecglab.backbones.errors import BadOption, check_option_names

__all__ = ["TWELVE_LEADS", "ECGFounder", "build", "released_leads", "search_space"]

# every option ``build`` takes: its own, ECGFounder's sampling rate and Net1D's architecture
OPTIONS = (
    "in_channels",
    "checkpoint",
    "preprocess",
    "fs",
    *(name for name in inspect.signature(Net1D.__init__).parameters if name not in ("self", "in_channels")),
)
TWELVE_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def released_leads(in_channels: int) -> tuple[str, ...]:
    """Lead names, in input order, of the released checkpoint for ``in_channels`` (12: I..V6 with aVL before
    aVF; 1: lead I, the lead the 1-lead model was trained on)."""
    if in_channels == 12:
        return TWELVE_LEADS
    if in_channels == 1:
        return ("I",)
    raise BadOption(f"ECGFounder was released for 12 or 1 lead(s), not {in_channels}")


class ECGFounder(Net1D):
    """The registry backbone: :class:`Net1D` features mean-pooled over time, ``(batch, feature_dim)``."""

    def __init__(self, in_channels: int = 12, preprocess: bool = False, fs: float = 500.0, **config: Any):
        if preprocess and not fs > 100.0:
            raise BadOption(
                f"ECGFounder's preprocessing (a 50 Hz notch, a 0.67-40 Hz band-pass) needs a sampling rate "
                f"above 100 Hz; this task feeds {fs:g} Hz: use a task at 500 Hz or leave preprocess off"
            )
        super().__init__(in_channels=in_channels, **config)
        self.feature_dim: int = self.out_channels
        self.preprocess = preprocess
        self.fs = fs
        self.leads: tuple[str, ...] | None = released_leads(in_channels) if in_channels in (1, 12) else None
        self.load_report: LoadReport | None = None

    def forward_feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, leads, samples) -> (batch, feature_dim, time) before pooling (time = samples / 256)."""
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ECGFounder expects (batch, {self.in_channels}, samples), got {tuple(x.shape)}"
                + (f"; leads in order {', '.join(self.leads)}" if self.leads else "")
            )
        if self.preprocess:
            x = self._preprocess_batch(x)
        return super().forward(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_feature_map(x).mean(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)

    def _preprocess_batch(self, x: torch.Tensor) -> torch.Tensor:
        records = x.detach().to("cpu", torch.float64).numpy()
        cleaned = np.stack([ecgfounder_preprocess(record, fs=self.fs) for record in records])
        return torch.from_numpy(cleaned).to(device=x.device, dtype=x.dtype)


def build(
    in_channels: int = 12, checkpoint: str | Path | None = None, preprocess: bool = False, **config: Any
) -> ECGFounder:
    """The registry factory: an :class:`ECGFounder` of the released architecture unless ``config`` overrides
    it (``base_filters``, ``filter_list``, ``m_blocks_list``, ``kernel_size``, ``groups_width``,
    ``drop_path_rate``), with ``checkpoint`` loaded strictly (report in ``model.load_report``) and, with
    ``preprocess=True``, :func:`ecgfounder_preprocess` applied to every input record in ``forward_features``
    (``fs``, default 500, sets its sampling rate)."""
    check_option_names("ecgfounder", config, OPTIONS)
    model = ECGFounder(in_channels=in_channels, preprocess=preprocess, **config)
    if checkpoint is not None:
        model.load_report = load_checkpoint(model, checkpoint)
    return model


def search_space(trial: Any) -> dict[str, Any]:
    """Options tuned per task: only the stochastic-depth rate. The architecture is fixed by the pretrained
    weights (changing it would discard them); learning rate, schedule and probing-vs-fine-tuning belong to
    the framework's search space, not the backbone's."""
    return {"drop_path_rate": trial.suggest_float("drop_path_rate", 0.0, 0.3)}

"""ECGFounder (PKUDigitalHealth/ECGFounder, "Net1D"): the released backbone, written anew, loadable strictly.

One module per job: ``net1d`` the architecture (module names and key order of the release), ``checkpoint``
strict and safe loading of the released files, ``preprocess`` the published preprocessing, ``model`` the
registry backbone (features mean-pooled over time) with its factory ``build``, ``search_space`` and
``released_leads``. This package re-exports their public names.
"""

from __future__ import annotations

from ecglab.backbones.ecgfounder.checkpoint import (
    NUMPY_SAFE_GLOBALS,
    CheckpointError,
    LoadReport,
    load_checkpoint,
)
from ecglab.backbones.ecgfounder.model import ECGFounder, build, released_leads, search_space
from ecglab.backbones.ecgfounder.net1d import RELEASED_CONFIG, TINY_CONFIG, Net1D
from ecglab.backbones.ecgfounder.preprocess import ecgfounder_preprocess

__all__ = [
    "NUMPY_SAFE_GLOBALS",
    "RELEASED_CONFIG",
    "TINY_CONFIG",
    "CheckpointError",
    "ECGFounder",
    "LoadReport",
    "Net1D",
    "build",
    "ecgfounder_preprocess",
    "load_checkpoint",
    "released_leads",
    "search_space",
]

"""Strict, safe loading of ECGFounder checkpoints: the released training file or a bare state_dict.

:func:`load_checkpoint` reads the released training checkpoint (``{epoch, step, state_dict, optimizer,
scheduler, val_auroc}``) or a bare state_dict with ``torch.load(weights_only=True)``
(:func:`ecglab.backbones.weights.read_weights`); the only non-torch objects allowed are the numpy float64
scalar of ``val_auroc`` (see ``NUMPY_SAFE_GLOBALS``). Loading is strict: the pretraining head ``dense.*`` is
recognised and dropped (reported), anything else missing, unexpected or misshapen raises
:class:`~ecglab.backbones.errors.CheckpointError` (an ``EcglabError``: one line naming the file, how many keys
of each kind and the first few). A DataParallel ``module.`` prefix on every key is stripped (reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ecglab.backbones.errors import CheckpointError
from ecglab.backbones.weights import first_keys, key_problems, mismatch_error, read_weights

__all__ = [
    "DATA_PARALLEL_PREFIX",
    "HEAD_KEYS",
    "NUMPY_SAFE_GLOBALS",
    "CheckpointError",
    "LoadReport",
    "load_checkpoint",
]

HEAD_KEYS = ("dense.weight", "dense.bias")  # the released 150-class pretraining head
DATA_PARALLEL_PREFIX = "module."


def _numpy_scalar_constructor() -> Any:
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 1.26
        from numpy.core.multiarray import scalar
    return scalar


# What torch.save of a numpy.float64 pickles (checked with torch 2.13 / numpy 2): the GLOBAL
# ``numpy._core.multiarray.scalar`` (``numpy.core.multiarray.scalar`` when written under numpy 1.x, as the
# released files were) called on ``numpy.dtype('f8', False, True)``, whose state is then set by BUILD, which
# weights_only allows only for allow-listed classes: ``numpy.dtypes.Float64DType``. Nothing else: any other
# numpy type (or any other object) is refused.
NUMPY_SAFE_GLOBALS: list[Any] = [
    (_numpy_scalar_constructor(), "numpy._core.multiarray.scalar"),
    (_numpy_scalar_constructor(), "numpy.core.multiarray.scalar"),
    np.dtype,
    np.dtypes.Float64DType,
]


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_checkpoint` did with a file."""

    path: str
    layout: str  # "training checkpoint" or "state_dict"
    loaded: tuple[str, ...]  # state_dict keys copied into the model
    n_values: int  # numbers in the loaded tensors (parameters and buffers)
    dropped: dict[str, str] = field(default_factory=dict)  # key -> why it was not loaded
    stripped_prefix: str | None = None  # e.g. "module." (DataParallel) removed from every key
    ignored_entries: tuple[str, ...] = ()  # other top-level entries of a training checkpoint
    epoch: int | None = None
    step: int | None = None
    val_auroc: float | None = None

    def summary(self) -> str:
        lines = [f"{self.path}: {self.layout}, loaded {len(self.loaded)} tensors ({self.n_values:,} values)"]
        if self.stripped_prefix:
            lines.append(f"  stripped the prefix {self.stripped_prefix!r} from every key")
        lines += [f"  dropped {key}: {why}" for key, why in self.dropped.items()]
        if self.ignored_entries:
            lines.append(f"  ignored entries: {', '.join(self.ignored_entries)}")
        meta = {"epoch": self.epoch, "step": self.step, "val_auroc": self.val_auroc}
        if any(v is not None for v in meta.values()):
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in meta.items() if v is not None))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _torch_load(path: Path) -> Any:
    return read_weights(path, NUMPY_SAFE_GLOBALS)


def _is_tensor_mapping(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(v, torch.Tensor) for v in value.values())
    )


def _scalar(value: Any, kind: type) -> Any:
    if value is None:
        return None
    return kind(value.item() if isinstance(value, (np.generic, torch.Tensor)) else value)


@dataclass(frozen=True)
class _Contents:
    """What a checkpoint file holds: its layout, the state_dict and the training metadata."""

    layout: str
    state: dict[str, Any]
    ignored: tuple[str, ...] = ()
    epoch: int | None = None
    step: int | None = None
    val_auroc: float | None = None


def _contents(path: Path, raw: Any) -> _Contents:
    """Tell a training checkpoint from a bare state_dict; anything else, or non-tensor entries, raise."""
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        known = {"state_dict", "epoch", "step", "val_auroc"}
        contents = _Contents(
            layout="training checkpoint",
            state=dict(raw["state_dict"]),
            ignored=tuple(str(k) for k in raw if k not in known),
            epoch=_scalar(raw.get("epoch"), int),
            step=_scalar(raw.get("step"), int),
            val_auroc=_scalar(raw.get("val_auroc"), float),
        )
    elif _is_tensor_mapping(raw):
        contents = _Contents(layout="state_dict", state=dict(raw))
    else:
        entries = first_keys([str(k) for k in raw]) if isinstance(raw, Mapping) else type(raw).__name__
        raise CheckpointError(
            f"{path}: neither an ECGFounder training checkpoint (a dict with 'state_dict') nor a bare "
            f"state_dict of tensors; found {entries}"
        )
    not_tensors = [k for k, v in contents.state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{path}: state_dict entries that are not tensors: {first_keys(not_tensors)}")
    return contents


def _strip_data_parallel(state: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``state`` without the DataParallel prefix when every key has it, and the prefix stripped (or None)."""
    if state and all(k.startswith(DATA_PARALLEL_PREFIX) for k in state):
        return {k[len(DATA_PARALLEL_PREFIX) :]: v for k, v in state.items()}, DATA_PARALLEL_PREFIX
    return state, None


def _drop_head(
    state: dict[str, Any], expected: Mapping[str, Any], feature_dim: int | None
) -> tuple[dict[str, str], list[str]]:
    """Pop the pretraining head's keys the model lacks from ``state``: (key -> why dropped, problems)."""
    dropped: dict[str, str] = {}
    problems: list[str] = []
    for key in HEAD_KEYS:
        if key in state and key not in expected:
            tensor = state.pop(key)
            if key == "dense.weight" and feature_dim is not None and tensor.shape[-1] != feature_dim:
                problems.append(f"{key} has {tuple(tensor.shape)}, expected (n_classes, {feature_dim})")
            else:
                n_classes = tensor.shape[0]
                dropped[key] = (
                    f"pretraining head ({n_classes} classes, {tuple(tensor.shape)}), not loaded: "
                    "the framework adds its own head"
                )
    return dropped, problems


def _lead_hint(state: Mapping[str, Any], model: nn.Module) -> str:
    """A hint when the checkpoint's stem takes another number of leads than the model."""
    stem = state.get("first_conv.conv.weight")
    if stem is not None and stem.dim() == 3 and stem.shape[1] != getattr(model, "in_channels", stem.shape[1]):
        return f" (the checkpoint takes {stem.shape[1]} lead(s): build with in_channels={stem.shape[1]})"
    return ""


def load_checkpoint(model: nn.Module, path: str | Path) -> LoadReport:
    """Load an ECGFounder checkpoint into ``model`` strictly; see the module docstring.

    Raises :class:`CheckpointError` for an unsafe pickle, an unknown layout, or any missing, unexpected
    (other than the ``dense.*`` pretraining head) or misshapen key, listing all of them.
    """
    path = Path(path)
    contents = _contents(path, _torch_load(path))
    state, stripped = _strip_data_parallel(contents.state)
    expected = model.state_dict()
    dropped, problems = _drop_head(state, expected, getattr(model, "feature_dim", None))
    problems += key_problems(state, expected)
    if problems:
        hint = _lead_hint(state, model)
        raise mismatch_error(path, problems, hint)

    model.load_state_dict(state, strict=True)
    return LoadReport(
        path=str(path),
        layout=contents.layout,
        loaded=tuple(state),
        n_values=sum(v.numel() for v in state.values()),
        dropped=dropped,
        stripped_prefix=stripped,
        ignored_entries=contents.ignored,
        epoch=contents.epoch,
        step=contents.step,
        val_auroc=contents.val_auroc,
    )

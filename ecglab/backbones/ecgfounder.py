"""ECGFounder (PKUDigitalHealth/ECGFounder, "Net1D"): the released backbone, written anew, loadable strictly.

Architecture (see ``/work/shared/docs/ecgfounder.md``), released config ``base_filters=64``,
``filter_list=[64,160,160,400,400,1024,1024]``, ``m_blocks_list=[2,2,2,3,3,4,4]``, ``kernel_size=16``,
``groups_width=16``, ``ratio=1``, ``use_bn=False``, ``use_do=False``:

- stem: SAME-padded ``Conv1d(in -> base_filters, k, stride 2)`` then Swish (``x * sigmoid(x)``); the
  ``first_bn`` module exists (its keys are in the checkpoint) but is never applied;
- stages of pre-activation bottleneck blocks; block 0 of each stage has stride 2, the others stride 1:
  ``[bn1] Swish [do1] conv1 (1x1) -> [bn2] Swish [do2] conv2 (k, stride s, groups = out/groups_width)
  -> [bn3] Swish [do3] conv3 (1x1) -> squeeze-excitation (mean over time, Linear(out, out/2), Swish,
  Linear(out/2, out), sigmoid, channel scale)``, plus the shortcut: a max-pool (kernel = stride = 2, SAME
  padding with zeros) when the block downsamples and zero channels, ``(out - in) // 2`` in front and the rest
  behind, when it widens. Block 0 of stage 0 skips its first ``[bn1] Swish [do1]``. The bracketed BN and
  dropout modules exist, as in the release, and are never applied;
- SAME padding for a length ``L``, kernel ``k``, stride ``s``: ``p = max(0, (ceil(L/s) - 1) * s + k - L)``,
  ``p // 2`` on the left and the rest on the right, zeros. (The release pads its shortcut pool with ``k - 1``
  zeros, ``(k - 1) // 2`` on the left; for ``k = s = 2``, the only case the release uses, both give the
  same windows, hence the stride is fixed at 2 here.)
- features: mean over time of the last stage, ``feature_dim = filter_list[-1]`` (1024). The released
  150-class ``dense`` head is not part of this module: the framework adds its own.

The BN affine parameters are never applied, so they never receive a gradient; they are created frozen
(``requires_grad=False``) and stay in the state_dict so that the released files load strictly.

Optional, not in the release: ``drop_path_rate`` (stochastic depth) drops each block's residual branch per
sample with a rate rising linearly from 0 to ``drop_path_rate`` over the blocks, in training only; it adds
no parameters, so the released weights load unchanged and eval features are unaffected.

Checkpoints: :func:`load_checkpoint` reads the released training checkpoint (``{epoch, step, state_dict,
optimizer, scheduler, val_auroc}``) or a bare state_dict with ``torch.load(weights_only=True)``; the only
non-torch objects allowed are the numpy float64 scalar of ``val_auroc`` (see ``NUMPY_SAFE_GLOBALS``).
Loading is strict: the pretraining head ``dense.*`` is recognised and dropped (reported), anything else
missing, unexpected or misshapen raises :class:`CheckpointError` listing every offending key.

Preprocessing (:func:`ecgfounder_preprocess`), as in the public ECGFounder code: 50 Hz IIR notch (Q=30) and
a 4th-order Butterworth band-pass 0.67-40 Hz, both applied forward-backward (filtfilt), minus a
201-sample (0.4 s + 1) median filter (baseline), then one z-score over the whole (leads, samples) array.
``build(preprocess=True)`` applies it inside ``forward_features`` (on the CPU, with SciPy, per record);
a data pipeline can instead call :func:`ecgfounder_preprocess` itself and leave ``preprocess=False``.
Input: 500 Hz, 10 s, leads in :func:`released_leads` order (by name; the 1-lead release is lead I).
"""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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

RELEASED_CONFIG: dict[str, Any] = {
    "base_filters": 64,
    "filter_list": (64, 160, 160, 400, 400, 1024, 1024),
    "m_blocks_list": (2, 2, 2, 3, 3, 4, 4),
    "kernel_size": 16,
    "groups_width": 16,
}
TINY_CONFIG: dict[str, Any] = {
    "base_filters": 16,
    "filter_list": (16, 32, 32, 64),
    "m_blocks_list": (1, 1, 1, 1),
    "kernel_size": 16,
    "groups_width": 16,
}
STRIDE = 2  # stem and first block of every stage; fixed (see the module docstring)
HEAD_KEYS = ("dense.weight", "dense.bias")  # the released 150-class pretraining head
DATA_PARALLEL_PREFIX = "module."
TWELVE_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def released_leads(in_channels: int) -> tuple[str, ...]:
    """Lead names, in input order, of the released checkpoint for ``in_channels`` (12: I..V6 with aVL before
    aVF; 1: lead I, the lead the 1-lead model was trained on)."""
    if in_channels == 12:
        return TWELVE_LEADS
    if in_channels == 1:
        return ("I",)
    raise ValueError(f"ECGFounder was released for 12 or 1 lead(s), not {in_channels}")


# ----------------------------------------------------------------------------------------------- layers


def same_padding(length: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """(left, right) zero padding that makes a window of ``kernel_size`` at ``stride`` give
    ``ceil(length / stride)`` outputs, the extra sample on the right."""
    total = max(0, (math.ceil(length / stride) - 1) * stride + kernel_size - length)
    return total // 2, total - total // 2


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class Conv1dSame(nn.Module):
    """``nn.Conv1d`` (kept as ``.conv`` for the release's key names) with SAME zero padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = same_padding(x.shape[-1], self.conv.kernel_size[0], self.conv.stride[0])
        return self.conv(F.pad(x, (left, right)))


class MaxPool1dSame(nn.Module):
    """Max-pool with kernel = stride, SAME padding with zeros (not -inf), as the release's shortcut."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = same_padding(x.shape[-1], self.kernel_size, self.kernel_size)
        return F.max_pool1d(F.pad(x, (left, right)), self.kernel_size)


def _drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability ``rate``, rescaling the
    kept ones by ``1 / (1 - rate)``; identity in eval mode or at rate 0."""
    if rate <= 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


def _frozen_batchnorm(channels: int) -> nn.BatchNorm1d:
    """A BatchNorm the release holds (its keys are in the checkpoint) but never applies (``use_bn=False``)."""
    bn = nn.BatchNorm1d(channels)
    bn.requires_grad_(False)
    return bn


class BasicBlock(nn.Module):
    """Pre-activation bottleneck with squeeze-excitation (``ratio=1``: middle width = ``out_channels``).

    Attribute order follows the release so that ``state_dict()`` lists keys in the released order.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        groups: int,
        is_first_block: bool = False,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.downsample = stride > 1
        self.is_first_block = is_first_block
        self.drop_path_rate = drop_path_rate
        middle = out_channels

        self.bn1 = _frozen_batchnorm(in_channels)
        self.activation1 = Swish()
        self.do1 = nn.Dropout(p=0.5)
        self.conv1 = Conv1dSame(in_channels, middle, kernel_size=1, stride=1)

        self.bn2 = _frozen_batchnorm(middle)
        self.activation2 = Swish()
        self.do2 = nn.Dropout(p=0.5)
        self.conv2 = Conv1dSame(middle, middle, kernel_size=kernel_size, stride=stride, groups=groups)

        self.bn3 = _frozen_batchnorm(middle)
        self.activation3 = Swish()
        self.do3 = nn.Dropout(p=0.5)
        self.conv3 = Conv1dSame(middle, out_channels, kernel_size=1, stride=1)

        self.se_fc1 = nn.Linear(out_channels, out_channels // 2)
        self.se_fc2 = nn.Linear(out_channels // 2, out_channels)
        self.se_activation = Swish()

        if self.downsample:
            self.max_pool = MaxPool1dSame(kernel_size=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if not self.is_first_block:
            out = self.activation1(out)  # bn1 and do1 are not applied (use_bn=False, use_do=False)
        out = self.conv1(out)
        out = self.conv2(self.activation2(out))
        out = self.conv3(self.activation3(out))

        scale = torch.sigmoid(self.se_fc2(self.se_activation(self.se_fc1(out.mean(dim=-1)))))
        out = out * scale.unsqueeze(-1)
        out = _drop_path(out, self.drop_path_rate, self.training)

        identity = self.max_pool(x) if self.downsample else x
        if self.out_channels != self.in_channels:
            front = (self.out_channels - self.in_channels) // 2
            back = self.out_channels - self.in_channels - front
            identity = F.pad(identity, (0, 0, front, back))  # zero channels before and after
        return out + identity


class BasicStage(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        groups: int,
        i_stage: int,
        m_blocks: int,
        drop_path_rates: Sequence[float],
    ):
        super().__init__()
        self.block_list = nn.ModuleList(
            BasicBlock(
                in_channels=in_channels if i_block == 0 else out_channels,
                out_channels=out_channels,
                kernel_size=kernel_size,
                stride=STRIDE if i_block == 0 else 1,
                groups=groups,
                is_first_block=i_stage == 0 and i_block == 0,
                drop_path_rate=drop_path_rates[i_block],
            )
            for i_block in range(m_blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block_list:
            x = block(x)
        return x


class Net1D(nn.Module):
    """The ECGFounder trunk without its ``dense`` head: ``forward`` returns the last stage's feature map
    (batch, filter_list[-1], time). Module names match the release (``first_conv.conv``, ``first_bn``,
    ``stage_list.{i}.block_list.{j}...``)."""

    def __init__(
        self,
        in_channels: int = 12,
        base_filters: int = RELEASED_CONFIG["base_filters"],
        filter_list: Sequence[int] = RELEASED_CONFIG["filter_list"],
        m_blocks_list: Sequence[int] = RELEASED_CONFIG["m_blocks_list"],
        kernel_size: int = RELEASED_CONFIG["kernel_size"],
        groups_width: int = RELEASED_CONFIG["groups_width"],
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        filter_list, m_blocks_list = tuple(int(f) for f in filter_list), tuple(int(m) for m in m_blocks_list)
        problems = []
        if in_channels < 1 or base_filters < 1 or kernel_size < 1 or groups_width < 1:
            problems.append("in_channels, base_filters, kernel_size and groups_width must be positive")
        if not filter_list or len(filter_list) != len(m_blocks_list):
            problems.append(f"filter_list {filter_list} and m_blocks_list {m_blocks_list} differ in length")
        if any(m < 1 for m in m_blocks_list):
            problems.append(f"every stage needs a block: m_blocks_list {m_blocks_list}")
        if any(f < 2 or f % groups_width for f in filter_list):
            problems.append(
                f"every filter count must be a multiple of groups_width {groups_width}: {filter_list}"
            )
        if not 0.0 <= drop_path_rate < 1.0:
            problems.append(f"drop_path_rate must be in [0, 1), not {drop_path_rate}")
        if problems:
            raise ValueError("Net1D: " + "; ".join(problems))
        self.config: dict[str, Any] = {
            "in_channels": in_channels,
            "base_filters": base_filters,
            "filter_list": filter_list,
            "m_blocks_list": m_blocks_list,
            "kernel_size": kernel_size,
            "groups_width": groups_width,
            "drop_path_rate": drop_path_rate,
        }
        self.in_channels = in_channels

        self.first_conv = Conv1dSame(in_channels, base_filters, kernel_size=kernel_size, stride=STRIDE)
        self.first_bn = _frozen_batchnorm(base_filters)
        self.first_activation = Swish()

        n_blocks = sum(m_blocks_list)
        rates = [drop_path_rate * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        self.stage_list = nn.ModuleList()
        channels, start = base_filters, 0
        for i_stage, (out_channels, m_blocks) in enumerate(zip(filter_list, m_blocks_list, strict=True)):
            self.stage_list.append(
                BasicStage(
                    in_channels=channels,
                    out_channels=out_channels,
                    kernel_size=kernel_size,
                    groups=out_channels // groups_width,
                    i_stage=i_stage,
                    m_blocks=m_blocks,
                    drop_path_rates=rates[start : start + m_blocks],
                )
            )
            channels, start = out_channels, start + m_blocks
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.first_activation(self.first_conv(x))  # first_bn is not applied (use_bn=False)
        for stage in self.stage_list:
            out = stage(out)
        return out


class ECGFounder(Net1D):
    """The registry backbone: :class:`Net1D` features mean-pooled over time, ``(batch, feature_dim)``."""

    def __init__(self, in_channels: int = 12, preprocess: bool = False, fs: float = 500.0, **config: Any):
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
    model = ECGFounder(in_channels=in_channels, preprocess=preprocess, **config)
    if checkpoint is not None:
        model.load_report = load_checkpoint(model, checkpoint)
    return model


def search_space(trial: Any) -> dict[str, Any]:
    """Options tuned per task: only the stochastic-depth rate. The architecture is fixed by the pretrained
    weights (changing it would discard them); learning rate, schedule and probing-vs-fine-tuning belong to
    the framework's search space, not the backbone's."""
    return {"drop_path_rate": trial.suggest_float("drop_path_rate", 0.0, 0.3)}


# ----------------------------------------------------------------------------------------- checkpoints


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded strictly, or that would need an unsafe unpickler."""


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
    try:
        with torch.serialization.safe_globals(NUMPY_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        found = re.search(r"WeightsUnpickler error:(.*?)(?:Check the documentation|$)", text, re.DOTALL)
        reason = " ".join((found.group(1) if found else text).split())
        reason = re.sub(r"(was not an allowed global by default)\..*", r"\1", reason)[:300]
        raise CheckpointError(
            f"{path}: refused, untrusted pickle: the file holds objects other than tensors, plain containers "
            f"and the allow-listed numpy float64 scalar ({reason}). ecglab loads checkpoints with "
            "torch.load(weights_only=True) only, because unpickling anything else can run arbitrary code. "
            "If you trust the file, extract its weights once in a separate Python session, e.g. "
            f"`ckpt = torch.load({str(path)!r}, weights_only=False); torch.save(ckpt['state_dict'], "
            "'weights.pt')`, and pass weights.pt (a bare state_dict needs no allow-list)."
        ) from err


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


def load_checkpoint(model: nn.Module, path: str | Path) -> LoadReport:
    """Load an ECGFounder checkpoint into ``model`` strictly; see the module docstring.

    Raises :class:`CheckpointError` for an unsafe pickle, an unknown layout, or any missing, unexpected
    (other than the ``dense.*`` pretraining head) or misshapen key, listing all of them.
    """
    path = Path(path)
    raw = _torch_load(path)
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        layout, state = "training checkpoint", dict(raw["state_dict"])
        known = {"state_dict", "epoch", "step", "val_auroc"}
        ignored = tuple(str(k) for k in raw if k not in known)
        epoch, step = _scalar(raw.get("epoch"), int), _scalar(raw.get("step"), int)
        val_auroc = _scalar(raw.get("val_auroc"), float)
    elif _is_tensor_mapping(raw):
        layout, state, ignored, epoch, step, val_auroc = "state_dict", dict(raw), (), None, None, None
    else:
        entries = list(raw)[:10] if isinstance(raw, Mapping) else type(raw).__name__
        raise CheckpointError(
            f"{path}: neither an ECGFounder training checkpoint (a dict with 'state_dict') nor a bare "
            f"state_dict of tensors; found {entries}"
        )
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{path}: state_dict entries that are not tensors: {not_tensors[:10]}")

    stripped = None
    if state and all(k.startswith(DATA_PARALLEL_PREFIX) for k in state):
        stripped = DATA_PARALLEL_PREFIX
        state = {k[len(DATA_PARALLEL_PREFIX) :]: v for k, v in state.items()}

    expected = model.state_dict()
    dropped: dict[str, str] = {}
    problems: list[str] = []
    feature_dim = getattr(model, "feature_dim", None)
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

    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing:
        problems.append(f"{len(missing)} missing key(s): {', '.join(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {', '.join(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {'; '.join(mismatched)}")
    if problems:
        hint = ""
        stem = state.get("first_conv.conv.weight")
        if (
            stem is not None
            and stem.dim() == 3
            and stem.shape[1] != getattr(model, "in_channels", stem.shape[1])
        ):
            hint = f" (the checkpoint takes {stem.shape[1]} lead(s): build with in_channels={stem.shape[1]})"
        raise CheckpointError(f"{path}: does not match the model{hint}:\n  " + "\n  ".join(problems))

    model.load_state_dict(state, strict=True)
    return LoadReport(
        path=str(path),
        layout=layout,
        loaded=tuple(state),
        n_values=sum(v.numel() for v in state.values()),
        dropped=dropped,
        stripped_prefix=stripped,
        ignored_entries=ignored,
        epoch=epoch,
        step=step,
        val_auroc=val_auroc,
    )


# ------------------------------------------------------------------------------------------ preprocess


@lru_cache(maxsize=8)
def _filters(fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from scipy import signal

    notch_b, notch_a = signal.iirnotch(50.0, 30.0, fs)
    band_b, band_a = signal.butter(4, [0.67, 40.0], btype="bandpass", fs=fs)
    return notch_b, notch_a, band_b, band_a


def ecgfounder_preprocess(x: np.ndarray, fs: float = 500.0) -> np.ndarray:
    """ECGFounder's preprocessing of one record (leads, samples) -> float32 (leads, samples).

    Per lead: 50 Hz IIR notch (Q=30) and 4th-order Butterworth band-pass 0.67-40 Hz, each applied with
    ``filtfilt``; minus the baseline, a median filter of ``int(0.4 * fs) + 1`` samples made odd (201 at
    500 Hz; ``scipy.signal.medfilt``, zero-padded ends). Then ONE z-score over the whole array,
    ``(x - mean) / (std + 1e-8)``, not per lead. Non-finite samples raise (the release's own loader replaced
    NaN with 0 beforehand; decide that upstream).
    """
    from scipy import signal

    data = np.asarray(x, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"ecgfounder_preprocess expects (leads, samples), got shape {data.shape}")
    if fs <= 100.0:
        raise ValueError(f"ecgfounder_preprocess needs fs > 100 Hz for its 50 Hz notch, got {fs}")
    bad = int(np.size(data) - np.isfinite(data).sum())
    if bad:
        raise ValueError(f"ecgfounder_preprocess: {bad} non-finite sample(s); replace them before filtering")
    kernel = int(0.4 * fs) + 1
    if kernel % 2 == 0:
        kernel += 1
    notch_b, notch_a, band_b, band_a = _filters(float(fs))
    data = signal.filtfilt(notch_b, notch_a, data, axis=-1)
    data = signal.filtfilt(band_b, band_a, data, axis=-1)
    data = data - np.stack([signal.medfilt(lead, kernel) for lead in data])
    return ((data - data.mean()) / (data.std() + 1e-8)).astype(np.float32)

"""ECGFounder's trunk, "Net1D" (PKUDigitalHealth/ECGFounder), written anew with the release's module names.

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

The released 150-class ``dense`` head is not part of this module: the framework adds its own, and
:class:`~ecglab.backbones.ecgfounder.model.ECGFounder` pools the last stage into features.

The BN affine parameters are never applied, so they never receive a gradient; they are created frozen
(``requires_grad=False``) and stay in the state_dict so that the released files load strictly.

Optional, not in the release: ``drop_path_rate`` (stochastic depth) drops each block's residual branch per
sample with a rate rising linearly from 0 to ``drop_path_rate`` over the blocks, in training only; it adds
no parameters, so the released weights load unchanged and eval features are unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ecglab.backbones.errors import BadOption

__all__ = ["RELEASED_CONFIG", "STRIDE", "TINY_CONFIG", "Net1D", "same_padding"]

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
            raise BadOption("Net1D: " + "; ".join(problems))
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

"""Test-only reference for ECGFounder ("Net1D"): a functional forward pass over a state_dict, written from
``/work/shared/docs/ecgfounder.md`` and sharing no code with ``ecglab/backbones/ecgfounder/``.

The architecture is read off the state_dict itself (stages, blocks, widths, groups, kernel size); strides
follow the doc (stem 2, first block of each stage 2, others 1). BatchNorm and dropout tensors are ignored,
as the release (use_bn=False, use_do=False) never applies them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _pad_same(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Zero padding from the doc: p = max(0, (ceil(L/s) - 1) * s + k - L), p // 2 on the left."""
    length = x.shape[-1]
    n_out = -(-length // stride)
    p = max(0, (n_out - 1) * stride + kernel - length)
    return F.pad(x, [p // 2, p - p // 2], mode="constant", value=0.0)


def _conv(x: Tensor, sd: Mapping[str, Tensor], name: str, stride: int) -> Tensor:
    weight, bias = sd[name + ".weight"], sd[name + ".bias"]
    groups = x.shape[1] // weight.shape[1]
    return F.conv1d(_pad_same(x, weight.shape[-1], stride), weight, bias, stride=stride, groups=groups)


def _swish(x: Tensor) -> Tensor:
    return F.silu(x)


def _layout(sd: Mapping[str, Tensor]) -> list[int]:
    """Number of blocks of each stage, from the key names."""
    blocks: dict[int, set[int]] = {}
    for key in sd:
        found = re.match(r"stage_list\.(\d+)\.block_list\.(\d+)\.", key)
        if found:
            blocks.setdefault(int(found.group(1)), set()).add(int(found.group(2)))
    stages = sorted(blocks)
    assert stages == list(range(len(stages))), f"stage numbering has gaps: {stages}"
    for s in stages:
        assert sorted(blocks[s]) == list(range(len(blocks[s]))), f"stage {s} block numbering has gaps"
    return [len(blocks[s]) for s in stages]


def _block(x: Tensor, sd: Mapping[str, Tensor], prefix: str, stride: int, first_of_net: bool) -> Tensor:
    h = x if first_of_net else _swish(x)
    h = _conv(h, sd, prefix + "conv1.conv", 1)
    h = _conv(_swish(h), sd, prefix + "conv2.conv", stride)
    h = _conv(_swish(h), sd, prefix + "conv3.conv", 1)
    squeeze = h.mean(dim=2)
    excite = F.linear(
        _swish(F.linear(squeeze, sd[prefix + "se_fc1.weight"], sd[prefix + "se_fc1.bias"])),
        sd[prefix + "se_fc2.weight"],
        sd[prefix + "se_fc2.bias"],
    )
    h = h * torch.sigmoid(excite)[:, :, None]

    shortcut = x
    if stride > 1:
        shortcut = F.max_pool1d(_pad_same(shortcut, stride, stride), kernel_size=stride, stride=stride)
    grow = h.shape[1] - shortcut.shape[1]
    if grow:
        batch, _, length = shortcut.shape
        front = shortcut.new_zeros(batch, grow // 2, length)
        back = shortcut.new_zeros(batch, grow - grow // 2, length)
        shortcut = torch.cat([front, shortcut, back], dim=1)
    return h + shortcut


def reference_feature_map(state_dict: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """(batch, leads, samples) -> (batch, channels, time) of the last stage."""
    sd = state_dict
    h = _swish(_conv(x, sd, "first_conv.conv", 2))
    for stage, n_blocks in enumerate(_layout(sd)):
        for block in range(n_blocks):
            prefix = f"stage_list.{stage}.block_list.{block}."
            h = _block(h, sd, prefix, stride=2 if block == 0 else 1, first_of_net=stage == 0 and block == 0)
    return h


def reference_features(state_dict: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """(batch, leads, samples) -> (batch, 1024) mean-pooled features (the input of the released ``dense``)."""
    return reference_feature_map(state_dict, x).mean(dim=2)


def reference_logits(state_dict: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """The released model's 150 outputs, for a state_dict that still holds ``dense.*``."""
    return F.linear(reference_features(state_dict, x), state_dict["dense.weight"], state_dict["dense.bias"])

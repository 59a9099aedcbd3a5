"""A 1D patch transformer for ECG in plain PyTorch (ViT-style, pre-norm blocks on
``F.scaled_dot_product_attention``).

``(batch, leads, samples)`` is cut into non-overlapping patches of ``patch`` samples by
``Conv1d(leads, d_model, kernel_size=patch, stride=patch)``; positions are added, pre-norm blocks
(``x + Attn(LN(x))``, ``x + MLP(LN(x))``) follow, then a final LayerNorm and mean or CLS pooling give
``(batch, d_model)``.

Lengths that are not a multiple of ``patch``: ``remainder="pad"`` (default) zero-pads the end of the signal to
the next multiple, so the last token is a ragged patch that sees zeros past the end (no attention mask; a
recording shorter than one patch gives a single token); ``remainder="error"`` refuses such inputs with a
``ValueError``.

Positions: ``"sinusoidal"`` (fixed, computed for any number of patches; ``max_len`` is unused),
``"learnable"`` (a table of ``ceil(max_len / patch)`` slots, ``max_len`` counted in input samples; longer
inputs raise a ``ValueError``), or ``"none"`` (then the model with mean pooling is invariant to the order of
the patches). The CLS token, when used, carries no position: it is the only token of its kind.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ecglab.backbones.errors import BadOption

__all__ = ["POOLINGS", "POSITIONS", "PatchTransformer", "build", "search_space", "sinusoidal_positions"]

POSITIONS = ("sinusoidal", "learnable", "none")
POOLINGS = ("mean", "cls")


def sinusoidal_positions(n: int, d_model: int, device: torch.device | None = None) -> torch.Tensor:
    """The fixed encoding of Vaswani et al.: (n, d_model), sin on even and cos on odd features."""
    position = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(
        torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(n, d_model, device=device)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


class Block(nn.Module):
    """Pre-norm transformer block: ``x + drop(proj(attn(LN(x))))``, then ``x + MLP(LN(x))`` with GELU."""

    def __init__(self, d_model: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.proj_drop = nn.Dropout(dropout)
        hidden = max(1, round(d_model * mlp_ratio))
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, d_model),
            nn.Dropout(dropout),
        )

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            qkv[0], qkv[1], qkv[2], dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(batch, tokens, width)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchTransformer(nn.Module):
    """Patch embedding, positions, ``depth`` pre-norm blocks, final LayerNorm, mean/CLS pooling."""

    def __init__(
        self,
        in_channels: int = 1,
        d_model: int = 256,
        depth: int = 6,
        heads: int = 8,
        patch: int = 50,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        positions: str = "sinusoidal",
        pooling: str = "mean",
        max_len: int | None = 10000,
        remainder: str = "pad",
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise BadOption(f"positions must be one of {POSITIONS}, got {positions!r}")
        if pooling not in POOLINGS:
            raise BadOption(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if remainder not in ("pad", "error"):
            raise BadOption(f"remainder must be 'pad' or 'error', got {remainder!r}")
        if min(in_channels, d_model, depth, heads, patch) < 1:
            raise BadOption("in_channels, d_model, depth, heads and patch must be >= 1")
        if d_model % heads:
            raise BadOption(f"d_model ({d_model}) must be divisible by heads ({heads})")
        if positions == "sinusoidal" and d_model % 2:
            raise BadOption(f"sinusoidal positions need an even d_model, got {d_model}")
        if positions == "learnable" and (max_len is None or max_len < 1):
            raise BadOption("learnable positions need max_len (in samples) >= 1")
        self.in_channels, self.patch = in_channels, patch
        self.positions, self.pooling, self.remainder = positions, pooling, remainder
        self.max_len = max_len
        self.feature_dim: int = d_model

        self.patch_embed = nn.Conv1d(in_channels, d_model, kernel_size=patch, stride=patch)
        self.pos_embed: nn.Parameter | None = None
        if positions == "learnable":
            assert max_len is not None
            self.pos_embed = nn.Parameter(torch.zeros(1, math.ceil(max_len / patch), d_model))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.cls_token: nn.Parameter | None = None
        if pooling == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(d_model)
        for module in self.blocks.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def n_patches(self, samples: int) -> int:
        """Tokens (CLS excluded) an input of ``samples`` samples becomes."""
        return max(1, math.ceil(samples / self.patch))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Token features after the final LayerNorm: (batch, tokens, d_model), the CLS token first if any."""
        if x.dim() != 3 or x.shape[1] != self.in_channels or x.shape[2] < 1:
            raise ValueError(
                f"PatchTransformer expects (batch, {self.in_channels} leads, samples), got {tuple(x.shape)}"
            )
        samples = x.shape[2]
        n = self.n_patches(samples)
        if samples != n * self.patch:
            if self.remainder == "error":
                raise ValueError(
                    f"{samples} samples is not a multiple of patch={self.patch}; crop or pad the input, "
                    "or build with remainder='pad'"
                )
            x = F.pad(x, (0, n * self.patch - samples))
        h = self.patch_embed(x).transpose(1, 2)  # (B, n, d_model)
        if self.pos_embed is not None:
            if n > self.pos_embed.shape[1]:
                raise ValueError(
                    f"{samples} samples make {n} patches but the learnable positions cover max_len="
                    f"{self.max_len} samples ({self.pos_embed.shape[1]} patches); build with a larger "
                    "max_len or positions='sinusoidal'"
                )
            h = h + self.pos_embed[:, :n]
        elif self.positions == "sinusoidal":
            h = h + sinusoidal_positions(n, h.shape[-1], h.device).to(h.dtype)
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1).to(h.dtype), h], dim=1)
        h = self.pos_drop(h)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, leads, samples) -> (batch, d_model): the CLS token or the mean over patch tokens."""
        h = self.tokens(x)
        return h[:, 0] if self.pooling == "cls" else h.mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)


def build(
    in_channels: int = 1,
    d_model: int = 256,
    depth: int = 6,
    heads: int = 8,
    patch: int = 50,
    mlp_ratio: float = 4.0,
    dropout: float = 0.1,
    positions: str = "sinusoidal",
    pooling: str = "mean",
    max_len: int | None = 10000,
    remainder: str = "pad",
) -> PatchTransformer:
    """The patch transformer; defaults suit lead II at 500 Hz x 10 s (5000 samples: 100 patches of 0.1 s)."""
    return PatchTransformer(
        in_channels=in_channels,
        d_model=d_model,
        depth=depth,
        heads=heads,
        patch=patch,
        mlp_ratio=mlp_ratio,
        dropout=dropout,
        positions=positions,
        pooling=pooling,
        max_len=max_len,
        remainder=remainder,
    )


def search_space(trial: Any) -> dict[str, Any]:
    """Options for :func:`build` sampled from an optuna trial; every combination is valid."""
    return {
        "d_model": trial.suggest_categorical("d_model", [64, 128, 256]),
        "depth": trial.suggest_int("depth", 2, 8),
        "heads": trial.suggest_categorical("heads", [4, 8]),
        "patch": trial.suggest_categorical("patch", [25, 50, 100]),
        "mlp_ratio": trial.suggest_categorical("mlp_ratio", [2.0, 4.0]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "positions": trial.suggest_categorical("positions", ["sinusoidal", "learnable"]),
        "pooling": trial.suggest_categorical("pooling", ["mean", "cls"]),
    }

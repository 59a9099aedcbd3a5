"""S4D in plain PyTorch (no pykeops, no CUDA extension) and the CardioLab S4 encoder built from it.

The layer follows the S4D recipe of state-spaces/s4 (``s4d.py``, Apache-2.0; written anew here). Per channel
``h`` there are ``N/2`` complex modes of a diagonal state matrix, ``A = -exp(log_A_real) + i*A_imag``
initialised as S4D-Lin (``A = -0.5 + i*pi*n``), a step ``dt = exp(log_dt)`` with ``log_dt ~ U(log 1e-3,
log 1e-1)``, a complex ``C ~ randn`` and a real skip ``D ~ randn``. Zero-order hold with ``B = 1`` gives
``dtA = A*dt`` and ``C' = C*(exp(dtA) - 1)/A``; the convolution kernel is
``K[h, l] = 2*Re(sum_n C'[h, n]*exp(dtA[h, n]*l))`` and ``y = K * u + D*u`` (causal, via a 2L FFT). This is
the real system of ``N`` states whose modes come in conjugate pairs, run as

    x_k = exp(dtA) x_{k-1} + B' u_k,   y_k = 2*Re(C x_k) + D u_k,   B' = (exp(dtA) - 1)/A,

i.e. the output at ``k`` sees the input at ``k`` through ``K[0]``.

Bidirectional: a second ``C`` (sharing ``A`` and ``dt``) gives a backward kernel ``K1``, applied as the same
recurrence run on the time-reversed input and reversed back (output at ``t`` sees ``u[t:]``). Over a 2L
circular FFT the combined kernel is ``pad(K0, (0, L)) + pad(flip(K1[1:]), (L + 1, 0))`` with ``K1[0]`` added
at lag 0. state-spaces writes ``pad(K0, (0, L)) + pad(flip(K1), (L, 0))``, which (their comment says,
deliberately) shifts the backward direction by one step: the output at ``t`` then sees ``u[t+1:]`` only.
``exact_reverse=False`` reproduces that variant.

Optimiser convention (state-spaces): ``log_A_real``, ``A_imag`` and ``log_dt`` carry
``param._optim = {"weight_decay": 0.0, "lr": ssm_lr}``; :func:`parameter_groups` turns these marks into
torch optimiser groups.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ecglab.backbones.errors import BadOption

__all__ = ["S4Backbone", "S4DKernel", "S4DLayer", "build", "parameter_groups", "search_space"]


def _mark(param: nn.Parameter, lr: float | None) -> nn.Parameter:
    """Attach the state-spaces optimiser hints: no weight decay, and ``lr`` if given."""
    optim: dict[str, float] = {"weight_decay": 0.0}
    if lr is not None:
        optim["lr"] = float(lr)
    param._optim = optim  # type: ignore[attr-defined]
    return param


class S4DKernel(nn.Module):
    """Diagonal SSM parameters of ``d_model`` channels and the convolution kernels they generate.

    ``channels`` kernels (2 for a bidirectional layer) share ``A`` and ``dt`` and each has its own ``C``.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        channels: int = 1,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        lr: float | None = None,
    ) -> None:
        super().__init__()
        if d_state < 2 or d_state % 2:
            raise BadOption(f"d_state must be an even number >= 2 (N/2 complex modes), got {d_state}")
        if not 0 < dt_min <= dt_max:
            raise BadOption(f"need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        h, n = d_model, d_state // 2
        self.d_model, self.d_state, self.channels = d_model, d_state, channels
        log_dt = torch.rand(h) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = _mark(nn.Parameter(log_dt), lr)
        self.log_A_real = _mark(nn.Parameter(torch.full((h, n), math.log(0.5))), lr)
        self.A_imag = _mark(nn.Parameter(math.pi * torch.arange(n, dtype=torch.float32).repeat(h, 1)), lr)
        # C complex ~ randn (real and imaginary parts each of variance 1/2), stored as (..., 2) reals
        self.C = nn.Parameter(torch.view_as_real(torch.randn(channels, h, n, dtype=torch.cfloat)))
        # the same hints as a module attribute: copy.deepcopy keeps these but drops a Parameter's _optim
        self.optim_hints: dict[str, dict[str, float]] = {
            name: dict(getattr(self, name)._optim) for name in ("log_dt", "log_A_real", "A_imag")
        }

    def discretize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dtA, C')`` of the zero-order hold with ``B = 1``: shapes (H, N/2) and (channels, H, N/2)."""
        dt = torch.exp(self.log_dt)
        a = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dt_a = a * dt.unsqueeze(-1)
        c = torch.view_as_complex(self.C) * (torch.exp(dt_a) - 1.0) / a
        return dt_a, c

    def forward(self, length: int) -> torch.Tensor:
        """Kernels of ``length`` taps: (channels, H, length), real."""
        dt_a, c = self.discretize()
        steps = torch.arange(length, device=dt_a.device, dtype=self.log_dt.dtype)
        vandermonde = torch.exp(dt_a.unsqueeze(-1) * steps)  # (H, N/2, L)
        return 2.0 * torch.einsum("chn,hnl->chl", c, vandermonde).real


class S4DLayer(nn.Module):
    """One S4D layer on (batch, H, L): SSM convolution plus ``D`` skip, GELU, dropout, Conv1d(H -> 2H), GLU.

    ``ssm(u)`` gives the linear part alone (convolution plus ``D*u``) for tests and inspection.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        dropout: float = 0.0,
        bidirectional: bool = False,
        exact_reverse: bool = True,
        tie_dropout: bool = True,
        lr: float | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.bidirectional = bidirectional
        self.exact_reverse = exact_reverse
        self.kernel = S4DKernel(
            d_model, d_state, channels=2 if bidirectional else 1, dt_min=dt_min, dt_max=dt_max, lr=lr
        )
        self.D = nn.Parameter(torch.randn(d_model))
        self.activation = nn.GELU()
        # tied dropout drops whole channels for the full sequence, as state-spaces' DropoutNd does
        drop: type[nn.Module] = nn.Dropout1d if tie_dropout else nn.Dropout
        self.dropout = drop(dropout) if dropout > 0 else nn.Identity()
        self.output_linear = nn.Sequential(nn.Conv1d(d_model, 2 * d_model, kernel_size=1), nn.GLU(dim=-2))

    def convolution_kernel(self, length: int) -> torch.Tensor:
        """The kernel of the 2L circular FFT: (H, 2L); causal taps at [0, L), anti-causal ones at [L, 2L)."""
        k = self.kernel(length)
        if not self.bidirectional:
            return F.pad(k[0], (0, length))
        k0, k1 = k[0], k[1]
        if self.exact_reverse:
            # lag 0 of the backward kernel joins the forward one; lags 1..L-1 go to positions 2L-1..L+1
            return (
                F.pad(k0, (0, length))
                + F.pad(k1[:, :1], (0, 2 * length - 1))
                + F.pad(k1[:, 1:].flip(-1), (length + 1, 0))
            )
        return F.pad(k0, (0, length)) + F.pad(k1.flip(-1), (length, 0))

    def ssm(self, u: torch.Tensor) -> torch.Tensor:
        """The linear state-space map of (batch, H, L): ``K * u + D*u``, computed by FFT."""
        if u.dim() != 3 or u.shape[1] != self.d_model:
            raise ValueError(f"S4DLayer expects (batch, {self.d_model}, length), got {tuple(u.shape)}")
        length = u.shape[-1]
        out_dtype = u.dtype
        # FFTs want fp32/fp64 (bf16 is unsupported, fp16 only for powers of two): leave autocast out of it
        work = u if u.dtype in (torch.float32, torch.float64) else u.float()
        with torch.autocast(device_type=u.device.type, enabled=False):
            k = self.convolution_kernel(length).to(work.dtype)
            n = 2 * length
            y = torch.fft.irfft(torch.fft.rfft(work, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :length]
            y = y + work * self.D.to(work.dtype).unsqueeze(-1)
        return y.to(out_dtype)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.activation(self.ssm(u)))
        return self.output_linear(y)


class S4Backbone(nn.Module):
    """CardioLab's S4 encoder with S4D layers: Linear(leads -> d_model), ``n_layers`` residual blocks
    ``x = LayerNorm(x + dropout(S4D(x)))`` (post-norm), global average pool over time -> (batch, d_model)."""

    def __init__(
        self,
        in_channels: int = 12,
        d_model: int = 512,
        n_layers: int = 4,
        d_state: int = 8,
        dropout: float = 0.2,
        bidirectional: bool = True,
        ssm_lr: float | None = 1e-3,
        exact_reverse: bool = True,
        tie_dropout: bool = True,
    ) -> None:
        super().__init__()
        if in_channels < 1 or d_model < 1 or n_layers < 1:
            raise BadOption(
                f"need in_channels, d_model, n_layers >= 1, got {in_channels}, {d_model}, {n_layers}"
            )
        self.in_channels = in_channels
        self.feature_dim: int = d_model
        self.encoder = nn.Linear(in_channels, d_model)
        self.layers = nn.ModuleList(
            S4DLayer(
                d_model,
                d_state,
                dropout=dropout,
                bidirectional=bidirectional,
                exact_reverse=exact_reverse,
                tie_dropout=tie_dropout,
                lr=ssm_lr,
            )
            for _ in range(n_layers)
        )
        drop: type[nn.Module] = nn.Dropout1d if tie_dropout else nn.Dropout
        self.dropouts = nn.ModuleList(
            drop(dropout) if dropout > 0 else nn.Identity() for _ in range(n_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))

    def sequence_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-time-step features before pooling: (batch, d_model, samples)."""
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"S4Backbone expects (batch, {self.in_channels} leads, samples), got {tuple(x.shape)}"
            )
        h = self.encoder(x.transpose(1, 2)).transpose(1, 2)  # (B, H, L)
        for layer, dropout, norm in zip(self.layers, self.dropouts, self.norms, strict=True):
            h = h + dropout(layer(h))
            h = norm(h.transpose(1, 2)).transpose(1, 2)
        return h

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, leads, samples) -> (batch, d_model), the time average of the last block's output."""
        return self.sequence_features(x).mean(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)


def build(
    in_channels: int = 12,
    d_model: int = 512,
    n_layers: int = 4,
    d_state: int = 8,
    dropout: float = 0.2,
    bidirectional: bool = True,
    ssm_lr: float | None = 1e-3,
    exact_reverse: bool = True,
    tie_dropout: bool = True,
) -> S4Backbone:
    """The S4D backbone; defaults are CardioLab's encoder (12 leads, 512 wide, 4 bidirectional layers, N = 8).

    ``ssm_lr`` is the learning rate marked on A and dt (None: the optimiser's base rate, still without weight
    decay); ``exact_reverse=False`` gives state-spaces' one-step-shifted backward direction.
    """
    return S4Backbone(
        in_channels=in_channels,
        d_model=d_model,
        n_layers=n_layers,
        d_state=d_state,
        dropout=dropout,
        bidirectional=bidirectional,
        ssm_lr=ssm_lr,
        exact_reverse=exact_reverse,
        tie_dropout=tie_dropout,
    )


def parameter_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """Optimiser groups for ``model``: every parameter exactly once (shared tensors counted once).

    Parameters without an ``_optim`` mark go in the first group with ``lr`` and ``weight_decay``; marked ones
    are grouped by their mark, which overrides those defaults (S4D's A and dt: weight decay 0, lr ``ssm_lr``).
    Empty groups are left out. Use as ``torch.optim.AdamW(parameter_groups(model, 1e-3, 1e-3))``.

    Marks are read from ``param._optim`` and from the ``optim_hints`` of modules (``{name: hints}``), which
    survive ``copy.deepcopy`` (a deep-copied ``nn.Parameter`` loses its ``_optim`` attribute).
    """
    module_hints: dict[int, dict[str, Any]] = {}
    for module in model.modules():
        for name, hints in (getattr(module, "optim_hints", None) or {}).items():
            param = getattr(module, name, None)
            if isinstance(param, nn.Parameter):
                module_hints[id(param)] = hints
    plain: list[nn.Parameter] = []
    marked: dict[tuple[tuple[str, Any], ...], list[nn.Parameter]] = {}
    seen: set[int] = set()
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        hints = getattr(param, "_optim", None) or module_hints.get(id(param))
        if hints:
            marked.setdefault(tuple(sorted(hints.items())), []).append(param)
        else:
            plain.append(param)
    groups: list[dict[str, Any]] = []
    if plain:
        groups.append({"params": plain, "lr": lr, "weight_decay": weight_decay})
    for hints, members in marked.items():
        groups.append({"params": members, "lr": lr, "weight_decay": weight_decay, **dict(hints)})
    return groups


def search_space(trial: Any) -> dict[str, Any]:
    """Options for :func:`build` sampled from an optuna trial (modest ranges around CardioLab's setting)."""
    return {
        "d_model": trial.suggest_categorical("d_model", [128, 256, 512]),
        "n_layers": trial.suggest_int("n_layers", 2, 6),
        "d_state": trial.suggest_categorical("d_state", [8, 16, 32, 64]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.4),
        "ssm_lr": trial.suggest_float("ssm_lr", 1e-4, 1e-2, log=True),
    }

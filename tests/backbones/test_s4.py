"""S4D backbone: the FFT convolution against the explicit recurrence, causality, shapes, gradients, optimiser
groups, and finite features at CardioLab's input shape."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from ecglab.backbones.s4 import S4Backbone, S4DLayer, build, parameter_groups, search_space

SSM_NAMES = ("log_dt", "log_A_real", "A_imag")
# largest error, relative to the output's scale max(1, max|y|): fp32 FFT and kernel rounding grow with it
TOLERANCE = {torch.float32: 5e-6, torch.float64: 1e-10}


def _layer(
    bidirectional: bool, dtype: torch.dtype, exact_reverse: bool = True, d_model: int = 6, d_state: int = 8
) -> S4DLayer:
    torch.manual_seed(0)
    layer = S4DLayer(d_model, d_state, bidirectional=bidirectional, exact_reverse=exact_reverse)
    with torch.no_grad():  # move away from the initial values so the check does not rely on S4D-Lin
        k = layer.kernel
        k.log_A_real.copy_(torch.empty_like(k.log_A_real).uniform_(math.log(0.05), math.log(2.0)))
        k.A_imag.add_(torch.randn_like(k.A_imag))
        k.log_dt.copy_(torch.empty_like(k.log_dt).uniform_(math.log(1e-3), math.log(3e-1)))
    return layer.to(dtype).eval()


def _recurrence(layer: S4DLayer, channel: int, u: torch.Tensor) -> torch.Tensor:
    """The discretised real system of N states (N/2 conjugate pairs) stepped with a Python loop, float64:
    x_k = exp(dtA) x_{k-1} + B' u_k, y_k = C x_k (no D term); independent of the module's kernel code."""
    k = layer.kernel
    dt = k.log_dt.detach().double().exp()
    a = torch.complex(-k.log_A_real.detach().double().exp(), k.A_imag.detach().double())
    c = torch.view_as_complex(k.C.detach().double()[channel].contiguous())
    a, c = torch.cat([a, a.conj()], -1), torch.cat([c, c.conj()], -1)  # (H, N): the conjugate pairs
    a_bar = torch.exp(a * dt[:, None])
    b_bar = (a_bar - 1) / a  # zero-order hold, B = 1
    u = u.double()
    x = torch.zeros(*u.shape[:2], a.shape[-1], dtype=torch.complex128)
    out = []
    for step in range(u.shape[-1]):
        x = a_bar * x + b_bar * u[..., step, None]
        y = (c * x).sum(-1)
        assert y.imag.abs().max() < 1e-9  # conjugate pairs make the output real
        out.append(y.real)
    return torch.stack(out, -1)


def _expected(layer: S4DLayer, u: torch.Tensor) -> torch.Tensor:
    skip = layer.D.detach().double()[:, None] * u.double()
    forward = _recurrence(layer, 0, u)
    if not layer.bidirectional:
        return forward + skip
    backward = _recurrence(layer, 1, u.flip(-1)).flip(-1)  # output at t sees u[t:]
    if not layer.exact_reverse:  # state-spaces' variant: shifted one step, output at t sees u[t+1:]
        backward = torch.cat([backward[..., 1:], torch.zeros_like(backward[..., :1])], -1)
    return forward + backward + skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize(
    ("bidirectional", "exact_reverse"),
    [(False, True), (True, True), (True, False)],
    ids=["unidirectional", "bidirectional", "bidirectional-state-spaces"],
)
def test_fft_convolution_equals_the_recurrence(
    bidirectional: bool, exact_reverse: bool, dtype: torch.dtype
) -> None:
    layer = _layer(bidirectional, dtype, exact_reverse)
    torch.manual_seed(1)
    u = torch.randn(3, layer.d_model, 64, dtype=torch.float64)
    with torch.no_grad():
        got = layer.ssm(u.to(dtype))
    assert got.dtype == dtype
    expected = _expected(layer, u.to(dtype))
    scale = expected.abs().max().item()
    assert scale > 0.5  # a live, non-trivial system
    assert (got.double() - expected).abs().max().item() < TOLERANCE[dtype] * max(1.0, scale)


def test_unidirectional_layer_is_causal() -> None:
    layer = _layer(False, torch.float64)
    u = torch.randn(2, layer.d_model, 64, dtype=torch.float64)
    changed = u.clone()
    changed[..., 40:] = torch.randn_like(changed[..., 40:]) * 10
    with torch.no_grad():
        a, b = layer(u), layer(changed)
    assert (a[..., :40] - b[..., :40]).abs().max() < 1e-12
    assert (a[..., 40:] - b[..., 40:]).abs().max() > 1e-3


@pytest.mark.parametrize("exact_reverse", [True, False])
def test_backward_kernel_is_anti_causal(exact_reverse: bool) -> None:
    layer = _layer(True, torch.float64, exact_reverse)
    with torch.no_grad():  # keep only the backward direction
        layer.kernel.C[0].zero_()
        layer.D.zero_()
    u = torch.randn(2, layer.d_model, 64, dtype=torch.float64)
    past_changed = u.clone()
    past_changed[..., :30] = torch.randn_like(past_changed[..., :30]) * 10
    with torch.no_grad():
        y, y_past = layer.ssm(u), layer.ssm(past_changed)
    assert (y[..., 30:] - y_past[..., 30:]).abs().max() < 1e-12  # output at t ignores u before t
    assert (y[..., :30] - y_past[..., :30]).abs().max() > 1e-3
    now_changed = u.clone()
    now_changed[..., 30] += 5.0
    with torch.no_grad():
        y_now = layer.ssm(now_changed)
    sees_present = (y_now[..., 30] - y[..., 30]).abs().max() > 1e-6
    assert bool(sees_present) is exact_reverse  # state-spaces' variant skips u[t]


def test_bidirectional_layer_sees_the_future() -> None:
    layer = _layer(True, torch.float64)
    u = torch.randn(2, layer.d_model, 64, dtype=torch.float64)
    changed = u.clone()
    changed[..., 40:] += 5.0
    with torch.no_grad():
        assert (layer(u)[..., :40] - layer(changed)[..., :40]).abs().max() > 1e-3


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("length", [1, 7, 64, 250])
def test_shapes(bidirectional: bool, length: int) -> None:
    torch.manual_seed(0)
    layer = S4DLayer(16, 8, dropout=0.1, bidirectional=bidirectional)
    assert layer.convolution_kernel(length).shape == (16, 2 * length)
    assert layer(torch.randn(3, 16, length)).shape == (3, 16, length)
    model = build(in_channels=3, d_model=16, n_layers=2, d_state=4, bidirectional=bidirectional)
    x = torch.randn(2, 3, length)
    assert model.feature_dim == 16
    assert model.sequence_features(x).shape == (2, 16, length)
    assert model.forward_features(x).shape == (2, 16)
    assert model(x).shape == (2, 16)


def test_wrong_input_is_refused() -> None:
    model = build(in_channels=12, d_model=16, n_layers=1)
    with pytest.raises(ValueError, match="12 leads"):
        model.forward_features(torch.randn(2, 1, 100))
    with pytest.raises(ValueError, match="12 leads"):
        model.forward_features(torch.randn(12, 100))
    with pytest.raises(ValueError, match="d_state"):
        build(d_state=7)


def test_gradients_reach_a_and_dt() -> None:
    torch.manual_seed(0)
    model = build(in_channels=12, d_model=16, n_layers=2, d_state=8)
    model.train()
    model.forward_features(torch.randn(2, 12, 100)).square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        if name.endswith(SSM_NAMES):
            assert param.grad.abs().max() > 0, name


@pytest.mark.parametrize("deep_copied", [False, True], ids=["built", "deep-copied"])
@pytest.mark.parametrize("ssm_lr", [1e-3, None])
def test_parameter_groups(ssm_lr: float | None, deep_copied: bool) -> None:
    backbone = build(in_channels=12, d_model=16, n_layers=2, ssm_lr=ssm_lr)
    model = nn.Sequential()  # a head on top, as the framework adds one
    model.backbone, model.head = backbone, nn.Linear(16, 5)
    marked = {id(p) for n, p in model.named_parameters() if n.endswith(SSM_NAMES)}
    assert len(marked) == 3 * 2
    for n, p in model.named_parameters():
        assert (getattr(p, "_optim", None) is not None) == (id(p) in marked), n
        if id(p) in marked:
            assert p._optim == (
                {"weight_decay": 0.0} if ssm_lr is None else {"weight_decay": 0.0, "lr": ssm_lr}
            )
    if deep_copied:  # deepcopy drops a Parameter's _optim; the module's optim_hints keep the marks
        model = copy.deepcopy(model)
        marked = {id(p) for n, p in model.named_parameters() if n.endswith(SSM_NAMES)}

    groups = parameter_groups(model, lr=3e-4, weight_decay=1e-2)
    ids = [id(p) for group in groups for p in group["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert set(ids) == {id(p) for p in model.parameters()}
    ssm = [g for g in groups if any(id(p) in marked for p in g["params"])]
    assert len(ssm) == 1
    assert {id(p) for p in ssm[0]["params"]} == marked
    assert ssm[0]["weight_decay"] == 0.0
    assert ssm[0]["lr"] == (3e-4 if ssm_lr is None else ssm_lr)
    others = [g for g in groups if g is not ssm[0]]
    assert [(g["lr"], g["weight_decay"]) for g in others] == [(3e-4, 1e-2)]

    optimizer = torch.optim.AdamW(groups)
    model.head(model.backbone(torch.randn(2, 12, 50))).sum().backward()
    optimizer.step()


def test_cardiolab_features_are_finite() -> None:
    torch.manual_seed(0)
    model = build()
    assert model.feature_dim == 512
    assert isinstance(model, S4Backbone) and len(model.layers) == 4 and model.layers[0].bidirectional
    x = torch.randn(2, 12, 250)
    for train in (True, False):
        model.train(train)
        with torch.no_grad():
            features = model.forward_features(x)
        assert features.shape == (2, 512)
        assert torch.isfinite(features).all()
    with torch.no_grad():
        assert torch.equal(model.forward_features(x), model.forward_features(x))


def test_runs_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    model = build(in_channels=12, d_model=16, n_layers=2).eval()
    x = torch.randn(2, 12, 100)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        features = model.forward_features(x)
    assert torch.isfinite(features).all()
    with torch.no_grad():
        assert (features.float() - model.forward_features(x)).abs().max() < 0.1


def test_search_space_samples_and_builds() -> None:
    optuna = pytest.importorskip("optuna")
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    options = search_space(trial)
    assert set(options) <= set(build.__code__.co_varnames)
    model = build(in_channels=12, **options)
    assert model.forward_features(torch.randn(2, 12, 50)).shape == (2, options["d_model"])

"""Patch transformer: shapes for every pooling and position kind, lengths and padding, the role of the
positions (order sensitivity, and permutation invariance without them), eval determinism, gradients."""

from __future__ import annotations

import pytest
import torch

from ecglab.backbones.transformer import PatchTransformer, build, search_space, sinusoidal_positions

TINY = {"d_model": 16, "depth": 2, "heads": 4, "patch": 10, "dropout": 0.1}


def _model(**options: object) -> PatchTransformer:
    torch.manual_seed(0)
    return build(**{**TINY, **options})  # type: ignore[arg-type]


def _shuffle_patches(x: torch.Tensor, patch: int, order: torch.Tensor) -> torch.Tensor:
    batch, leads, samples = x.shape
    return x.view(batch, leads, samples // patch, patch)[:, :, order].reshape(batch, leads, samples)


@pytest.mark.parametrize("positions", ["sinusoidal", "learnable", "none"])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_shapes(positions: str, pooling: str) -> None:
    model = _model(in_channels=2, positions=positions, pooling=pooling, max_len=1000)
    x = torch.randn(3, 2, 500)
    assert model.feature_dim == 16
    assert model.forward_features(x).shape == (3, 16)
    assert model(x).shape == (3, 16)
    assert model.tokens(x).shape == (3, 50 + (pooling == "cls"), 16)
    assert (model.pos_embed is not None) == (positions == "learnable")
    assert (model.cls_token is not None) == (pooling == "cls")


def test_default_build_on_lead_ii_at_500_hz() -> None:
    model = build(d_model=32, depth=1, heads=4)
    assert model.n_patches(5000) == 100
    assert model.forward_features(torch.randn(2, 1, 5000)).shape == (2, 32)


def test_ragged_length_is_zero_padded() -> None:
    model = _model().eval()
    x = torch.randn(2, 1, 95)
    assert model.n_patches(95) == 10
    assert model.tokens(x).shape == (2, 10, 16)
    padded = torch.cat([x, torch.zeros(2, 1, 5)], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(padded), rtol=0, atol=1e-6)
    short = torch.randn(2, 1, 3)  # shorter than one patch: one token
    assert model.tokens(short).shape == (2, 1, 16)


def test_ragged_length_is_refused_on_request() -> None:
    model = _model(remainder="error")
    assert model(torch.randn(2, 1, 100)).shape == (2, 16)
    with pytest.raises(ValueError, match="not a multiple of patch=10"):
        model(torch.randn(2, 1, 95))


def test_learnable_positions_refuse_inputs_beyond_max_len() -> None:
    model = _model(positions="learnable", max_len=200)
    assert model.pos_embed is not None and model.pos_embed.shape[1] == 20
    assert model(torch.randn(1, 1, 200)).shape == (1, 16)
    assert model(torch.randn(1, 1, 37)).shape == (1, 16)
    with pytest.raises(ValueError, match="max_len=200"):
        model(torch.randn(1, 1, 201))


def test_sinusoidal_positions_take_any_length() -> None:
    model = _model(positions="sinusoidal", max_len=200)
    assert model(torch.randn(1, 1, 3000)).shape == (1, 16)
    table = sinusoidal_positions(7, 16)
    assert table.shape == (7, 16)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 8))


def test_wrong_input_and_options_are_refused() -> None:
    model = _model(in_channels=1)
    with pytest.raises(ValueError, match="1 leads"):
        model(torch.randn(2, 12, 100))
    with pytest.raises(ValueError, match="1 leads"):
        model(torch.randn(2, 100))
    with pytest.raises(ValueError, match="divisible by heads"):
        build(d_model=30, heads=4)
    with pytest.raises(ValueError, match="positions"):
        build(positions="rotary")
    with pytest.raises(ValueError, match="pooling"):
        build(pooling="max")
    with pytest.raises(ValueError, match="remainder"):
        build(remainder="crop")


@pytest.mark.parametrize("positions", ["sinusoidal", "learnable"])
def test_positions_make_the_order_matter(positions: str) -> None:
    model = _model(positions=positions, max_len=200).double().eval()
    x = torch.randn(2, 1, 200, dtype=torch.float64)
    shuffled = _shuffle_patches(x, 10, torch.randperm(20, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        assert (model(x) - model(shuffled)).abs().max() > 1e-3


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_without_positions_the_order_does_not_matter(pooling: str) -> None:
    model = _model(positions="none", pooling=pooling).double().eval()
    x = torch.randn(2, 1, 200, dtype=torch.float64)
    shuffled = _shuffle_patches(x, 10, torch.randperm(20, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(shuffled), rtol=0, atol=1e-12)
        tokens, tokens_shuffled = model.tokens(x), model.tokens(shuffled)
    assert (tokens - tokens_shuffled).abs().max() > 1e-3  # the tokens themselves are permuted, not equal


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_eval_is_deterministic_and_train_is_not(pooling: str) -> None:
    model = _model(pooling=pooling, dropout=0.3)
    x = torch.randn(2, 1, 200)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize(
    ("positions", "pooling"), [("sinusoidal", "mean"), ("learnable", "cls"), ("none", "cls")]
)
def test_gradients_reach_every_parameter(positions: str, pooling: str) -> None:
    model = _model(positions=positions, pooling=pooling, max_len=400)
    model.train()
    model.forward_features(torch.randn(2, 1, 200)).square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().max() > 0, name


def test_search_space_samples_and_builds() -> None:
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(2):
        options = search_space(study.ask())
        model = build(in_channels=1, **options)
        with torch.no_grad():
            assert model.forward_features(torch.randn(1, 1, 1000)).shape == (1, options["d_model"])

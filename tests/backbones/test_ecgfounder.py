"""ECGFounder: the released layout (keys, shapes, counts, lengths), strict and safe checkpoint loading checked
against an independent functional reference (tests/reference_net1d.py), and the published preprocessing."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from reference_net1d import reference_features
from torch import nn
from untrusted_pickle import EXECUTED, Payload

from ecglab.backbones.ecgfounder import (
    TINY_CONFIG,
    CheckpointError,
    ECGFounder,
    build,
    ecgfounder_preprocess,
    load_checkpoint,
    released_leads,
    search_space,
)

STAGE_LENGTHS_5000 = [1250, 625, 313, 157, 79, 40, 20]


def released_state_dict(in_channels: int, config: dict[str, Any] | None = None, seed: int = 0) -> dict:
    """A state_dict in the released layout (the backbone's keys, then ``dense`` 150 x feature_dim) with random
    weights; the BatchNorm tensors are random too, so applying them anywhere would show."""
    torch.manual_seed(seed)
    model = ECGFounder(in_channels=in_channels, **(config or {}))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for key, value in state.items():
        if ".bn" in key or key.startswith("first_bn"):
            state[key] = (
                torch.randint(0, 5, value.shape) if value.dtype == torch.long else torch.rand(value.shape)
            )
    dense = nn.Linear(model.feature_dim, 150)
    state["dense.weight"], state["dense.bias"] = dense.weight.detach(), dense.bias.detach()
    return state


def save_released_checkpoint(path: Path, state: dict, val_auroc: Any = None) -> Path:
    """The released file layout: {epoch, step, state_dict, optimizer, scheduler, val_auroc (np.float64)}."""
    checkpoint = {
        "epoch": 12,
        "step": 10000,
        "state_dict": state,
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "scheduler": {"mode": "max", "factor": 0.1, "patience": 10, "best": 0.9204, "last_epoch": 12},
        "val_auroc": np.float64(0.9204) if val_auroc is None else val_auroc,
    }
    torch.save(checkpoint, path)
    return path


# ---------------------------------------------------------------------------------------- the layout


@pytest.mark.parametrize(
    "in_channels, with_dense, without_dense", [(12, 30_819_014, 30_665_264), (1, 30_807_750, 30_654_000)]
)
def test_released_keys_shapes_and_parameter_counts(
    in_channels: int, with_dense: int, without_dense: int
) -> None:
    model = build(in_channels=in_channels)
    dense = nn.Linear(model.feature_dim, 150)
    state = {**model.state_dict(), **{f"dense.{k}": v for k, v in dense.state_dict().items()}}
    keys = list(state)
    n_parameters = len(list(model.parameters())) + 2
    assert (len(keys), n_parameters, len(list(model.buffers()))) == (509, 326, 183)
    assert model.feature_dim == 1024
    assert keys[:9] == [
        "first_conv.conv.weight",
        "first_conv.conv.bias",
        "first_bn.weight",
        "first_bn.bias",
        "first_bn.running_mean",
        "first_bn.running_var",
        "first_bn.num_batches_tracked",
        "stage_list.0.block_list.0.bn1.weight",
        "stage_list.0.block_list.0.bn1.bias",
    ]
    assert keys[11:15] == [
        "stage_list.0.block_list.0.bn1.num_batches_tracked",
        "stage_list.0.block_list.0.conv1.conv.weight",
        "stage_list.0.block_list.0.conv1.conv.bias",
        "stage_list.0.block_list.0.bn2.weight",
    ]
    assert keys[-4:] == [
        "stage_list.6.block_list.3.se_fc2.weight",
        "stage_list.6.block_list.3.se_fc2.bias",
        "dense.weight",
        "dense.bias",
    ]
    assert state["first_conv.conv.weight"].shape == (64, in_channels, 16)
    assert state["dense.weight"].shape == (150, 1024) and state["dense.bias"].shape == (150,)
    groups = [stage.block_list[0].conv2.conv.groups for stage in model.stage_list]
    assert groups == [4, 10, 10, 25, 25, 64, 64]
    assert [len(stage.block_list) for stage in model.stage_list] == [2, 2, 2, 3, 3, 4, 4]
    counted = sum(p.numel() for p in model.parameters())
    assert (counted, counted + sum(p.numel() for p in dense.parameters())) == (without_dense, with_dense)
    # the never-applied BatchNorms are frozen, so every trainable parameter gets a gradient
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {
        n for n in model.state_dict() if ("bn" in n.split(".")[-2]) and n.endswith(("weight", "bias"))
    }
    assert len(frozen) == 2 * 61


@pytest.mark.parametrize("in_channels", [12, 1])
def test_released_checkpoint_loads_strictly_and_matches_the_reference(
    in_channels: int, tmp_path: Path
) -> None:
    state = released_state_dict(in_channels)
    path = save_released_checkpoint(tmp_path / f"{in_channels}_lead_ECGFounder.pth", state)
    model = build(in_channels=in_channels, checkpoint=path).eval()

    report = model.load_report
    assert report is not None and report.layout == "training checkpoint"
    assert len(report.loaded) == 507 and set(report.dropped) == {"dense.weight", "dense.bias"}
    assert "pretraining head (150 classes" in report.dropped["dense.weight"]
    assert (report.epoch, report.step, report.val_auroc) == (12, 10000, 0.9204)
    assert report.ignored_entries == ("optimizer", "scheduler") and report.stripped_prefix is None
    assert "dropped dense.weight" in str(report) and "val_auroc=0.9204" in str(report)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)

    lengths: list[int] = []
    hooks = [model.first_conv.register_forward_hook(lambda m, i, o: lengths.append(o.shape[-1]))]
    hooks += [s.register_forward_hook(lambda m, i, o: lengths.append(o.shape[-1])) for s in model.stage_list]
    torch.manual_seed(1)
    x = torch.randn(2, in_channels, 5000)
    with torch.no_grad():
        features = model.forward_features(x)
        expected = reference_features(state, x)
    for hook in hooks:
        hook.remove()
    assert lengths == [2500, *STAGE_LENGTHS_5000]
    assert features.shape == (2, 1024) and features.dtype == torch.float32
    assert features.std() > 0.05  # not a degenerate comparison
    torch.testing.assert_close(features, expected, rtol=1e-5, atol=1e-5)


def test_odd_lengths_use_the_zero_padded_pool_of_the_reference() -> None:
    """A length that is odd at several stages exercises SAME padding of conv and shortcut pool (zeros, not
    -inf: an all-negative input shows the difference)."""
    state = released_state_dict(12, TINY_CONFIG, seed=3)
    model = ECGFounder(in_channels=12, **TINY_CONFIG).eval()
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("dense.")})
    x = -torch.rand(3, 12, 1237) - 1.0
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_features(x), reference_features(state, x), rtol=1e-5, atol=1e-5
        )
        assert model.forward_feature_map(x).shape == (3, 64, 39)  # 1237 -> 619 -> 310 -> 155 -> 78 -> 39


# ------------------------------------------------------------------------------------ checkpoint files


def test_module_prefix_and_bare_state_dict(tmp_path: Path) -> None:
    state = released_state_dict(1, TINY_CONFIG)
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "dp.pt")
    model = build(in_channels=1, checkpoint=tmp_path / "dp.pt", **TINY_CONFIG)
    report = model.load_report
    assert report is not None and report.layout == "state_dict" and report.stripped_prefix == "module."
    assert "stripped the prefix 'module.'" in report.summary() and report.val_auroc is None
    assert torch.equal(model.first_conv.conv.weight, state["first_conv.conv.weight"])

    without_head = {k: v for k, v in state.items() if not k.startswith("dense.")}
    torch.save(without_head, tmp_path / "bare.pt")
    report = load_checkpoint(ECGFounder(in_channels=1, **TINY_CONFIG), tmp_path / "bare.pt")
    assert report.dropped == {} and len(report.loaded) == len(without_head)


def test_numpy_1x_checkpoints_load(tmp_path: Path) -> None:
    """The released files were written under numpy 1.x, whose pickles name numpy.core.multiarray.scalar."""
    path = save_released_checkpoint(tmp_path / "new.pth", released_state_dict(1, TINY_CONFIG))
    old = tmp_path / "old.pth"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert b"numpy._core.multiarray\nscalar" in data
                data = data.replace(b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
            target.writestr(info.filename, data)
    report = load_checkpoint(ECGFounder(in_channels=1, **TINY_CONFIG), old)
    assert report.val_auroc == 0.9204


def test_mismatches_are_errors_that_name_every_key(tmp_path: Path) -> None:
    model = ECGFounder(in_channels=12, **TINY_CONFIG)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = released_state_dict(12, TINY_CONFIG)

    def error_for(changed: dict) -> str:
        path = save_released_checkpoint(tmp_path / "bad.pth", changed)
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(model, path)
        return str(caught.value)

    missing = {
        k: v
        for k, v in state.items()
        if k not in ("stage_list.1.block_list.0.se_fc1.bias", "first_bn.running_var")
    }
    message = error_for(missing)
    assert "2 missing key(s)" in message
    assert "stage_list.1.block_list.0.se_fc1.bias" in message and "first_bn.running_var" in message

    message = error_for(
        {**state, "stage_list.0.block_list.0.extra.weight": torch.zeros(1), "head.bias": torch.zeros(2)}
    )
    assert "2 unexpected key(s): stage_list.0.block_list.0.extra.weight, head.bias" in message

    shape = {**state, "stage_list.2.block_list.0.conv2.conv.weight": torch.zeros(32, 8, 16)}
    assert (
        "stage_list.2.block_list.0.conv2.conv.weight: checkpoint (32, 8, 16), model (32, 16, 16)"
        in error_for(shape)
    )

    assert "expected (n_classes, 64)" in error_for({**state, "dense.weight": torch.zeros(150, 1024)})

    one_lead = ECGFounder(in_channels=1, **TINY_CONFIG)
    path = save_released_checkpoint(tmp_path / "twelve.pth", state)
    with pytest.raises(
        CheckpointError, match=r"first_conv.conv.weight: checkpoint \(16, 12, 16\).*"
    ) as caught:
        load_checkpoint(one_lead, path)
    assert "build with in_channels=12" in str(caught.value)
    assert all(
        torch.equal(v, before[k]) for k, v in model.state_dict().items()
    )  # failed loads change nothing


def test_arbitrary_objects_are_refused_unexecuted_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": released_state_dict(1, TINY_CONFIG), "extra": Payload()}, path)
    model = ECGFounder(in_channels=1, **TINY_CONFIG)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(model, path)
    message = str(caught.value)
    assert "untrusted pickle" in message and "weights_only=True" in message
    assert "side_effect" in message  # torch names the global it refused
    assert "torch.save(ckpt['state_dict']" in message  # what to do
    assert EXECUTED == []

    # the allow-list is exactly numpy float64: another numpy scalar type is refused too
    path = save_released_checkpoint(
        tmp_path / "f32.pth", released_state_dict(1, TINY_CONFIG), np.float32(0.9)
    )
    with pytest.raises(CheckpointError, match="Float32DType"):
        load_checkpoint(model, path)

    # and without the allow-list, torch itself refuses the released layout (why the allow-list exists)
    path = save_released_checkpoint(tmp_path / "ok.pth", released_state_dict(1, TINY_CONFIG))
    with pytest.raises(Exception, match=r"numpy\._core\.multiarray\.scalar"):
        torch.load(path, weights_only=True)


def test_unknown_layouts_are_refused(tmp_path: Path) -> None:
    torch.save({"model": {"a": 1}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="neither an ECGFounder training checkpoint"):
        load_checkpoint(ECGFounder(in_channels=1, **TINY_CONFIG), tmp_path / "other.pt")


# ------------------------------------------------------------------------------ backbone contract, extras


def test_forward_contract_leads_and_search_space() -> None:
    model = build(in_channels=1, **TINY_CONFIG)
    assert model.feature_dim == 64 and model.leads == ("I",)
    assert model.forward_features(torch.randn(2, 1, 5000)).shape == (2, 64)
    with pytest.raises(ValueError, match=r"expects \(batch, 1, samples\)"):
        model.forward_features(torch.randn(2, 12, 5000))
    assert released_leads(12) == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    assert released_leads(1) == ("I",)
    with pytest.raises(ValueError, match="12 or 1"):
        released_leads(2)
    with pytest.raises(ValueError, match="multiple of groups_width"):
        build(in_channels=1, filter_list=(16, 24), m_blocks_list=(1, 1), base_filters=16)

    class Trial:
        def suggest_float(self, name: str, low: float, high: float) -> float:
            return (low + high) / 2

    options = search_space(Trial())
    assert options == {"drop_path_rate": 0.15}
    assert build(in_channels=1, **TINY_CONFIG, **options).forward_features(torch.randn(1, 1, 500)).shape == (
        1,
        64,
    )


def test_stochastic_depth_only_acts_in_training() -> None:
    torch.manual_seed(0)
    plain = build(in_channels=1, **TINY_CONFIG)
    dropped = build(in_channels=1, **TINY_CONFIG, drop_path_rate=0.5)
    dropped.load_state_dict(plain.state_dict())
    rates = [b.drop_path_rate for s in dropped.stage_list for b in s.block_list]
    assert rates == pytest.approx([0.0, 0.5 / 3, 1.0 / 3, 0.5])
    x = torch.randn(8, 1, 1000)
    plain.eval()
    dropped.eval()
    assert torch.equal(plain.forward_features(x), dropped.forward_features(x))
    dropped.train()
    torch.manual_seed(1)
    trained = dropped.forward_features(x)
    assert not torch.allclose(trained, plain.forward_features(x))
    trained.square().mean().backward()
    assert all(p.grad is not None for p in dropped.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------- preprocessing


def _tone(freq: float, seconds: float = 10.0, fs: float = 500.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(seconds * fs)) / fs)


def _amplitude(x: np.ndarray, freq: float, fs: float = 500.0) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(spectrum[round(freq * x.size / fs)])


def test_preprocessing_is_the_published_chain_with_one_global_zscore() -> None:
    from scipy import signal

    rng = np.random.default_rng(0)
    x = np.stack([_tone(7.0) * (1 + lead) + 0.3 * rng.normal(size=5000) for lead in range(12)])
    out = ecgfounder_preprocess(x)
    assert out.shape == (12, 5000) and out.dtype == np.float32
    assert abs(out.mean()) < 1e-6 and abs(out.std() - 1.0) < 1e-5  # one z-score over the whole array
    per_lead = out.std(axis=1)
    assert per_lead[-1] / per_lead[0] > 8  # ... not per lead: lead 12 keeps its 12x amplitude

    expected = np.empty_like(x)  # the doc's chain, written out lead by lead
    for lead in range(12):
        y = signal.filtfilt(*signal.iirnotch(50, 30, 500), x[lead])
        y = signal.filtfilt(*signal.butter(4, [0.67, 40], btype="bandpass", fs=500), y)
        expected[lead] = y - signal.medfilt(y, 201)
    expected = (expected - expected.mean()) / (expected.std() + 1e-8)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_preprocessing_removes_mains_and_baseline() -> None:
    ecg = _tone(7.0)
    mains = ecgfounder_preprocess(np.stack([ecg + _tone(50.0)]))[0]
    before = 20 * np.log10(_amplitude(ecg + _tone(50.0), 50.0) / _amplitude(ecg + _tone(50.0), 7.0))
    after = 20 * np.log10(_amplitude(mains, 50.0) / _amplitude(mains, 7.0))
    assert before > -1 and before - after > 20

    t = np.arange(5000) / 500
    wander = 3 * np.sin(2 * np.pi * 0.15 * t) + 0.4 * t
    cleaned = ecgfounder_preprocess(np.stack([ecg + wander]))[0]
    reference = (ecg - ecg.mean()) / ecg.std()
    middle = slice(500, 4500)  # away from the filters' edges
    assert np.corrcoef(cleaned[middle], reference[middle])[0, 1] > 0.99
    assert np.abs(cleaned - reference)[middle].max() < 0.15

    with pytest.raises(ValueError, match="non-finite"):
        ecgfounder_preprocess(np.array([[0.0, np.nan] * 300]))


def test_build_can_apply_the_preprocessing() -> None:
    torch.manual_seed(0)
    raw = build(in_channels=12, **TINY_CONFIG).eval()
    cooked = build(in_channels=12, preprocess=True, **TINY_CONFIG).eval()
    cooked.load_state_dict(raw.state_dict())
    x = torch.randn(2, 12, 5000) * 100 + 40
    expected = torch.from_numpy(np.stack([ecgfounder_preprocess(r) for r in x.numpy()]))
    with torch.no_grad():
        torch.testing.assert_close(cooked.forward_features(x), raw.forward_features(expected))

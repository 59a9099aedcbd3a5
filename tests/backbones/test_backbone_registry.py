"""The backbone registry, the entry-point path for submitted backbones, the conformance suite, baselines,
late fusion and the timm adapter."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch
from locations import TESTS
from torch import nn

import ecglab.backbones.registry as registry
from ecglab import registry as generic
from ecglab.backbones.baselines import PerTargetClassifier
from ecglab.backbones.conformance import check_backbone, imports_are_light
from ecglab.backbones.fusion import LateFusion
from ecglab.bench.cli import main


@pytest.fixture
def with_fake_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register tests/fake_backbone.py as if an installed package declared it as an entry point."""
    monkeypatch.syspath_prepend(str(TESTS))
    entry = EntryPoint(name="fake", value="fake_backbone:INFO", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(generic, "entry_points", lambda group: [entry] if group == entry.group else [])
    monkeypatch.setattr(registry, "REGISTRY", registry.new_registry())


def test_entry_point_backbones_are_listed_created_and_checked(with_fake_entry_point: None) -> None:
    assert {"meanstd", "broken"} <= set(registry.list_backbones())
    model = registry.create_backbone("meanstd", "tiny", width=5)
    assert model.feature_dim == 5 and model.forward_features(torch.randn(2, 1, 200)).shape == (2, 5)
    assert all(result.ok for result in check_backbone("meanstd", "tiny"))


def test_a_broken_backbone_fails_with_what_is_wrong(with_fake_entry_point: None) -> None:
    results = {r.check: r for r in check_backbone("broken", "tiny", import_check=False)}
    assert not results["forward"].ok and "(2, 3)" in results["forward"].detail
    assert results["parameter count"].ok and "24 counted (24 trainable)" in results["parameter count"].detail
    assert results["search space"].ok  # none declared: lr and weight decay only


def test_duplicates_and_unknown_names(with_fake_entry_point: None) -> None:
    info = registry.get_backbone_info("meanstd")
    with pytest.raises(ValueError, match="already registered"):
        registry.register_backbone(info)
    with pytest.raises(KeyError, match="did you mean meanstd"):
        registry.get_backbone_info("meanstdd")
    with pytest.raises(KeyError, match="no preset 'huge'"):
        registry.create_backbone("meanstd", "huge")


def test_listing_imports_no_model_code() -> None:
    code = (
        "import sys; from ecglab.backbones.registry import list_backbones; names = list_backbones(); "
        "print(len(names), sorted(m for m in sys.modules if m.startswith('ecglab.backbones.')), "
        "'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ecglab.backbones.registry" in out and "ecglab.backbones.builtin" in out
    for module in (
        "ecglab.backbones.ecgfounder",
        "ecglab.backbones.s4",
        "ecglab.backbones.transformer",
        "ecglab.backbones.timm_adapter",
    ):
        assert module not in out
    assert out.strip().endswith("False")  # not even torch


def test_cli_check_reports_each_check(
    with_fake_entry_point: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backbones", "check", "broken"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  forward" in out and "check(s) failed" in out
    assert main(["backbones", "list", "mean*"]) == 0
    assert "meanstd" in capsys.readouterr().out


def test_per_target_classifier_masks_unobserved_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = np.stack([(x[:, 0] > 0).astype(int), np.ones(400, dtype=int)], axis=1)
    y[:100, 0] = -1  # not measured: must not become negatives
    x[:100, 0] = -5.0  # ... although these rows look negative
    model = PerTargetClassifier().fit(x, y)
    assert model.untrainable == [1]  # a single class cannot be fitted: reported
    proba = model.predict_proba(x)
    assert proba.shape == (400, 2) and (proba[:, 1] == 1.0).all()
    observed = y[:, 0] != -1
    assert ((proba[observed, 0] > 0.5) == (y[observed, 0] == 1)).mean() > 0.95


def test_late_fusion_concatenates_ecg_and_tabular_features() -> None:
    class Tiny(nn.Module):
        feature_dim = 4

        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(1, 4)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.mean(dim=2))

    fusion = LateFusion(Tiny(), n_tabular=6, hidden=(8, 8))
    out = fusion.forward_features(torch.randn(3, 1, 50), torch.randn(3, 6))
    assert fusion.feature_dim == 12 and out.shape == (3, 12)
    with pytest.raises(ValueError, match="tabular"):
        fusion.forward_features(torch.randn(3, 1, 50))


def test_timm_adapter_runs_an_image_model_on_the_lead_time_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """timm cannot be imported with this CPU torch (its torchvision wheels are CUDA builds), so CI checks the
    adapter against a stand-in that follows timm's create_model contract (in_chans, num_classes=0 -> pooled
    features, num_features); a machine where timm imports runs the real one in the next test."""
    calls = {}

    def create_model(name: str, pretrained: bool, in_chans: int, num_classes: int) -> nn.Module:
        calls.update(name=name, pretrained=pretrained, in_chans=in_chans, num_classes=num_classes)
        model = nn.Sequential(
            nn.Conv2d(in_chans, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        model.num_features = 6
        return model

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))
    from ecglab.backbones.timm_adapter import build

    backbone = build("resnet18")
    assert calls == {"name": "resnet18", "pretrained": False, "in_chans": 1, "num_classes": 0}
    features = backbone.forward_features(torch.randn(2, 12, 500))
    assert features.shape == (2, backbone.feature_dim) == (2, 6)


def test_real_timm_when_it_imports() -> None:
    timm = pytest.importorskip("timm", reason="timm needs a torchvision built for this torch (not on CPU CI)")
    from ecglab.backbones.timm_adapter import build

    backbone = build("resnet18")
    assert backbone.forward_features(torch.randn(2, 12, 1000)).shape == (2, backbone.feature_dim)
    assert timm.__version__


def _timm_imports() -> bool:
    try:
        __import__("timm")
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("name", registry.list_backbones())
def test_every_registered_backbone_passes_the_conformance_suite(name: str) -> None:
    """Every check but the light import, which the next test runs for all of them in one interpreter."""
    if name == "timm" and not _timm_imports():
        pytest.skip("timm does not import with this CPU torch (its torchvision is a CUDA build)")
    failed = [f"{r.check}: {r.detail}" for r in check_backbone(name, "tiny", import_check=False) if not r.ok]
    assert not failed


def test_every_registered_backbones_model_code_imports_light() -> None:
    infos = [registry.get_backbone_info(name) for name in registry.list_backbones()]
    if not _timm_imports():
        infos = [info for info in infos if info.name != "timm"]
    results = imports_are_light(infos)
    assert len(results) == len(infos) and all(r.check == "import" for r in results)
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok]

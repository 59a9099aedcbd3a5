"""The conformance suite every registered backbone must pass (``ecglab backbones check NAME``, and the tests).

Checks, each reported with what failed: importing the model code is light (no training stack, no timm
unless asked); forward at the declared input shape gives finite features of the declared size; backward
reaches the trainable parameters; eval mode is deterministic; the parameter count matches the metadata; the
declared search space samples and builds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecglab.backbones.info import BackboneInfo
from ecglab.backbones.registry import create_backbone, get_backbone_info, preset_options

HEAVY_MODULES = ("mlflow", "optuna", "timm", "sklearn", "pandas")
STANDARD_LEADS = 12


@dataclass(frozen=True)
class CheckResult:
    check: str
    ok: bool
    detail: str


def input_shape(info: BackboneInfo, preset: str, batch: int = 2) -> tuple[int, int, int]:
    options = info.presets[preset]
    leads = len(info.input.leads) if info.input.leads else int(options.get("in_channels", STANDARD_LEADS))
    seconds = info.input.seconds or 10.0
    return batch, leads, round(seconds * info.input.fs)


def _import_is_light(info: BackboneInfo) -> CheckResult:
    module = info.factory.partition(":")[0]
    code = f"import sys; import {module}; print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the caller's path
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=environment
    )
    if result.returncode != 0:
        return CheckResult("import", False, f"importing {module} failed: {result.stderr.strip()[-300:]}")
    heavy = [m for m in result.stdout.strip().split(",") if m]
    allowed = {"timm"} if info.name == "timm" else {"sklearn", "pandas"} if info.kind == "baseline" else set()
    heavy = [m for m in heavy if m not in allowed]
    if heavy:
        return CheckResult("import", False, f"importing {module} pulls in {heavy}; import those lazily")
    return CheckResult("import", True, f"{module} imports without {', '.join(HEAVY_MODULES)}")


def _check_baseline(info: BackboneInfo, preset: str) -> list[CheckResult]:
    """A baseline model: fits on observed labels only and predicts probabilities of the declared shape."""
    import numpy as np

    built = create_backbone(info.name, preset)
    classifier = built[1] if isinstance(built, tuple) else built
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 5))
    labels = np.stack([(features[:, 0] > 0).astype(np.int8), (features[:, 1] > 0).astype(np.int8)], axis=1)
    labels[:20, 0] = -1
    proba = classifier.fit(features, labels).predict_proba(features)
    ok = proba.shape == (120, 2) and bool(np.all((proba >= 0) & (proba <= 1)))
    return [CheckResult("fit and predict", ok, f"probabilities of shape {proba.shape}, within [0, 1]: {ok}")]


@dataclass
class _Subject:
    """The backbone under test and what the checks hand on to each other (the model, the input batch)."""

    name: str
    preset: str
    info: BackboneInfo
    model: Any = None
    x: Any = None


def _build(subject: _Subject) -> CheckResult:
    subject.model = create_backbone(subject.name, subject.preset)
    dim = getattr(subject.model, "feature_dim", None)
    ok = isinstance(dim, int) and dim > 0 and hasattr(subject.model, "forward_features")
    return CheckResult(
        "build", ok, f"feature_dim={dim}" if ok else "needs int feature_dim and forward_features"
    )


def _forward(subject: _Subject) -> CheckResult:
    import torch

    model = subject.model
    shape = input_shape(subject.info, subject.preset)
    x = torch.randn(*shape)
    features = model.forward_features(x)
    subject.x = x
    ok = tuple(features.shape) == (shape[0], model.feature_dim) and bool(torch.isfinite(features).all())
    return CheckResult("forward", ok, f"input {shape} -> features {tuple(features.shape)}, finite={ok}")


def _backward(subject: _Subject) -> CheckResult:
    import torch

    model = subject.model
    model.train()
    model.zero_grad()
    model.forward_features(subject.x).square().mean().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in trainable if p.grad is None]
    bad = [n for n, p in trainable if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    ok = bool(trainable) and not missing and not bad
    return CheckResult(
        "backward",
        ok,
        f"{len(trainable)} trainable tensors; no gradient: {missing[:5]}; non-finite: {bad[:5]}",
    )


def _deterministic(subject: _Subject) -> CheckResult:
    import torch

    model = subject.model
    model.eval()
    with torch.no_grad():
        first, second = model.forward_features(subject.x), model.forward_features(subject.x)
    ok = bool(torch.equal(first, second))
    return CheckResult("eval determinism", ok, "two eval forwards are identical" if ok else "eval differs")


def _parameters(subject: _Subject) -> CheckResult:
    count = sum(p.numel() for p in subject.model.parameters())
    declared = subject.info.n_parameters.get(subject.preset)
    ok = declared == count
    return CheckResult("parameter count", ok, f"counted {count:,}, metadata says {declared}")


def _search_space(subject: _Subject) -> CheckResult:
    info = subject.info
    if info.search_space is None:
        return CheckResult("search space", False, "no search space declared")
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    options = info.resolve(info.search_space)(trial)
    model = create_backbone(subject.name, subject.preset, **options)
    shape = input_shape(info, subject.preset)
    out = model.forward_features(torch.randn(*shape))
    ok = out.shape[1] == model.feature_dim
    return CheckResult("search space", ok, f"sampled {options}")


# The checks after "build", in order; those that need the input batch are skipped when forward failed.
_MODEL_CHECKS: tuple[tuple[str, Callable[[_Subject], CheckResult]], ...] = (
    ("forward", _forward),
    ("backward", _backward),
    ("eval determinism", _deterministic),
    ("parameter count", _parameters),
    ("search space", _search_space),
)
_NEED_INPUT = ("backward", "eval determinism")


def _guarded(check: str, body: Callable[[_Subject], CheckResult], subject: _Subject) -> CheckResult:
    try:
        return body(subject)
    except Exception as err:  # a contributor's backbone may fail anyhow: report it, do not crash
        return CheckResult(check, False, f"{type(err).__name__}: {err}")


def check_backbone(name: str, preset: str = "tiny") -> list[CheckResult]:
    """Run every check on backbone ``name`` built with ``preset``; never raises for a failing backbone (an
    unknown name or preset raises a one-line error with close matches: nothing to check)."""
    import torch

    info = get_backbone_info(name)
    preset_options(info, preset)
    results = [_import_is_light(info)]
    if info.kind == "baseline":
        try:
            return results + _check_baseline(info, preset)
        except Exception as err:  # a contributor's model may fail anyhow: report it, do not crash
            return [*results, CheckResult("fit and predict", False, f"{type(err).__name__}: {err}")]

    torch.manual_seed(0)
    subject = _Subject(name, preset, info)
    results.append(_guarded("build", _build, subject))
    if results[-1].ok:
        for check, body in _MODEL_CHECKS:
            if check in _NEED_INPUT and subject.x is None:
                results.append(CheckResult(check, False, "skipped: forward failed"))
                continue
            results.append(_guarded(check, body, subject))
    return results

"""The conformance suite every registered backbone must pass (``ecglab backbones check NAME``, and the tests).

Checks, each reported with what failed: importing the model code is light (no training stack, no timm
unless asked); the factory takes ``in_channels`` (the framework always gives it, see
:class:`~ecglab.backbones.info.InputContract`); forward at the declared input shape gives finite features of
the declared size; backward reaches the trainable parameters; eval mode is deterministic; parameters are
counted (a CPU build of the preset, as ``backbones list`` counts) and that count is the built model's; the
search space, if one is declared, samples and builds (none declared: tuning searches learning rate and weight
decay only).
:func:`check_backbone` checks one preset, :func:`check_presets` every preset (the import once).
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ecglab.backbones.counting import count_parameters
from ecglab.backbones.info import BackboneInfo
from ecglab.backbones.registry import create_backbone, get_backbone_info, preset_options

HEAVY_MODULES = ("mlflow", "optuna", "timm", "sklearn", "pandas")


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome and what it found."""

    check: str
    ok: bool
    detail: str


def input_shape(info: BackboneInfo, preset: str, batch: int = 2) -> tuple[int, int, int]:
    """The test batch's shape: the preset's leads (:meth:`BackboneInfo.in_channels`), the contract's rate
    and length (10 s for a contract of any length)."""
    seconds = info.input.seconds or 10.0
    return batch, info.in_channels(preset), round(seconds * info.input.fs)


IMPORT_PROBE = """
import importlib, json, sys
heavy, out = {heavy!r}, []
for module in {modules!r}:
    before = {{m for m in heavy if m in sys.modules}}
    try:
        importlib.import_module(module)
        error = ""
    except Exception as err:  # reported as the module's failed import check
        error = f"{{type(err).__name__}}: {{err}}"
    out.append([module, error, [m for m in heavy if m in sys.modules and m not in before]])
print(json.dumps(out))
"""


def imports_are_light(infos: list[BackboneInfo]) -> list[CheckResult]:
    """The light-import check of each backbone's model module, all in one fresh interpreter (torch
    backbones first, then baselines, which may import scikit-learn and pandas): a heavy module is blamed on
    the first module whose import brings it in."""
    import json

    ordered = sorted(infos, key=lambda info: info.kind == "baseline")
    modules = [info.factory.partition(":")[0] for info in ordered]
    code = IMPORT_PROBE.format(heavy=HEAVY_MODULES, modules=modules)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # the caller's path
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=environment
    )
    if result.returncode != 0:
        failed = f"the import probe failed: {result.stderr.strip()[-300:]}"
        return [CheckResult("import", False, failed) for _ in ordered]
    found = {
        module: (error, heavy) for module, error, heavy in json.loads(result.stdout.strip().splitlines()[-1])
    }
    results = {}
    for info, module in zip(ordered, modules, strict=True):
        error, heavy = found[module]
        allowed = (
            {"timm"} if info.name == "timm" else {"sklearn", "pandas"} if info.kind == "baseline" else set()
        )
        heavy = [m for m in heavy if m not in allowed]
        if error:
            results[info.name] = CheckResult("import", False, f"importing {module} failed: {error[-300:]}")
        elif heavy:
            results[info.name] = CheckResult(
                "import", False, f"importing {module} pulls in {heavy}; import those lazily"
            )
        else:
            results[info.name] = CheckResult(
                "import", True, f"{module} imports without {', '.join(HEAVY_MODULES)}"
            )
    return [results[info.name] for info in infos]


def _import_is_light(info: BackboneInfo) -> CheckResult:
    return imports_are_light([info])[0]


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


def _factory_arguments(info: BackboneInfo) -> CheckResult:
    parameters = inspect.signature(info.resolve(info.factory)).parameters.values()
    ok = any(p.name == "in_channels" or p.kind is p.VAR_KEYWORD for p in parameters)
    detail = "takes in_channels (the number of leads the task feeds)"
    return CheckResult("factory arguments", ok, detail if ok else f"{info.factory} must take in_channels")


def _build(subject: _Subject) -> CheckResult:
    in_channels = subject.info.in_channels(subject.preset)
    subject.model = create_backbone(subject.name, subject.preset, in_channels=in_channels)
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
    built = sum(p.numel() for p in subject.model.parameters())
    count = count_parameters(subject.info, subject.preset)
    ok = count.total == built
    detail = f"{count.total:,} counted ({count.trainable:,} trainable), {built:,} in the built model"
    if subject.info.n_parameters is not None:
        detail += "; n_parameters in the metadata is deprecated and ignored: remove it"
    return CheckResult("parameter count", ok, detail)


def _search_space(subject: _Subject) -> CheckResult:
    info = subject.info
    if info.search_space is None:
        return CheckResult("search space", True, "none declared: tuning searches lr and weight decay only")
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    options = info.resolve(info.search_space)(trial)
    in_channels = info.in_channels(subject.preset)
    model = create_backbone(subject.name, subject.preset, **{**options, "in_channels": in_channels})
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


def check_presets(name: str, presets: Sequence[str] | None = None) -> dict[str, list[CheckResult]]:
    """:func:`check_backbone` on each of ``presets`` (default: every preset of the backbone), the import
    check with the first only; an unknown name or preset raises before anything is checked."""
    info = get_backbone_info(name)
    chosen = list(info.presets) if presets is None else list(presets)
    for preset in chosen:
        preset_options(info, preset)
    return {preset: check_backbone(name, preset, import_check=i == 0) for i, preset in enumerate(chosen)}


def check_backbone(name: str, preset: str = "tiny", import_check: bool = True) -> list[CheckResult]:
    """Run every check on backbone ``name`` built with ``preset`` (``import_check``: the light-import check
    too, in a subprocess); never raises for a failing backbone (an unknown name or preset raises a one-line
    error with close matches: nothing to check)."""
    import torch

    info = get_backbone_info(name)
    preset_options(info, preset)
    results = [_import_is_light(info)] if import_check else []
    if info.kind == "baseline":
        try:
            return results + _check_baseline(info, preset)
        except Exception as err:  # a contributor's model may fail anyhow: report it, do not crash
            return [*results, CheckResult("fit and predict", False, f"{type(err).__name__}: {err}")]

    torch.manual_seed(0)
    subject = _Subject(name, preset, info)
    results.append(_guarded("factory arguments", lambda s: _factory_arguments(s.info), subject))
    results.append(_guarded("build", _build, subject))
    if results[-1].ok:
        for check, body in _MODEL_CHECKS:
            if check in _NEED_INPUT and subject.x is None:
                results.append(CheckResult(check, False, "skipped: forward failed"))
                continue
            results.append(_guarded(check, body, subject))
    return results

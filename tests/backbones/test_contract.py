"""The input contract says what it means: the factory always gets ``in_channels``; a strict contract refuses
a task feeding another rate or length, a hint warns once; parameter counts are computed (a CPU
build), shown by ``backbones list``; ``backbones check`` runs every preset; a search space is optional."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from types import SimpleNamespace

import pytest
from locations import TESTS
from torch import nn

import ecglab.backbones.registry as registry
from ecglab import registry as generic
from ecglab.backbones.builtin import BUILTIN
from ecglab.backbones.conformance import check_backbone
from ecglab.backbones.counting import count_parameters, format_count
from ecglab.backbones.info import BackboneInfo, InputContract
from ecglab.bench import config as bench_config
from ecglab.bench.cli import main
from ecglab.bench.engine import prepare
from ecglab.bench.engine.distributed import single_process
from ecglab.bench.tune.space import describe_space

TINY = {"full": {"width": 16}, "tiny": {"width": 8}}
TASK_SPEC = """
defaults:
  version: "1"
  panel: {kind: anyecg_lab, min_positives: 1, min_negatives: 1}
  split: {kind: patient, fractions: [0.5, 0.25, 0.25], seed: 0}
  input: {leads: [II], fs: 100, seconds: 5}
tasks:
  - {name: contract_strict_forecast, kind: forecast, horizon_min: 60, description: a strict contract's task}
"""


def build_without_leads(width: int = 4) -> nn.Module:
    return nn.Linear(1, width)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of the built-ins and tests/fake_backbone.py's entries, plus the backbones registered here;
    no input-contract warning printed yet."""
    monkeypatch.syspath_prepend(str(TESTS))
    entry = EntryPoint(name="fake", value="fake_backbone:INFO", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(generic, "entry_points", lambda group: [entry] if group == entry.group else [])
    monkeypatch.setattr(registry, "REGISTRY", registry.new_registry())
    monkeypatch.setattr(prepare, "WARNED", set())
    for info in (
        BackboneInfo(
            "strictnet",
            "fake_backbone:build",
            "strict",
            InputContract(None, 500.0, 10.0, required=True),
            TINY,
        ),
        BackboneInfo("hintnet", "fake_backbone:build", "a hint", InputContract(("II",), 500.0, 10.0), TINY),
        BackboneInfo(
            "anylength", "fake_backbone:build", "any length", InputContract(None, 100.0, None), TINY
        ),
        BackboneInfo("noleads", f"{__name__}:build_without_leads", "no leads", InputContract(), TINY),
    ):
        registry.register_backbone(info)


def task(name: str = "demo_est_15min", leads: tuple[str, ...] = ("II",), fs: float = 100, seconds: float = 5):
    spec = SimpleNamespace(name=name, input=SimpleNamespace(leads=leads, fs=fs, seconds=seconds))
    return SimpleNamespace(spec=spec)


def options_for(backbone: str, data: SimpleNamespace, **backbone_options: object) -> dict:
    config = bench_config.build_run_config(
        {"backbone": backbone, "task": data.spec.name, "cohort": "c", "backbone_options": backbone_options}
    )
    return prepare.backbone_options(config, registry.get_backbone_info(backbone), data)


def test_the_factory_always_gets_the_number_of_leads_fed(fresh: None) -> None:
    twelve = task(leads=("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"))
    assert options_for("ecgfounder", twelve)["in_channels"] == 12  # a contract of any leads
    assert options_for("s4", task())["in_channels"] == 1  # over the preset's 12
    assert options_for("hintnet", task())["in_channels"] == 1  # a contract naming its leads: len(leads)
    with pytest.raises(
        prepare.RunError, match=r"in_channels=3 but task demo_est_15min feeds 1 lead\(s\) \(II\)"
    ):
        options_for("s4", task(), in_channels=3)
    with pytest.raises(prepare.RunError, match="hintnet expects leads"):
        options_for("hintnet", task(leads=("I",)))


def test_a_strict_contract_refuses_and_a_hint_warns_once(fresh: None, capsys: pytest.CaptureFixture) -> None:
    strict, hint = registry.get_backbone_info("strictnet"), registry.get_backbone_info("hintnet")
    with pytest.raises(prepare.RunError) as refused:
        prepare.check_input_contract(strict, task().spec)
    assert str(refused.value) == (
        "strictnet requires 500 Hz, 10 s (a strict input contract); task demo_est_15min feeds 100 Hz, 5-s "
        "crops: use a task at that rate and length"
    )
    assert prepare.check_input_contract(strict, task(fs=500, seconds=10).spec) is None
    line = (
        "hintnet declares 500 Hz, 10 s; task demo_est_15min feeds 100 Hz, 5-s crops: the task decides what "
        "the backbone receives"
    )
    assert prepare.check_input_contract(hint, task().spec) == line
    prepare.warn_input_contract(hint, task().spec)
    prepare.warn_input_contract(hint, task().spec)  # a second trial of a study: no second line
    assert capsys.readouterr().err == f"ecglab: warning: {line}\n"
    anylength = registry.get_backbone_info("anylength")
    assert prepare.check_input_contract(anylength, task(seconds=30).spec) is None  # seconds=None: any
    assert "declares 100 Hz, any length" in prepare.check_input_contract(anylength, task(fs=250).spec)


def test_a_strict_contract_is_refused_before_the_cohort_is_opened(fresh: None, tmp_path: Path) -> None:
    spec_file = tmp_path / "tasks.yaml"
    spec_file.write_text(TASK_SPEC)
    config = bench_config.build_run_config(
        {
            "backbone": "strictnet",
            "task": "contract_strict_forecast",
            "cohort": str(tmp_path / "absent"),
            "task_specs": [str(spec_file)],
        }
    )
    with pytest.raises(prepare.RunError, match=r"strictnet requires 500 Hz, 10 s .* feeds 100 Hz, 5-s crops"):
        prepare.prepare(config, tmp_path / "runs", single_process())
    assert not (tmp_path / "runs").exists()


def test_parameter_counts_are_computed(fresh: None) -> None:
    for name in ("ecgfounder", "s4", "transformer"):
        info = registry.get_backbone_info(name)
        count = count_parameters(info, "tiny")
        model = registry.create_backbone(name, "tiny", in_channels=info.in_channels("tiny"))
        assert count.total == sum(p.numel() for p in model.parameters()) >= count.trainable > 0
    assert count_parameters(registry.get_backbone_info("ecgfounder"), "full").total == 30_665_264
    assert [format_count(n) for n in (30_665_264, 58_040, 512)] == ["30.67M", "58.0k", "512"]
    assert all(info.n_parameters is None for info in BUILTIN)  # nothing typed by hand


def test_the_conformance_suite_checks_counting_arguments_and_an_optional_space(fresh: None) -> None:
    meanstd = {r.check: r for r in check_backbone("meanstd", "tiny", import_check=False)}
    assert meanstd["parameter count"].ok and "24 counted (24 trainable), 24 in the built model" in (
        meanstd["parameter count"].detail
    )
    broken = {r.check: r for r in check_backbone("broken", "tiny", import_check=False)}  # no space declared
    assert broken["search space"].ok and "none declared" in broken["search space"].detail
    assert "n_parameters in the metadata is deprecated" in broken["parameter count"].detail
    noleads = {r.check: r for r in check_backbone("noleads", "tiny", import_check=False)}
    assert (
        not noleads["factory arguments"].ok and "must take in_channels" in noleads["factory arguments"].detail
    )
    described = describe_space(None, "mynet")
    assert described == "mynet declares no search space: tuning learning rate and weight decay only"


def test_list_shows_contract_and_counts_and_check_runs_every_preset(
    fresh: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backbones", "list", "ecgfounder"]) == 0
    out = capsys.readouterr().out
    assert "input: leads any, 500 Hz, 10 s (a hint: the task decides); normalisation zscore" in out
    assert (
        "parameters: full 30.67M, tiny 58.0k (12 leads); full_1lead 30.65M, tiny_1lead 55.2k (1 lead)" in out
    )
    assert main(["backbones", "list", "strictnet"]) == 0
    assert "(required)" in capsys.readouterr().out
    assert main(["backbones", "check", "meanstd"]) == 0  # the fake entry point's: its import is checked once
    out = capsys.readouterr().out
    assert "meanstd (full):" in out and "meanstd (tiny):" in out and out.count("PASS  import") == 1
    assert out.strip().endswith("meanstd (full, tiny): all checks passed")
    assert main(["backbones", "check", "broken", "--preset", "tiny"]) == 1
    out = capsys.readouterr().out
    assert "broken (full)" not in out and "tiny: forward" in out.splitlines()[-1]


def test_list_without_counts_imports_no_torch() -> None:
    code = (
        "import sys; from ecglab.bench.cli import main; main(['backbones', 'list', '--no-counts']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "input: leads any, 100 Hz, 2.5 s" in out and "parameters:" not in out
    assert out.strip().endswith("False")

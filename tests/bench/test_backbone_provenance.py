"""Which package a backbone comes from, in ``run.json``: ecglab for a built-in; for an entry point, the
distribution declaring it (a dist-info on sys.path, as pip installs one), with the commit of a VCS install
or of the git checkout tracking its module; no git is no commit, never a failed run; older records read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest
from locations import REPO

import ecglab.backbones.provenance as provenance_module
import ecglab.backbones.registry as backbone_registry
from ecglab.backbones.provenance import BackbonePackage, backbone_package
from ecglab.bench.config import build_run_config
from ecglab.bench.engine.run import running_record
from ecglab.bench.run_folder import (
    RECORD_FILE,
    RunRecordError,
    provenance,
    read_record,
    record_from_dict,
    write_record,
)
from ecglab.bench.tracking.contents import identity
from ecglab.bench.tracking.folder import RunFolder
from ecglab.tasks.registry import get_task

MODULE = "provnet_backbone"
MODULE_CODE = '''"""A third-party backbone package's metadata module."""
from ecglab.backbones.info import BackboneInfo

INFO = BackboneInfo(
    name="provnet",
    factory="provnet_backbone:build",
    summary="a backbone of an installed package",
    presets={"full": {}, "tiny": {}},
)
'''
HAS_GIT = shutil.which("git") is not None


def _git(folder: Path, *args: str) -> str:
    command = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site folder on sys.path holding the module and the dist-info of distribution provnet-ecg 1.2.3,
    whose entry point in group ecglab.backbones gives backbone provnet; a fresh backbone registry."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(MODULE_CODE)
    dist = folder / "provnet_ecg-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: provnet-ecg\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(f"[ecglab.backbones]\nprovnet = {MODULE}:INFO\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(backbone_registry, "REGISTRY", backbone_registry.new_registry())
    yield folder
    sys.modules.pop(MODULE, None)


def _record_of(backbone: str, tmp_path: Path) -> dict:
    """The run.json a run of ``backbone`` starts with (written and read back as the engine does)."""
    spec = get_task("anyecg_lab_est_60min")
    config = build_run_config(
        {"backbone": backbone, "task": spec.name, "cohort": str(tmp_path), "preset": "tiny"}
    )
    cohort = SimpleNamespace(name="fixture", content_hash="c0ffee" * 10 + "abcd", scale=None)
    task = SimpleNamespace(spec=spec, kept_targets=["potassium_low"])
    where = SimpleNamespace(device="cpu", world=1)
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    write_record(run_dir, running_record(config, cohort, task, "f" * 64, where))  # type: ignore[arg-type]
    assert read_record(run_dir).backbone.name == backbone
    return json.loads((run_dir / RECORD_FILE).read_text())


def test_a_builtin_backbone_comes_from_ecglab(tmp_path: Path) -> None:
    expected = _git(REPO, "rev-parse", "HEAD") if HAS_GIT and (REPO / ".git").exists() else None
    assert backbone_package("s4") == BackbonePackage("ecglab", version("ecglab"), expected)
    assert backbone_package("ecg_features").name == "ecglab"  # a baseline too
    section = _record_of("s4", tmp_path)["backbone"]
    assert section == {
        "name": "s4",
        "kind": "torch",
        "preset": "tiny",
        "package": "ecglab",
        "version": version("ecglab"),
        "commit": expected,
    }


def test_an_entry_point_backbone_comes_from_its_distribution(site: Path, tmp_path: Path) -> None:
    assert backbone_package("provnet") == BackbonePackage("provnet-ecg", "1.2.3", None)  # no checkout
    section = _record_of("provnet", tmp_path)["backbone"]
    assert (section["package"], section["version"], section["commit"]) == ("provnet-ecg", "1.2.3", None)
    direct = {"url": "https://example.org/provnet.git", "vcs_info": {"vcs": "git", "commit_id": "ab12" * 10}}
    (site / "provnet_ecg-1.2.3.dist-info" / "direct_url.json").write_text(json.dumps(direct))
    assert backbone_package("provnet").commit == "ab12" * 10  # pip install git+URL@commit


@pytest.mark.skipif(not HAS_GIT, reason="needs git")
def test_the_commit_of_a_checkout_that_tracks_the_module(site: Path) -> None:
    _git(site, "init", "-q")
    (site / "README").write_text("x")
    _git(site, "add", "README")
    _git(site, "commit", "-q", "-m", "readme")
    # the module lies in a checkout that does not track it (a venv inside a project): not its commit
    assert backbone_package("provnet").commit is None
    _git(site, "add", f"{MODULE}.py")
    _git(site, "commit", "-q", "-m", "module")
    assert backbone_package("provnet").commit == _git(site, "rev-parse", "HEAD")


def test_no_git_is_no_commit_never_a_failed_run(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("git")

    monkeypatch.setattr(provenance_module.subprocess, "run", missing)
    assert backbone_package("s4") == BackbonePackage("ecglab", version("ecglab"), None)
    assert provenance("cpu").git_commit is None
    section = _record_of("provnet", tmp_path)["backbone"]
    assert section["package"] == "provnet-ecg" and section["commit"] is None

    def hangs(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired("git", 5)

    monkeypatch.setattr(provenance_module.subprocess, "run", hangs)
    assert backbone_package("s4").commit is None


def test_older_records_without_the_package_still_read(tmp_path: Path) -> None:
    data = _record_of("s4", tmp_path)
    for key in ("package", "version", "commit"):
        del data["backbone"][key]
    record = record_from_dict(data)
    assert (record.backbone.package, record.backbone.version, record.backbone.commit) == (None, None, None)
    data["backbone"]["packge"] = "x"  # reading stays strict about unknown fields
    with pytest.raises(RunRecordError, match="unknown fields"):
        record_from_dict(data)


def test_mlflow_tags_name_the_package(site: Path, tmp_path: Path) -> None:
    record = record_from_dict(_record_of("provnet", tmp_path))
    tags = identity(RunFolder(tmp_path / "run", record, [], None))
    assert (tags["backbone_package"], tags["backbone_version"]) == ("provnet-ecg", "1.2.3")
    assert "backbone_commit" not in tags  # none known: no tag rather than "None"

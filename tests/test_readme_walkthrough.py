"""The README's "Submitting a backbone" walkthrough, run as written: its commands in order, in a fresh folder,
each in a fresh registry (as each would be a fresh shell), ending in a leaderboard row of the new backbone.

Two substitutions, both about where things go rather than what runs: ``pip install ... -e PACKAGE`` installs
the package offline into a folder of its own (``--target``, put on ``sys.path``), never into the project's
environment; and every ``ecglab`` command runs in this process (``ecglab.bench.cli.main``), since each new
process would import torch again."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from locations import REPO

from ecglab.backbones import registry as backbone_registry
from ecglab.bench.cli import main
from ecglab.tasks import registry as task_registry

START, END = "<!-- walkthrough: start -->", "<!-- walkthrough: end -->"


def walkthrough_commands() -> list[list[str]]:
    """The commands of the README's walkthrough block, comments left out."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index(START) + len(START) : text.index(END)]
    body = re.search(r"```bash\n(.*?)```", block, re.S)
    assert body is not None, "the walkthrough block holds a bash code block"
    return [shlex.split(line, comments=True) for line in body.group(1).splitlines() if line.strip()]


def install(argv: list[str], site: Path) -> None:
    """``pip install [-c FILE] [--no-build-isolation] -e PACKAGE`` into ``site``, offline."""
    package = argv[-1]
    assert argv[:2] == ["pip", "install"] and "-e" in argv and Path(package).is_dir(), argv
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(site), package], check=True)


def test_the_walkthrough_runs_as_written_to_a_leaderboard_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = walkthrough_commands()
    assert commands[0][:3] == ["ecglab", "backbones", "new"] and commands[1][:2] == ["pip", "install"]
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site"
    for argv in commands:
        # a fresh shell: registries loaded anew (the new package's entry point, no task of another command)
        monkeypatch.setattr(backbone_registry, "REGISTRY", backbone_registry.new_registry())
        monkeypatch.setattr(task_registry, "REGISTRY", task_registry.new_registry())
        if argv[0] == "pip":
            install(argv, site)
            monkeypatch.syspath_prepend(str(site))
            importlib.invalidate_caches()
            continue
        assert argv[0] == "ecglab", argv
        code = main(argv[1:])
        printed = capsys.readouterr()
        assert code == 0, f"{shlex.join(argv)} exited {code}: {printed.err[-2000:]}"
        if argv[1:3] == ["backbones", "check"]:
            assert printed.out.strip().endswith("mynet (full, tiny): all checks passed")
            assert "none declared: tuning searches lr and weight decay only" in printed.out
        if argv[1:3] == ["runs", "list"]:
            assert "mynet/tiny" in printed.out and "finished" in printed.out
    summary = pd.read_csv(tmp_path / "contrib" / "board" / "summary.csv")
    rows = summary[summary["entry"].str.startswith("mynet/tiny")]
    assert len(rows) and rows["macro_auroc"].notna().all() and rows["task"].eq("smoke_est_15min").all()
    submission = pd.read_csv(tmp_path / "contrib" / "mynet.csv")
    assert set(submission["backbone"]) == {"mynet"} and (submission["backbone_package"] == "mynet").all()
    assert (submission["backbone_version"] == "0.1.0").all() and submission["task_spec"].notna().all()
    generated = tmp_path / "contrib" / "mynet" / "tests" / "test_mynet.py"
    assert 'check_presets("mynet")' in generated.read_text()  # the package's own test: the same suite
    compile(generated.read_text(), str(generated), "exec")

"""``ecglab backbones new``: the generated package installs (offline, into a folder of its own, never the
project's environment), registers through its entry point, and passes ``ecglab backbones check`` and its own
test as generated; bad names and an existing folder are one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecglab.backbones.scaffold import camel_case, package_files
from ecglab.bench.cli import main

NAME = "scaffoldnet"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The generated package's folder and an environment whose PYTHONPATH holds it installed (--target)."""
    out = tmp_path_factory.mktemp("new")
    assert main(["backbones", "new", NAME, "--out", str(out)]) == 0
    site = out / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*install, "--no-index", "--target", str(site), str(out / NAME)], check=True)
    return out / NAME, {**os.environ, "PYTHONPATH": str(site)}


def test_the_generated_package_passes_the_check_on_every_preset(
    installed: tuple[Path, dict[str, str]],
) -> None:
    root, env = installed
    assert all((root / path).is_file() for path in package_files(NAME))
    code = (  # both commands in one process: each process imports torch
        "import sys; from ecglab.bench.cli import main; "
        f"sys.exit(main(['backbones', 'list', {NAME!r}]) or main(['backbones', 'check', {NAME!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listed, checked = result.stdout.split(f"{NAME} (full):")
    assert "normalisation zscore" in listed and "parameters: full 1" in listed and "(12 leads)" in listed
    assert checked.strip().endswith(f"{NAME} (full, tiny): all checks passed")
    assert "none declared: tuning searches lr and weight decay only" in checked


def test_the_generated_test_passes(installed: tuple[Path, dict[str, str]]) -> None:
    root, env = installed
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, check=False)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("My-Net", "'My-Net' is not a valid package name"),
        ("class", "'class' is not a valid package name"),
        ("s4", "backbone 's4' is already registered"),
        ("numpy", "'numpy' would shadow the installed module numpy"),
    ],
)
def test_bad_names_are_one_line_errors(
    name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backbones", "new", name, "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("ecglab: error: ") and message in line
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mynet").mkdir()
    (tmp_path / "mynet" / "mine.py").write_text("kept")
    assert main(["backbones", "new", "mynet", "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "mynet already exists" in line and (tmp_path / "mynet" / "mine.py").read_text() == "kept"
    assert camel_case("my_net") == "MyNet"

"""An install that ships what it reads: the wheel holds the suites, task specs, lab catalogues and published
tables, and an installed wheel runs ``ecglab demo`` in an empty folder, far from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from locations import REPO

PACKAGE_DATA = {
    "ecglab/bench/suites": "*.yaml",
    "ecglab/tasks/specs": "*.yaml",
    "ecglab/tasks/catalogues": "*.csv",
    "ecglab/leaderboards/reference": "*.csv",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
    ]
    subprocess.run([*command, str(REPO)], check=True, capture_output=True, text=True, cwd=out)
    (built,) = out.glob("ecglab-*.whl")
    return built


def test_the_wheel_holds_every_file_the_package_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in PACKAGE_DATA.items():
        shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / folder).glob(pattern))
        assert shipped, f"{folder} holds no {pattern} in the checkout"
        missing = [name for name in shipped if name not in names]
        assert not missing, f"the wheel lacks {missing}"
    assert "ecglab/leaderboards/reference/README.md" in names  # the tables' provenance travels with them


def test_the_wheel_installs_one_package_and_no_tests(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"ecglab"}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "ecglab = ecglab.bench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_an_installed_wheel_runs_the_demo_in_an_empty_folder(wheel: Path, tmp_path: Path) -> None:
    """The installed package (not the checkout) builds the cohort, reads the shipped demo suite, runs the
    baseline pairings and writes a leaderboard; the published tables load from the installed package."""
    target, empty = tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target"]
    subprocess.run(
        [*install, str(target), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    code = (
        "import sys, ecglab; from ecglab.bench.cli import main; "
        "from ecglab.leaderboards.published import load_published; "
        f"assert ecglab.__file__.startswith({str(target)!r}), ecglab.__file__; "
        "assert len(load_published('anyecg_lab')) and len(load_published('cardiolab')); "
        "sys.exit(main(['demo', '--patients', '240', '--only', 'tabular/*', '--no-track']))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = (empty / "demo" / "leaderboard" / "summary.csv").read_text()
    assert "tabular" in summary
    assert (empty / "demo" / "leaderboard" / "index.html").is_file()

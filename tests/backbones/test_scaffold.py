"""``ecglab backbones new``: the files it writes; bad names and an existing folder are one-line errors. That
the generated package installs, registers through its entry point, passes ``ecglab backbones check`` and
reaches a leaderboard is tests/test_readme_walkthrough.py's (the README's walkthrough, run as written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecglab.backbones.scaffold import camel_case, package_files
from ecglab.bench.cli import main

NAME = "scaffoldnet"


def test_the_package_files_are_those_of_the_readme() -> None:
    """Installed, checked and run to a leaderboard row by tests/test_readme_walkthrough.py (the README's
    commands); here: the files it writes and that the generated Python is valid."""
    files = package_files(NAME)
    assert {"pyproject.toml", f"{NAME}/ecglab.py", f"{NAME}/model.py", f"tests/test_{NAME}.py"} <= set(files)
    assert {"benchmark/suite.yaml", "benchmark/tasks.yaml"} <= set(files)
    assert f'{NAME} = "{NAME}.ecglab:INFO"' in files["pyproject.toml"]
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    assert camel_case("my_net") == "MyNet"


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

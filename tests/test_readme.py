"""The README's documented import paths and files exist: every ``ecglab.x.y`` name it cites resolves, every
``from ecglab... import ...`` of its code blocks imports, and every ``ecglab/...`` path it names is there."""

from __future__ import annotations

import importlib
import re

import pytest
from locations import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
NOT_MODULES = {
    "ecglab.py",
    "ecglab.backbones",
    "ecglab.row_level",
}  # a file name; an entry-point group; an MLflow tag
DOTTED = sorted(set(re.findall(r"\becglab(?:\.[A-Za-z_]\w*)+", README)) - NOT_MODULES)
IMPORTS = sorted(set(re.findall(r"^\s*(from ecglab[\w.]* import [\w, ]+)$", README, re.M)))
PATHS = sorted(set(re.findall(r"`(ecglab/[\w./-]+)`", README)))


def resolve(dotted: str) -> object:
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_readme_cites_names_at_all() -> None:
    assert len(DOTTED) >= 5 and len(IMPORTS) >= 2 and len(PATHS) >= 5


@pytest.mark.parametrize("dotted", DOTTED)
def test_a_cited_name_resolves(dotted: str) -> None:
    assert resolve(dotted) is not None


@pytest.mark.parametrize("statement", IMPORTS)
def test_an_import_of_a_code_block_works(statement: str) -> None:
    exec(statement, {})


@pytest.mark.parametrize("path", PATHS)
def test_a_named_path_exists(path: str) -> None:
    assert (REPO / path.rstrip("/")).exists(), f"README names {path}, which is not in the repository"

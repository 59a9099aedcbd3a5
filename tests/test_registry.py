"""The generic registry behind backbones and tasks: lazy entry points, duplicates refused, close matches,
and a registry that is either fully loaded or raises (never half loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint

import pytest

from ecglab import registry as generic
from ecglab.registry import DuplicateName, Registry, RegistryError, UnknownName


@dataclass(frozen=True)
class Entry:
    name: str


GOOD = Entry("gamma")
GROUP = "ecglab.test_entries"


def points(*values: str) -> list[EntryPoint]:
    return [EntryPoint(name=f"p{i}", value=v, group=GROUP) for i, v in enumerate(values)]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    monkeypatch.setattr(generic, "entry_points", lambda group: list(found) if group == GROUP else [])
    return found


def make() -> Registry[Entry]:
    return Registry("entry", Entry, lambda: [Entry("alpha"), Entry("beta")], GROUP)


def test_builtins_and_entry_points_are_listed(installed: list[EntryPoint]) -> None:
    installed.extend(points("test_registry:GOOD"))
    reg = make()
    assert reg.names() == ["alpha", "beta", "gamma"]
    assert reg.names("a*") == ["alpha"]
    assert reg.get("gamma") is GOOD


def test_unknown_names_get_close_matches(installed: list[EntryPoint]) -> None:
    reg = make()
    with pytest.raises(UnknownName, match="did you mean alpha"):
        reg.get("alpah")
    with pytest.raises(KeyError, match="known: alpha, beta"):
        reg.get("zzz")


def test_a_second_entry_of_one_name_is_refused(installed: list[EntryPoint]) -> None:
    reg = make()
    message = r"'alpha' is already registered \(built-in\); registered later gives another"
    with pytest.raises(DuplicateName, match=message):
        reg.register(Entry("alpha"))
    installed.extend(points("test_registry:GOOD", "test_registry:GOOD"))
    with pytest.raises(DuplicateName, match="'gamma'"):
        make().names()


def test_a_failing_entry_point_leaves_no_half_registry(installed: list[EntryPoint]) -> None:
    installed.extend(points("test_registry:GOOD", "no_such_module_anywhere:INFO"))
    reg = make()
    with pytest.raises(RegistryError, match=r"p1 .*no_such_module_anywhere.* failed to load"):
        reg.names()
    with pytest.raises(RegistryError, match="failed to load"):  # still not loaded: it raises again
        reg.get("alpha")
    installed.pop()
    assert reg.names() == ["alpha", "beta", "gamma"]  # fixed: loads fully


def test_an_entry_point_of_the_wrong_type_is_named(installed: list[EntryPoint]) -> None:
    installed.extend(points("test_registry:GROUP"))
    with pytest.raises(RegistryError, match="gave str, expected Entry"):
        make().names()


def test_a_check_refuses_bad_entries() -> None:
    def check(entry: Entry) -> None:
        if entry.name == "beta":
            raise ValueError("beta is not allowed")

    reg = Registry("entry", Entry, lambda: [Entry("alpha"), Entry("beta")], check=check)
    with pytest.raises(RegistryError, match=r"'beta' .*beta is not allowed"):
        reg.names()

"""Which package a backbone comes from: the distribution's name and version and, where it can be told, the
commit it was built from, so that ``run.json`` and a submission say which code produced a result.

A built-in backbone comes from the ``ecglab`` distribution. A backbone of an entry point comes from the
distribution that declares the entry point (``entry_points(group="ecglab.backbones")``, its ``.dist``); one
registered later in the process (``register_backbone``) from the distribution that holds its factory's
top-level module, where exactly one does. The commit is the ``vcs_info`` of the distribution's
``direct_url.json`` (``pip install git+...``), else ``git rev-parse HEAD`` of the checkout the backbone's
module is tracked in (an editable install or a source tree). Finding it never fails a run: no git, no
checkout or a git that does not answer within a few seconds gives None.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import Distribution, PackageNotFoundError, distribution, packages_distributions
from pathlib import Path
from urllib.parse import unquote, urlparse

from ecglab import registry as generic
from ecglab.backbones.builtin import BUILTIN
from ecglab.backbones.registry import ENTRY_POINT_GROUP, get_backbone_info

GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class BackbonePackage:
    """The distribution a backbone comes from (all None where none can be told)."""

    name: str | None = None
    version: str | None = None
    commit: str | None = None


def git_commit(path: str | Path, tracked: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding ``path`` (a folder); with ``tracked`` (a file), only
    when that file is tracked there (a package installed inside some other checkout, e.g. a virtual
    environment in a project's folder, is not that project's code). None without git, a checkout or an
    answer within ``GIT_TIMEOUT_S``."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    commands = [["rev-parse", "HEAD"]]
    if tracked is not None:
        commands.insert(0, ["ls-files", "--error-unmatch", str(tracked)])
    output = ""
    for command in commands:
        try:
            result = subprocess.run(
                ["git", "-C", str(folder), *command],
                capture_output=True,
                text=True,
                check=False,
                timeout=GIT_TIMEOUT_S,
            )
        except (OSError, subprocess.SubprocessError):  # no git, or it hangs: no commit, never a failed run
            return None
        if result.returncode != 0:
            return None
        output = result.stdout.strip()
    return output or None


def _module_file(module: str) -> Path | None:
    """The file of an importable module (imported already, or found without running it)."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None)
    if origin is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    return Path(origin).resolve() if origin and Path(origin).is_file() else None


def _direct_url_commit(dist: Distribution) -> tuple[str | None, Path | None]:
    """The commit of a pip install from a VCS URL, or the local folder of an install from a folder (an
    editable one), from the distribution's ``direct_url.json`` (PEP 610)."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("commit_id"), str):
        return vcs["commit_id"], None
    url = data.get("url")
    if isinstance(url, str) and url.startswith("file://"):
        return None, Path(unquote(urlparse(url).path))
    return None, None


def package_of(dist: Distribution | None, module: str | None) -> BackbonePackage:
    """Name, version and commit of ``dist`` (the commit from its ``direct_url.json``, else from the git
    checkout that tracks ``module``'s file)."""
    if dist is None:
        return BackbonePackage()
    commit, folder = _direct_url_commit(dist)
    if commit is None:
        file = _module_file(module) if module else None
        if file is not None:
            commit = git_commit(file.parent, file)
        elif folder is not None:
            commit = git_commit(folder)
    return BackbonePackage(dist.metadata["Name"], dist.version, commit)


def _entry_point_dist(name: str) -> tuple[Distribution | None, str | None]:
    """The distribution declaring the entry point that gives backbone ``name``, and the entry point's
    module (the entry points' modules are imported by the registry already)."""
    for point in generic.entry_points(group=ENTRY_POINT_GROUP):
        loaded = point.load()
        entries = loaded if isinstance(loaded, list | tuple) else [loaded]
        if any(getattr(entry, "name", None) == name for entry in entries):
            return getattr(point, "dist", None), point.module
    return None, None


def _module_dist(module: str) -> Distribution | None:
    """The one distribution holding the top-level package of ``module`` (None for none or several)."""
    top = module.partition(".")[0]
    names = packages_distributions().get(top, [])
    if len(set(names)) != 1:
        return None
    try:
        return distribution(names[0])
    except PackageNotFoundError:
        return None


def backbone_package(name: str) -> BackbonePackage:
    """The package backbone ``name`` comes from (see the module docstring); its parts are None where they
    cannot be told, e.g. a backbone registered in a script that is no installed package."""
    info = get_backbone_info(name)
    factory_module = info.factory.partition(":")[0]
    if any(builtin.name == name for builtin in BUILTIN):
        try:
            return package_of(distribution("ecglab"), "ecglab")
        except PackageNotFoundError:  # ecglab run from a source tree that is not installed
            file = _module_file("ecglab")
            return BackbonePackage("ecglab", None, git_commit(file.parent, file) if file else None)
    dist, module = _entry_point_dist(name)
    if dist is None:
        dist, module = _module_dist(factory_module), factory_module
    return package_of(dist, module or factory_module)

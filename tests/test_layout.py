"""The house rules, read from the source: imports run one way through the stages, no import circles, rooms
of a readable size, a docstring on every module, no private name imported across modules.

The stages, in flow order: ``ecglab.cohort`` -> ``ecglab.tasks`` and ``ecglab.backbones`` (which know
nothing of each other) -> ``ecglab.bench`` -> ``ecglab.leaderboards``. The modules at the package's root
(``ecglab/errors.py``, ``ecglab/registry.py``) serve every stage and import none. Of ``bench``, only the
command line (``cli.py`` and ``commands/``) may import ``leaderboards``. Every import counts, function-local
ones too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from locations import REPO

PACKAGE = REPO / "ecglab"
RANK = {"cohort": 1, "tasks": 2, "backbones": 2, "bench": 3, "leaderboards": 4}
CLI_FILES = ("ecglab/bench/cli.py", "ecglab/bench/commands/")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
CHECKED_FOLDERS = ("ecglab", "tests", "benchmarks")


@dataclass(frozen=True)
class Arrow:
    source: str  # module name, e.g. ecglab.tasks.build
    target: str  # imported module, resolved to a module of the project where it is one
    names: tuple[str, ...]  # the names a ``from ... import`` takes
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def arrows(path: Path, modules: dict[str, Path]) -> list[Arrow]:
    """Every import of a project module in ``path``, wherever it stands in the file."""
    source = module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ecglab":
                    found.append(Arrow(source, alias.name, (), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "ecglab":
                continue
            names = tuple(a.name for a in node.names)
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            for target in submodules or [base]:
                found.append(Arrow(source, target, names, node.lineno))
    return found


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def backward(arrow: Arrow, path: Path) -> str | None:
    """Why an arrow breaks the flow, or None."""
    here, there = stage(arrow.source), stage(arrow.target)
    if there is None or here == there:
        return None
    if here is None:
        return f"the root module {arrow.source} imports the stage {there}"
    if (here, there) == ("bench", "leaderboards"):
        if path.relative_to(REPO).as_posix().startswith(CLI_FILES):
            return None
        return "only bench's command line (cli.py, commands/) imports leaderboards"
    if RANK[there] > RANK[here]:
        return f"stage {here} imports the later stage {there}"
    if RANK[there] == RANK[here]:
        return f"stages {here} and {there} must not know each other"
    return None


def test_imports_run_one_way() -> None:
    modules = project_modules()
    problems = []
    for path in modules.values():
        for arrow in arrows(path, modules):
            reason = backward(arrow, path)
            if reason:
                where = f"{path.relative_to(REPO)}:{arrow.line}"
                problems.append(f"{where}: {arrow.source} -> {arrow.target} ({reason})")
    assert not problems, "backward imports:\n" + "\n".join(problems)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or one importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    lines: dict[tuple[str, str], str] = {}
    for path in modules.values():
        for arrow in arrows(path, modules):
            if arrow.target in modules and arrow.target != arrow.source:
                graph[arrow.source].add(arrow.target)
                lines[(arrow.source, arrow.target)] = f"{path.relative_to(REPO)}:{arrow.line}"
    found = circles(graph)
    described = []
    for component in found:
        members = set(component)
        inside = [f"{lines[(a, b)]}: {a} -> {b}" for a in component for b in sorted(graph[a] & members)]
        described.append("; ".join(inside))
    assert not found, "import circles:\n" + "\n".join(described)


def test_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_backward_import_is_named() -> None:
    path = REPO / "ecglab" / "tasks" / "build.py"
    assert backward(Arrow("ecglab.tasks.build", "ecglab.bench.config", (), 1), path) == (
        "stage tasks imports the later stage bench"
    )
    assert backward(Arrow("ecglab.tasks.build", "ecglab.backbones.info", (), 1), path) == (
        "stages tasks and backbones must not know each other"
    )
    run = REPO / "ecglab" / "bench" / "engine" / "run.py"
    assert backward(Arrow("ecglab.bench.engine.run", "ecglab.leaderboards.board", (), 1), run)
    demo = REPO / "ecglab" / "bench" / "commands" / "demo.py"
    assert backward(Arrow("ecglab.bench.commands.demo", "ecglab.leaderboards.board", (), 1), demo) is None
    assert backward(Arrow("ecglab.bench.engine.run", "ecglab.cohort.store", (), 1), run) is None


def python_files() -> list[Path]:
    return [p for folder in CHECKED_FOLDERS for p in sorted((REPO / folder).rglob("*.py"))]


def test_modules_are_rooms_a_person_can_read() -> None:
    problems = []
    for path in python_files():
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO)
        n_lines = len(text.splitlines())
        if n_lines > MAX_MODULE_LINES:
            problems.append(f"{where}: {n_lines} lines (at most {MAX_MODULE_LINES})")
        tree = ast.parse(text)
        if text.strip() and ast.get_docstring(tree) is None:
            problems.append(f"{where}: no module docstring saying its one job")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{where}:{node.lineno}: {node.name} is {length} lines")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", CHECKED_FOLDERS)
def test_no_private_name_imported_across_modules(folder: str) -> None:
    problems = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private:
                    problems.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.module} {private}")
    assert not problems, "private names imported across modules:\n" + "\n".join(problems)

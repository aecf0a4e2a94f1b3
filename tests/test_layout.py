"""The library's layout rules (CONTRIBUTING.md, "Layout"), checked on its import graph.

- no import cycles between modules (lazy imports inside functions count too);
- nothing outside ``cnnlessons.course`` imports from it;
- the core modules import only the core;
- no module is much longer than one concept needs.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlessons"
CORE = {"cnnlessons", "cnnlessons.claims", "cnnlessons.device", "cnnlessons.io", "cnnlessons.params",
        "cnnlessons.paths", "cnnlessons.progress", "cnnlessons.seeding", "cnnlessons.train"}
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The cnnlessons modules that module ``name`` imports (``from X import y`` counts as X.y
    when X.y is a module, else as X)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_graph_is_read():
    # a relative top-level import, and one made only inside functions (the cli imports .notebooks lazily)
    assert {"cnnlessons.course.lessons", "cnnlessons.course.notebooks"} <= GRAPH["cnnlessons.course.cli"]
    assert "cnnlessons.params" in GRAPH["cnnlessons.course.lessons"]
    assert "cnnlessons.zoo" in GRAPH["cnnlessons.zoo.pretrain"]
    assert "cnnlessons.zoo" not in GRAPH["cnnlessons.params"]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


@pytest.mark.parametrize("name", [n for n in MODULES if not n.startswith("cnnlessons.course")])
def test_nothing_outside_course_imports_it(name):
    wrong = sorted(m for m in GRAPH[name] if m.startswith("cnnlessons.course"))
    assert not wrong, f"{name} imports {wrong}: only cnnlessons.course (and notebooks) may"


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_imports_only_core(name):
    assert GRAPH[name] <= CORE, f"{name} imports {sorted(GRAPH[name] - CORE)}, outside the core"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concept"

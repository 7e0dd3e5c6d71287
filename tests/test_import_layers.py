"""The packages import each other in layers: no import circle among packages or modules.

Every ``.py`` file of the packages is parsed with :mod:`ast`; every ``import`` and ``from ...
import`` counts, at module level, inside functions and under ``if TYPE_CHECKING`` alike (an import
deferred into a function still ties the two modules together). ``from a.b import c`` is an edge
to ``a.b.c`` when ``c`` is a module, else to ``a.b``; relative imports are resolved against the
importing module.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping, Set
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kernels", "abm", "experiments", "app", "benchmarks")


def module_name(path: Path) -> str:
    """``experiments.sweeps.engine`` for ``experiments/sweeps/engine.py`` (a package: its name)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of :data:`PACKAGES`, by dotted name."""
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def _known(name: str, known: Set[str]) -> str | None:
    """``name`` or its longest prefix that is one of ``known`` (None: outside the packages)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def imports(name: str, path: Path, known: Set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (the file ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in (_known(target, known) for target in targets) if t is not None)
    found.discard(name)
    return found


@functools.cache
def module_graph() -> dict[str, set[str]]:
    """Module -> the modules of the packages it imports."""
    found = modules()
    return {name: imports(name, path, found.keys()) for name, path in found.items()}


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Package -> the other packages its modules import."""
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        top = name.partition(".")[0]
        packages.setdefault(top, set()).update(t.partition(".")[0] for t in targets)
        packages[top].discard(top)
    return packages


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles: each strongly connected component with more than one node, sorted.

    Tarjan's algorithm, iterative (no recursion limit on a long chain).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def describe(found: list[list[str]], graph: Mapping[str, Iterable[str]]) -> str:
    """One line per circle: its modules and, for each, which of them it imports."""
    lines = []
    for component in found:
        members = set(component)
        edges = "; ".join(f"{m} -> {', '.join(sorted(set(graph[m]) & members))}" for m in component)
        lines.append(f"circle of {len(component)}: {edges}")
    return "\n".join(lines)


# -- the checker itself ----------------------------------------------------------------------------


def test_the_checker_finds_a_circle_in_a_small_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
    assert "a -> b" in describe(cycles(graph), graph)


def test_the_checker_reads_every_kind_of_import(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "import pkg.low\n"
        "from pkg import sub\n"
        "from pkg.sub import thing\n"
        "from . import sibling\n"
        "from .. import outer\n"
        "import numpy\n"
        "def f():\n"
        "    from pkg.lazy import g\n"
    )
    known = {"pkg", "pkg.low", "pkg.sub", "pkg.lazy", "pkg.inner.sibling", "pkg.outer", "here"}
    found = imports("pkg.inner.mod", source, known)
    assert found == {"pkg.low", "pkg.sub", "pkg.lazy", "pkg.inner.sibling", "pkg.outer"}


# -- the project -----------------------------------------------------------------------------------


def test_the_graph_sees_the_packages():
    graph = module_graph()
    assert set(package_graph(graph)) == set(PACKAGES)
    assert "abm.model" in graph["experiments.build"]


def test_no_circle_among_packages():
    packages = package_graph(module_graph())
    found = cycles(packages)
    assert not found, "packages import each other in a circle:\n" + describe(found, packages)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_circle_among_modules(package):
    graph = module_graph()
    found = [c for c in cycles(graph) if c[0].partition(".")[0] == package]
    assert not found, f"modules of {package} import each other in a circle:\n" + describe(
        found, graph
    )

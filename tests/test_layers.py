"""The packages' dependency directions, and no import cycle between project modules.

Read from the source with :mod:`ast`; nothing of the project is imported, so this
runs in well under a second and fails before any import error could hide a breach.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What each package may import of the others (DESIGN.md and the README's layout):
# service -> ingest -> indexes, service -> indexes, eval -> service, ingest, indexes,
# integrations -> service, indexes.  Dependencies point one way: nothing else is allowed.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "indexes": frozenset(),
    "ingest": frozenset({"indexes"}),
    "service": frozenset({"ingest", "indexes"}),
    "eval": frozenset({"service", "ingest", "indexes"}),
    "integrations": frozenset({"service", "indexes"}),
}


@dataclass(frozen=True, slots=True)
class Import:
    """One project module named by an import statement."""

    source: str
    target: str
    path: Path
    line: int
    text: str
    module_level: bool

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


class _Statements(ast.NodeVisitor):
    """Every import statement, and whether it runs when its module is imported."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []
        self._deferred = 0  # inside a function, or under ``if TYPE_CHECKING:``

    def _deferring(self, nodes: Iterable[ast.AST]) -> None:
        self._deferred += 1
        for node in nodes:
            self.visit(node)
        self._deferred -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._deferring(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self._deferring(node.body)
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.found.append((node, self._deferred == 0))

    visit_ImportFrom = visit_Import


def _deepest(name: str, modules: set[str]) -> str | None:
    """The project module that ``import name`` ends on, if ``name`` is in the project."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def _from_base(node: ast.ImportFrom, source: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = source.split(".") if is_package else source.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(
    node: ast.Import | ast.ImportFrom, source: str, is_package: bool, modules: set[str]
) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _from_base(node, source, is_package)
        names = [f"{base}.{alias.name}" for alias in node.names]
        names = [name if name in modules else base for name in names]
    return {t for t in (_deepest(name, modules) for name in names) if t is not None}


def imports_of(path: Path, tree: ast.Module, modules: set[str]) -> Iterator[Import]:
    source = module_name(path)
    statements = _Statements()
    statements.visit(tree)
    for node, module_level in statements.found:
        for target in sorted(_targets(node, source, path.name == "__init__.py", modules)):
            yield Import(source, target, path, node.lineno, ast.unparse(node), module_level)


def project_imports() -> list[Import]:
    paths = sorted(p for package in MAY_IMPORT for p in (ROOT / package).rglob("*.py"))
    modules = {module_name(p) for p in paths}
    found: list[Import] = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.extend(imports_of(path, tree, modules))
    return found


def breaches(imports: Iterable[Import]) -> list[str]:
    found = []
    for imp in imports:
        source, target = imp.source.split(".")[0], imp.target.split(".")[0]
        if source != target and target not in MAY_IMPORT[source]:
            allowed = ", ".join(sorted(MAY_IMPORT[source])) or "none of the other packages"
            found.append(f"{imp.where()}  ({source} may not import {target}, only {allowed})")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def cycle_report(imports: list[Import]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.module_level and imp.source != imp.target:
            graph.setdefault(imp.source, set()).add(imp.target)
    report = []
    for component in cycles(graph):
        inside = [i for i in imports if i.module_level and {i.source, i.target} <= {*component}]
        report.append(" <-> ".join(component))
        report.extend(f"    {i.where()}" for i in inside if i.source != i.target)
    return report


def test_every_package_imports_only_the_packages_below_it() -> None:
    found = breaches(project_imports())
    if found:
        pytest.fail("imports against the dependency directions:\n" + "\n".join(found))


def test_no_import_cycle_between_project_modules() -> None:
    found = cycle_report(project_imports())
    if found:
        pytest.fail("module-level import cycles:\n" + "\n".join(found))


def test_the_reader_finds_deferred_and_relative_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import quantized\n"
        "if TYPE_CHECKING:\n"
        "    from service.settings import Settings\n"
        "def load():\n"
        "    from eval import cli\n"
    )
    modules = {"indexes", "indexes.embedder", "indexes.quantized", "service.settings", "eval.cli"}
    path = ROOT / "indexes" / "embedder.py"
    found = list(imports_of(path, ast.parse(source), modules))
    assert [(i.target, i.line, i.module_level) for i in found] == [
        ("indexes.quantized", 2, True),
        ("service.settings", 4, False),
        ("eval.cli", 6, False),
    ]
    assert [b.split("  ")[0] for b in breaches(found)] == [
        "indexes/embedder.py:4: from service.settings import Settings",
        "indexes/embedder.py:6: from eval import cli",
    ]
    assert cycles({"a": {"b"}, "b": {"c", "a"}, "c": set()}) == [["a", "b"]]

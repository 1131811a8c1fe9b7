"""The house's layout: no module imports one that imports it back (in-function and
TYPE_CHECKING imports included: they are cycles a reader must untangle all the same)."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Dict, List, Set

import vethpeer

PACKAGE = os.path.dirname(os.path.abspath(vethpeer.__file__))


def _modules() -> Dict[str, str]:
    found = {}
    for directory, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = "vethpeer." + os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
                found[dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return found


def import_graph() -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports anywhere in its text. ``from . import x`` counts
    as importing module ``x`` when there is one, else the package it is taken from."""
    modules = _modules()
    edges: Dict[str, Set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    target = target if target in modules else base
                    if target in modules and target != name:
                        edges[name].add(target)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and alias.name != name:
                        edges[name].add(alias.name)
    return edges


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_graph_sees_in_function_and_relative_imports() -> None:
    edges = import_graph()
    assert "vethpeer.resolve.pairing" in edges["vethpeer.resolve"]  # from .pairing import ...
    assert "vethpeer.snapshot" in edges["vethpeer.completion"]  # imported inside a method


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(import_graph()) == []


#: The house's size limits (issue 26): a module, a class or a function bigger than this is more
#: than one person holds in mind at once.
MODULE_LINES, CLASS_LINES, FUNCTION_LINES = 600, 300, 80


def oversized(paths: Dict[str, str]) -> List[str]:
    """Every module, class and function over its limit, as ``path[:name] lines``."""
    found = []
    for path in sorted(paths.values()):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        shown = os.path.basename(path) if not path.startswith(PACKAGE) else os.path.relpath(path, PACKAGE)
        if text.count("\n") > MODULE_LINES:
            found.append(f"{shown} {text.count(chr(10))}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                limit = CLASS_LINES if isinstance(node, ast.ClassDef) else FUNCTION_LINES
                if lines > limit:
                    found.append(f"{shown}:{node.name} {lines}")
    return found


def test_the_size_check_sees_a_long_function_and_a_long_module(tmp_path: Path) -> None:
    long_function = tmp_path / "a.py"
    long_function.write_text("def long():\n" + "".join(f"    x{i} = {i}\n" for i in range(FUNCTION_LINES)))
    long_module = tmp_path / "b.py"
    long_module.write_text("".join(f"x{i} = {i}\n" for i in range(MODULE_LINES + 1)))
    assert oversized({"a": str(long_function), "b": str(long_module)}) == [
        f"a.py:long {FUNCTION_LINES + 1}", f"b.py {MODULE_LINES + 1}"]


def test_no_module_class_or_function_is_over_its_size_limit() -> None:
    assert oversized(_modules()) == []

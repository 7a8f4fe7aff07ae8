"""The layers import one way and without cycles, read from the real import graph (the AST of every module).

Imports inside functions count (a lazy import is still a dependency); imports under
`if TYPE_CHECKING:` do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flexgit"

# Top to bottom. A module may import modules of its own unit (package, or itself) and of any
# lower rank; never higher, never another unit of the same rank. Every module must fall in one.
LAYERS = [
    (10, ("flexgit.__main__",)),
    (9, ("flexgit.cli",)),
    (8, ("flexgit", "flexgit.api", "flexgit.config", "flexgit.runs", "flexgit.components", "flexgit.data",
         "flexgit.models", "flexgit.learners")),
    (7, ("flexgit.flex", "flexgit.integrations")),
    (6, ("flexgit.verbs",)),
    (5, ("flexgit.executors",)),  # where a sweep runs besides this machine (Slurm); `run` and `collect` use it
    (4, ("flexgit._context",)),
    (3, ("flexgit.view", "flexgit.storage")),
    (2, ("flexgit.project",)),
    (1, ("flexgit.errors", "flexgit._version")),
]
# Verbs share code through _context, never through each other.
NO_SIBLING_IMPORTS = ("flexgit.verbs",)
ONLY_IMPORTER = {"pygit2": {"flexgit.storage.gitrepo"}, "click": "flexgit.cli", "submitit": {"flexgit.executors.slurm"}}


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root`."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes, skipping those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> package modules it imports, module -> outside top-level packages it imports)."""
    files = module_files(root)
    inside: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        inside[name], outside[name] = set(), set()
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level == 0:
                targets = [node.module or ""]
                targets += [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            submodules = [t for t in targets[1:] if t in files]
            if isinstance(node, ast.ImportFrom) and submodules and len(submodules) == len(targets) - 1:
                targets = submodules  # `from . import a, b` imports those modules, not the package's own code
            for target in targets:
                if target in files:
                    if target != name:
                        inside[name].add(target)
                elif target.split(".")[0] != root.name:
                    outside[name].add(target.split(".")[0])
    return inside, outside


def layer_of(module: str) -> tuple[int, str]:
    """(rank, unit) of a module: the most specific layer prefix that holds it."""
    best = None
    for rank, prefixes in LAYERS:
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (rank, prefix)
    if best is None:
        raise AssertionError(f"module {module} is in no layer; add its package to LAYERS")
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up a layer, sideways to another unit, or between two verbs."""
    wrong = []
    for module, targets in sorted(graph.items()):
        rank, unit = layer_of(module)
        for target in sorted(targets):
            target_rank, target_unit = layer_of(target)
            sibling_verb = unit in NO_SIBLING_IMPORTS and target_unit == unit and target != unit
            if target_rank > rank or (target_rank == rank and target_unit != unit) or sibling_verb:
                wrong.append(f"{module} -> {target}")
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (one per strongly connected component of two or more modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


GRAPH, OUTSIDE = import_graph(PACKAGE)


def test_every_module_is_in_a_layer():
    for module in GRAPH:
        layer_of(module)


def test_no_import_goes_up_or_sideways():
    assert upward_imports(GRAPH) == []


def test_no_cycles():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("library", sorted(ONLY_IMPORTER))
def test_only_one_place_imports(library):
    allowed = ONLY_IMPORTER[library]
    importers = {m for m, libraries in OUTSIDE.items() if library in libraries}
    if isinstance(allowed, str):
        assert importers and all(m == allowed or m.startswith(allowed + ".") for m in importers), importers
    else:
        assert importers == allowed


def test_the_graph_is_real():
    """The reader sees relative, absolute and lazy imports (a check that cannot fail is no check)."""
    assert "flexgit.storage.gitrepo" in GRAPH["flexgit.storage.store"]
    assert "flexgit.verbs.checkout" in GRAPH["flexgit.cli.commands"]  # imported inside a function
    assert "flexgit._context" in GRAPH["flexgit.verbs.record"]


def _plant(root: Path, files: dict[str, str]) -> Path:
    package = root / "flexgit"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_planted_cycle_is_found(tmp_path):
    package = _plant(tmp_path, {
        "__init__.py": "",
        "storage/__init__.py": "",
        "storage/a.py": "from .b import thing\n",
        "storage/b.py": "def thing():\n    from . import a\n",
        "storage/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
    })
    graph, _ = import_graph(package)
    assert cycles(graph) == [["flexgit.storage.a", "flexgit.storage.b"]]
    assert graph["flexgit.storage.c"] == set()  # TYPE_CHECKING imports do not count


def test_a_planted_upward_import_is_found(tmp_path):
    package = _plant(tmp_path, {
        "__init__.py": "",
        "verbs/__init__.py": "",
        "verbs/record.py": "",
        "verbs/show.py": "from . import record\n",
        "storage/__init__.py": "",
        "storage/store.py": "from ..verbs.record import record\n",
        "view/__init__.py": "",
        "view/render.py": "from ..storage import store\n",
    })
    graph, _ = import_graph(package)
    assert upward_imports(graph) == [
        "flexgit.storage.store -> flexgit.verbs.record",
        "flexgit.verbs.show -> flexgit.verbs.record",
        "flexgit.view.render -> flexgit.storage.store",
    ]

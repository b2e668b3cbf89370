"""harness/'s import graph, read from the source with ``ast``: no module circle, and the modules
that ship or load early stay as small as they promise.

The graph has one node per module of harness/ (a package is its ``__init__``) and one edge per
import statement, at any depth: imports inside functions count, because a lazy import only
delays a circle to the call that closes it. Imports under ``if TYPE_CHECKING:`` are left out,
they never run.

``from pkg import x`` is an edge to ``pkg``, and to ``pkg.x`` too when that is a module: the
statement runs pkg's ``__init__`` and looks x up in it, so a module of pkg that takes its
siblings this way (``from harness.nuclio.runners import labels``) depends on the package's
``__init__``, and on everything that ``__init__`` imports, even lazily. Such a module imports
the sibling itself (``import harness.nuclio.runners.labels as labels``, ``from
harness.nuclio.runners.base import StartError``).

``import pkg.mod`` and ``from pkg.mod import x`` do *not* count as importing ``pkg``'s
``__init__``, though Python runs it first: it always starts a package before its modules, and
counting that would make every package whose ``__init__`` re-exports from its own modules a
circle with no way out but an empty ``__init__``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harness"

Graph = dict[str, set[str]]


def module_files() -> dict[str, Path]:
    """Every module of harness/ by dotted name; a package by its own name."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except the body of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def resolve_from(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name of the module ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def build_graph() -> Graph:
    modules = module_files()
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in import_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = resolve_from(name, path, node)
                targets = [source, *(f"{source}.{alias.name}" for alias in node.names)]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def one_cycle(graph: Graph, component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start, members = component[0], set(component)
    paths: dict[str, list[str]] = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover (a component has one)


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    """The graph itself: an import inside a function and a relative import are edges."""
    graph = build_graph()
    assert "harness.cli" in graph and "harness.commands" in graph
    assert "harness.nuclio.runners.process" in graph["harness.nuclio.runners"]  # in make_runner
    assert "harness.nuclio.runtime.http11" in graph["harness.nuclio.runtime.processor"]


def test_the_circle_finder_names_each_circle() -> None:
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "d": {"e"}, "e": {"f"}, "f": {"d"}}
    components = strongly_connected(graph)
    assert components == [["a", "b"], ["d", "e", "f"]]
    assert [one_cycle(graph, c) for c in components] == [["a", "b", "a"], ["d", "e", "f", "d"]]


def test_no_import_circle_in_harness() -> None:
    graph = build_graph()
    cycles = [
        f"{' -> '.join(one_cycle(graph, c))} (all {len(c)} in the circle: {', '.join(c)})"
        for c in strongly_connected(graph)
    ]
    assert not cycles, "import circles in harness/:\n  " + "\n  ".join(cycles)


def test_only_the_command_line_imports_the_commands() -> None:
    """The CLI sits on top of the rooms: Nuclio, CVAT, the suite and the output never import
    harness.commands, what they share lives in their own room."""
    graph = build_graph()
    cli = {"harness.cli", "harness.commands"}
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name not in cli and not name.startswith("harness.commands.")
        for target in targets
        if target in cli or target.startswith("harness.commands.")
    )
    assert not wrong


def test_the_runtime_imports_only_the_standard_library_nuclio_sdk_and_msgpack() -> None:
    """harness/nuclio/runtime is copied into function images and runs under their Python.
    debugpy is the one exception: the worker imports it inside its debugger hook, only when
    asked (tests/test_dashboard.py runs that)."""
    allowed = set(sys.stdlib_module_names) | {"nuclio_sdk", "msgpack"}
    runtime = PACKAGE / "nuclio" / "runtime"
    strangers = []
    for path in sorted(runtime.glob("*.py")):
        for node in import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            strangers += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert strangers == ["wrapper.py: debugpy"]
    [hook] = [
        node
        for node in ast.walk(ast.parse((runtime / "wrapper.py").read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(n, ast.Import) and n.names[0].name == "debugpy" for n in node.body)
    ]
    assert hook.name == "start_debugger"


def test_the_top_packages_import_nothing() -> None:
    """harness/__init__.py and harness/nuclio/__init__.py load before the runtime in an image
    and before every command: they hold no import at all."""
    for path in (PACKAGE / "__init__.py", PACKAGE / "nuclio" / "__init__.py"):
        assert not list(import_nodes(ast.parse(path.read_text(encoding="utf-8")))), path


def test_the_checks_never_import_a_runner() -> None:
    """A check sees a Target (a URL and what it answered), never a runner, so the url runner
    tests a function on a real Nuclio with the same checks (shared/DESIGN.md, "One runtime,
    many runners")."""
    graph = build_graph()
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.startswith("harness.suite.checks")
        for target in targets
        if target.startswith("harness.nuclio.runners")
    )
    assert not wrong

"""The import graph of the package: no circles, no arrow pointing up the pipeline's
stages (foundation → readers → index → answer → engine → surfaces → command line), and
the surfaces use the engine only through the front door.

Every import counts, those inside functions too (a backend imported when chosen is
still a dependency); only imports under ``if TYPE_CHECKING:`` are left out, since they
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import briefqa

PACKAGE = Path(briefqa.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports, at run time."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from .readers import pdf` imports the module pdf (and its package).
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    return {_module_name(f): _imports(f, modules) for f in files}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return circles


def test_the_import_graph_has_no_circles() -> None:
    graph = _graph()
    assert "briefqa.readers.pdf" in graph and graph["briefqa.engine"], "the graph was read"
    assert _circles(graph) == []


def test_the_readers_import_only_the_layers_below_them() -> None:
    """Reading files is the first stage: it may use the error tree, the data types and
    text normalisation, and nothing that comes after it (ingest, the index, answers)."""
    below = {"briefqa.errors", "briefqa.schema", "briefqa.text"}
    for module, imported in _graph().items():
        if module.startswith("briefqa.readers"):
            outside = {m for m in imported if not m.startswith("briefqa.readers")}
            assert outside <= below, (module, outside - below)


def test_only_the_command_line_imports_the_surfaces() -> None:
    """The surfaces (briefqa.serve) stand on the engine; nothing below imports them
    back, but the command line that starts them."""
    for module, imported in _graph().items():
        if not module.startswith(("briefqa.serve", "briefqa.cli")):
            assert not {m for m in imported if m.startswith("briefqa.serve")}, module


#: The pipeline's stages, bottom up, by the packages (or modules) they hold. A module may
#: import its own stage and those below. The engine's stage is every module not listed:
#: the front door (``briefqa``), the engine and what stands beside it (evals, export…).
STAGES = (
    ("foundation", ("errors", "schema", "settings", "text", "memory", "jsonlines", "database")),
    ("readers", ("readers",)),
    ("index", ("index",)),
    ("answer", ("answer",)),
    ("engine", ()),
    ("surfaces", ("serve",)),
    ("command line", ("cli",)),
)
ENGINE = 4


def _stage(module: str) -> int:
    for rank, (_, names) in enumerate(STAGES):
        for name in names:
            prefix = f"briefqa.{name}"
            if module == prefix or module.startswith(prefix + "."):
                return rank
    return ENGINE


def test_every_module_has_a_stage_and_the_stages_are_packages() -> None:
    graph = _graph()
    stages = {module: STAGES[_stage(module)][0] for module in graph}
    assert stages["briefqa.index.ingest"] == "index"
    assert stages["briefqa.answer.chain"] == "answer"
    assert stages["briefqa.engine"] == "engine" and stages["briefqa"] == "engine"
    assert stages["briefqa.text"] == "foundation"
    for package in ("readers", "index", "answer", "serve"):
        init = PACKAGE / package / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), package


def test_no_import_points_up_the_stages() -> None:
    upward = [
        f"{module} ({STAGES[_stage(module)][0]}) imports {target} ({STAGES[_stage(target)][0]})"
        for module, imported in _graph().items()
        for target in imported
        if _stage(target) > _stage(module)
    ]
    assert upward == []


def test_the_surfaces_use_the_engine_through_the_front_door() -> None:
    """REST, OpenAI, MCP, the chat and the command line stand where an outside developer
    stands: on ``briefqa`` and the foundation, never on the index or answer modules."""
    for module, imported in _graph().items():
        if _stage(module) > ENGINE:
            inside = {
                m
                for m in imported
                if m != "briefqa" and _stage(m) != 0 and not m.startswith("briefqa.serve")
            }
            assert inside == set(), (module, inside)


def test_functions_stay_readable_in_one_sitting() -> None:
    """No function over 120 lines, and the engine's facade under 300: past that a
    newcomer cannot hold one in mind (docs/architecture.md)."""
    long = [
        f"{path.relative_to(PACKAGE)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > 120
    ]
    assert long == []
    assert len((PACKAGE / "engine.py").read_text().splitlines()) <= 300

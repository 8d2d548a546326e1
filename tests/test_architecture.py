"""The package's layers import downwards only: errors, io <- data <- model <- analysis <- plots <- cli.

Read from the source with :mod:`ast`, so an upward import anywhere (also inside a function)
fails here, and so does a private name imported from another module, an import cycle among the
package's modules (also inside a layer), and a function over MAX_FUNCTION_LINES lines that is not
in LONG_FUNCTIONS.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ladderfit

ROOT = Path(ladderfit.__file__).parent
LAYERS = {"errors": 0, "io": 0, "data": 1, "model": 2, "analysis": 3, "plots": 4, "cli": 5}


def _layer(module: str) -> int | None:
    """Layer of a dotted module inside ladderfit (``ladderfit.model.spec`` -> 2)."""
    parts = module.split(".")
    if parts[0] != "ladderfit" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) of every import in a file of the package."""
    package = ["ladderfit", *path.relative_to(ROOT).with_suffix("").parts]
    if path.name != "__init__.py":
        package = package[:-1]
    else:
        package = package[:-1] if package[-1] == "__init__" else package
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.append((module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
    return out


FILES = sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT or p.stem in LAYERS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_down_the_layers(path):
    own = _layer("ladderfit." + ".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert own is not None, f"{path} is in no layer"
    for module, names, line in _imports(path):
        target = _layer(module)
        if target is None:
            assert not module.startswith("ladderfit") or module == "ladderfit", f"{path}:{line} imports {module}"
            continue
        assert target <= own, f"{path.relative_to(ROOT)}:{line} imports {module} from a higher layer"
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{path.relative_to(ROOT)}:{line} imports private {private} from {module}"


def test_package_layers_exist_and_public_api_stays():
    for layer, level in LAYERS.items():
        assert (ROOT / layer / "__init__.py").exists() if level else (ROOT / f"{layer}.py").exists()
    for name in ("fit", "load", "backtest", "variance", "read_tidy", "read_lm_eval", "load_olmo_ladder", "ModelSpec"):
        assert callable(getattr(ladderfit, name))
    # functions do not shadow modules: the modules have their own names
    import ladderfit.analysis.backtest as backtest_module
    import ladderfit.analysis.variance as variance_module

    assert backtest_module.backtest is ladderfit.backtest and variance_module.variance is ladderfit.variance


def _module_name(path: Path) -> str:
    """Dotted name of a file of the package (``model/bayes.py`` -> ``ladderfit.model.bayes``)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("ladderfit", *parts))


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (also inside functions).

    ``from PKG import x`` is an edge to the module ``PKG.x`` where there is one (``from . import
    results``), else to ``PKG`` itself (a name its ``__init__`` defines or re-exports). Importing
    ``a.b.c`` also runs the parents' ``__init__`` files; those implicit edges are left out, or every
    package would be a cycle through its own ``__init__``.
    """
    modules = {_module_name(p) for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        edges = set()
        for module, names, _ in _imports(path):
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            edges.update(submodules)
            if module in modules and (not names or len(submodules) < len(names)):
                edges.add(module)
        me = _module_name(path)
        graph[me] = edges - {me}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path back to its start) for each strongly connected set of modules larger than one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for component in components:
        if len(component) < 2:
            continue
        start = min(component)
        path, seen = [start], {start}
        while True:  # walk inside the component until a module repeats
            nxt = min(w for w in graph[path[-1]] if w in component)
            if nxt in seen:
                cycles.append(path[path.index(nxt):] + [nxt])
                break
            path.append(nxt)
            seen.add(nxt)
    return cycles


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = _import_graph()
    assert graph["ladderfit.model.bayes"] >= {"ladderfit.model.runtime"}  # the graph sees the package's imports
    assert "ladderfit.plots" in graph["ladderfit.cli.plot"]  # `from .. import plots` is an edge to the module
    cycles = _cycles(graph)
    assert not cycles, "import cycles among the package's modules: " + "; ".join(" -> ".join(c) for c in cycles)


MAX_FUNCTION_LINES = 60

#: Functions longer than MAX_FUNCTION_LINES today, each with why it stays long for now (none).
LONG_FUNCTIONS: dict[str, str] = {}


def _function_lengths() -> dict[str, int]:
    """``path:qualified.name`` -> lines from ``def`` to the end of the body, less the docstring."""
    out: dict[str, int] = {}

    def walk(node: ast.AST, prefix: str, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                lines = child.end_lineno - child.lineno + 1
                first = child.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                    lines -= first.end_lineno - first.lineno + 1
                out[f"{where}:{name}"] = lines
                walk(child, name + ".", where)
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".", where)
            else:
                walk(child, prefix, where)

    for path in FILES:
        walk(ast.parse(path.read_text()), "", path.relative_to(ROOT).as_posix())
    return out


def test_functions_are_short():
    lengths = _function_lengths()
    long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    new = {name: n for name, n in long.items() if name not in LONG_FUNCTIONS}
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines (split them): {new}"
    stale = sorted(set(LONG_FUNCTIONS) - set(long))
    assert not stale, f"allow-listed functions now short or gone; drop them from LONG_FUNCTIONS: {stale}"

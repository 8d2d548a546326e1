"""The package's layers import downwards only: errors, io <- data <- model <- analysis <- plots <- cli.

Read from the source with :mod:`ast`, so an upward import anywhere (also inside a function)
fails here, and so does a private name imported from another module.
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

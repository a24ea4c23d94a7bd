"""The core's packages import one way only: graph -> patterns -> scoring -> running -> studies -> the
public surfaces (``api``, ``plugin_api``, ``testing``) -> the CLI.

Each package's docstring says what it may import; this test reads every module's imports
(statically, so nothing is executed) and fails on one that reaches upstream. Imports under
``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

import ast
from pathlib import Path

import pytest

import swapfw

ROOT = Path(swapfw.__file__).parent

#: package -> its layer; a module may import its own layer and any lower one
LAYERS = {"base": 0, "graph": 1, "patterns": 2, "scoring": 3, "running": 4, "studies": 5, "surface": 6, "cli": 7}
#: top-level modules that every layer may use (errors, the plugin registry, the contracts, option values,
#: the spaces' building blocks)
BASE = {"errors", "version", "hookspecs", "contracts", "plugins", "options", "building_blocks", "waits"}
#: the public surfaces: the Python API, the plugin author's module and the conformance kit
SURFACE = {"api", "plugin_api", "testing"}


def _layer(module: str) -> str:
    """``swapfw.graph.ir`` -> graph; top-level modules are base, the CLI and package root on top."""
    parts = module.split(".")
    if len(parts) == 1:
        return "cli"  # the package root: its lazy public API reaches everything, so the core never imports it
    first = parts[1]
    if first in LAYERS:
        return first
    if first in BASE:
        return "base"
    if first in SURFACE:
        return "surface"
    if first in ("cli", "__main__"):
        return "cli"
    raise AssertionError(f"{module} is in no known package: add it to a layer")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = set()
    for node in ast.walk(tree):  # annotation-only imports
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module or not node.level else [f"{target}.{a.name}" for a in node.names]
            if node.module:  # ``from .x import y`` may name a submodule y of package x
                names = [f"{target}.{a.name}" if (ROOT.parent / f"{target}.{a.name}".replace(".", "/")).is_dir()
                         or (ROOT.parent / (f"{target}.{a.name}".replace(".", "/") + ".py")).is_file()
                         else target for a in node.names]
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name == "swapfw" or name.startswith("swapfw.")]


MODULES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path):
    module = _module_name(path)
    layer = LAYERS[_layer(module)]
    upstream = [f"line {line}: {name} ({_layer(name)})" for line, name in _imports(path, module)
                if LAYERS[_layer(name)] > layer]
    assert not upstream, f"{module} ({_layer(module)}) imports from a later stage: " + "; ".join(upstream)


def test_every_package_says_what_it_owns_and_may_import():
    for package in LAYERS:
        if package in ("base", "surface", "cli"):
            continue
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert "may import" in doc, f"swapfw/{package}/__init__.py should say what it may import"
